using ApiGate.Core.Storage;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <see cref="Usage.UsageSql.Leaders"/> (settable: SQLite reports no column types for an empty result).</summary>
internal sealed record UsageLeaderRow
{
    public string Id { get; init; } = "";
    public long Requests { get; init; }
    public long Units { get; init; }
    public long Errors { get; init; }

    public UsageLeader ToDefinition() => new(Id, Requests, Units, Errors);
}
