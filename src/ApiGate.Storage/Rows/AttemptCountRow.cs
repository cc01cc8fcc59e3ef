using ApiGate.Core.Storage;

namespace ApiGate.Storage.Rows;

/// <summary>The two columns of <c>attempt_counts</c> a count is read from.</summary>
internal sealed record AttemptCountRow
{
    public long Attempts { get; init; }
    public string WindowStart { get; init; } = "";

    public AttemptCount ToCount() => new((int)Attempts, StoredValues.Time(WindowStart));
}
