using ApiGate.Core.Storage;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>admin_audit</c>.</summary>
internal sealed record AdminAuditRow
{
    public long Id { get; init; }
    public string At { get; init; } = "";
    public string Method { get; init; } = "";
    public string Path { get; init; } = "";
    public long Status { get; init; }
    public string TokenId { get; init; } = "";
    public string TokenName { get; init; } = "";
    public string ClientIp { get; init; } = "";
    public string Note { get; init; } = "";

    public static AdminAuditRow From(AdminAuditRecord r) => new()
    {
        Id = r.Id,
        At = StoredValues.Time(r.At),
        Method = r.Method,
        Path = r.Path,
        Status = r.Status,
        TokenId = r.TokenId,
        TokenName = r.TokenName,
        ClientIp = r.ClientIp,
        Note = r.Note,
    };

    public AdminAuditRecord ToRecord() => new(Id, StoredValues.Time(At), Method, Path, (int)Status, TokenId, TokenName, ClientIp, Note);
}
