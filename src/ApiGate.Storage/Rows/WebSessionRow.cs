using ApiGate.Core.Identity;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>web_sessions</c>: the hash of a session cookie, never the cookie.</summary>
internal sealed record WebSessionRow
{
    public string Id { get; init; } = "";
    public string Kind { get; init; } = "";
    public string SubjectId { get; init; } = "";
    public string Binding { get; init; } = "";
    public string CreatedAt { get; init; } = "";
    public string LastSeenAt { get; init; } = "";

    public static WebSessionRow From(WebSession s) => new()
    {
        Id = s.Id,
        Kind = StoredValues.Enum(s.Kind),
        SubjectId = s.SubjectId,
        Binding = s.Binding,
        CreatedAt = StoredValues.Time(s.CreatedAt),
        LastSeenAt = StoredValues.Time(s.LastSeenAt),
    };

    public WebSession ToDefinition() => new(
        Id, StoredValues.Enum<WebSessionKind>(Kind), SubjectId, Binding, StoredValues.Time(CreatedAt), StoredValues.Time(LastSeenAt));
}
