using System.Text.Json;
using ApiGate.Core.Routing;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>routes</c>: methods as comma-separated text, header conditions as a JSON object.</summary>
internal sealed record RouteRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Slug { get; init; } = "";
    public string Description { get; init; } = "";
    public string HostPattern { get; init; } = "";
    public string HostMatchType { get; init; } = "";
    public string PathPattern { get; init; } = "";
    public string MatchType { get; init; } = "";
    public string Methods { get; init; } = "";
    public string Headers { get; init; } = "{}";
    public string? UpstreamId { get; init; }
    public string PathRewrite { get; init; } = "";
    public string MethodOverride { get; init; } = "";
    public string RequestTransform { get; init; } = "";
    public string ResponseTransform { get; init; } = "";
    public string Protocol { get; init; } = "";
    public string MeteringMode { get; init; } = "";
    public string MeteringExpr { get; init; } = "";
    public bool AuthRequired { get; init; }
    public int Priority { get; init; }
    public bool Enabled { get; init; }
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    public static RouteRow From(RouteDefinition r) => new()
    {
        Id = r.Id,
        Name = r.Name,
        Slug = r.Slug,
        Description = r.Description,
        HostPattern = r.HostPattern,
        HostMatchType = StoredValues.Enum(r.HostMatchType),
        PathPattern = r.PathPattern,
        MatchType = StoredValues.Enum(r.MatchType),
        Methods = string.Join(',', r.Methods),
        Headers = JsonSerializer.Serialize(r.Headers),
        UpstreamId = r.UpstreamId,
        PathRewrite = r.PathRewrite,
        MethodOverride = r.MethodOverride,
        RequestTransform = r.RequestTransform,
        ResponseTransform = r.ResponseTransform,
        Protocol = StoredValues.Enum(r.Protocol),
        MeteringMode = StoredValues.Enum(r.MeteringMode),
        MeteringExpr = r.MeteringExpr,
        AuthRequired = r.AuthRequired,
        Priority = r.Priority,
        Enabled = r.Enabled,
        CreatedAt = StoredValues.Time(r.CreatedAt),
        UpdatedAt = StoredValues.Time(r.UpdatedAt),
    };

    public RouteDefinition ToDefinition() => new()
    {
        Id = Id,
        Name = Name,
        Slug = Slug,
        Description = Description,
        HostPattern = HostPattern,
        HostMatchType = StoredValues.Enum<HostMatchType>(HostMatchType),
        PathPattern = PathPattern,
        MatchType = StoredValues.Enum<PathMatchType>(MatchType),
        Methods = Methods.Length == 0 ? [] : Methods.Split(','),
        Headers = JsonSerializer.Deserialize<Dictionary<string, string>>(Headers) ?? [],
        UpstreamId = UpstreamId,
        PathRewrite = PathRewrite,
        MethodOverride = MethodOverride,
        RequestTransform = RequestTransform,
        ResponseTransform = ResponseTransform,
        Protocol = StoredValues.Enum<RouteProtocol>(Protocol),
        MeteringMode = StoredValues.Enum<MeteringMode>(MeteringMode),
        MeteringExpr = MeteringExpr,
        AuthRequired = AuthRequired,
        Priority = Priority,
        Enabled = Enabled,
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
    };
}
