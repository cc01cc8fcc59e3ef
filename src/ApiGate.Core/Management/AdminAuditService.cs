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

    /// <summary>The list name in a cursor of the trail (<see cref="ListCursors"/>): the admin API's and the CLI's are the same.</summary>
    public const string CursorKind = "audit";

    /// <summary>The newest <paramref name="limit"/> changes (default <see cref="DefaultLimit"/>), newest first.</summary>
    public async Task<ManagementResult<IReadOnlyList<AdminAuditRecord>>> RecentAsync(int? limit, CancellationToken ct) =>
        BadLimit(limit) ?? new ManagementResult<IReadOnlyList<AdminAuditRecord>>(await store.ListAdminAuditAsync(limit ?? DefaultLimit, ct), null);

    /// <summary>
    /// One page of the newest <paramref name="limit"/> changes (default <see cref="DefaultLimit"/>), newest first: the
    /// <paramref name="count"/> after the first <paramref name="offset"/>, or right after <paramref name="after"/> (within
    /// the window as it was on the first page). Only the page is read from the store.
    /// </summary>
    public async Task<ManagementResult<StorePage<AdminAuditRecord>>> RecentPageAsync(int? limit, long offset, int count, CancellationToken ct, ListCursor? after = null)
    {
        var window = limit ?? DefaultLimit;
        return BadLimit(limit) ?? new ManagementResult<StorePage<AdminAuditRecord>>(
            await store.ListAdminAuditPageAsync(window, (int)Math.Min(offset, window), after, count, ct), null);
    }

    private static ManagementError? BadLimit(int? limit) =>
        limit is < 1 or > MaxLimit ? Invalid("limit", $"must be between 1 and {MaxLimit}") : null;
}
