using ApiGate.Core.Routing;

namespace ApiGate.Storage.Rows;

/// <summary>
/// A row of <c>route_cors</c>: a route's CORS settings, present only for routes that allow at least one origin
/// (lists as comma-separated text, as <see cref="RouteRow.Methods"/>). <c>id</c> is the route's id.
/// </summary>
internal sealed record RouteCorsRow
{
    public string Id { get; init; } = "";
    public string Origins { get; init; } = "";
    public string Methods { get; init; } = "";
    public string Headers { get; init; } = "";
    public string ExposeHeaders { get; init; } = "";
    public bool Credentials { get; init; }
    public int MaxAge { get; init; }

    /// <summary>The row for <paramref name="r"/>, or null when the route has CORS off.</summary>
    public static RouteCorsRow? From(RouteDefinition r) => r.CorsOrigins.Count == 0 ? null : new()
    {
        Id = r.Id,
        Origins = string.Join(',', r.CorsOrigins),
        Methods = string.Join(',', r.CorsMethods),
        Headers = string.Join(',', r.CorsHeaders),
        ExposeHeaders = string.Join(',', r.CorsExposeHeaders),
        Credentials = r.CorsCredentials,
        MaxAge = r.CorsMaxAge,
    };

    /// <summary><paramref name="route"/> with these settings.</summary>
    public RouteDefinition ApplyTo(RouteDefinition route) => route with
    {
        CorsOrigins = Split(Origins),
        CorsMethods = Split(Methods),
        CorsHeaders = Split(Headers),
        CorsExposeHeaders = Split(ExposeHeaders),
        CorsCredentials = Credentials,
        CorsMaxAge = MaxAge,
    };

    private static string[] Split(string text) => text.Length == 0 ? [] : text.Split(',');
}
