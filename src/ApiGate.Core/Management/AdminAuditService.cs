using ApiGate.Core.Storage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Reads the admin audit trail (every instance's admitted changes) for the CLI and the admin API, with one rule for the limit.</summary>
public sealed class AdminAuditService(IAdminAuditStore store)
{
    /// <summary>How many changes when no limit is given.</summary>
    public const int DefaultLimit = 50;

    /// <summary>The most changes one read returns.</summary>
    public const int MaxLimit = 10_000;

    /// <summary>The newest <paramref name="limit"/> changes (default <see cref="DefaultLimit"/>), newest first.</summary>
    public async Task<ManagementResult<IReadOnlyList<AdminAuditRecord>>> RecentAsync(int? limit, CancellationToken ct)
    {
        var count = limit ?? DefaultLimit;
        if (count is < 1 or > MaxLimit)
        {
            return Invalid("limit", $"must be between 1 and {MaxLimit}");
        }

        return new ManagementResult<IReadOnlyList<AdminAuditRecord>>(await store.ListAdminAuditAsync(count, ct), null);
    }
}
