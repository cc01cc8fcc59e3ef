using ApiGate.Core.Usage;

namespace ApiGate.Core.Storage;

/// <summary>
/// Recorded usage (SPEC §8): raw events (kept for a retention period, or not at all) and rollups per (bucket, user, key,
/// route, status class) at minute, hour and day granularity. The gateway writes batches; <c>apigate usage</c>, the admin
/// API, charts and bills read rollups; only <see cref="GetRecentUsageAsync"/> reads raw events. Periods are half-open,
/// <c>[start, end)</c>; months are calendar months in UTC, like quota periods; rollup buckets are aligned in UTC and a
/// bucket counts in a period when its start does.
/// </summary>
/// <remarks>
/// Compaction keeps one <em>watermark</em> per coarser granularity: hour rows are complete for every hour before the hour
/// watermark, day rows for every day before the day watermark. Reads take day rows before the day watermark, hour rows
/// between the two and minute rows after the hour watermark, so no request is counted twice; pruning never deletes minute
/// rows at or after the hour watermark nor hour rows at or after the day watermark.
/// </remarks>
public interface IUsageStore
{
    /// <summary>
    /// In one transaction: appends the events <paramref name="rawEvents"/> keeps a row for, adds them to the minute
    /// rollups (and to the hour and day rollups of buckets already compacted, for late events), and adds each
    /// authenticated event's <see cref="UsageEvent.Units"/> to its user's quota counter for the calendar month of its
    /// timestamp, with the overage read off that counter (<see cref="UsageAggregate.CountOverage"/>) and queued for billing:
    /// all of it is stored, or none, so events, rollups, quota and billed overage agree.
    /// </summary>
    Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken cancellationToken);

    /// <summary>Stores the events with the default raw rows, <see cref="RawUsageEvents.Callers"/> (see <see cref="AddUsageEventsAsync(IReadOnlyList{UsageEvent}, RawUsageEvents, CancellationToken)"/>).</summary>
    Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken) =>
        AddUsageEventsAsync(events, RawUsageEvents.Callers, cancellationToken);

    /// <summary>The user's totals for buckets with <paramref name="periodStart"/> ≤ bucket start &lt; <paramref name="periodEnd"/>, from rollups.</summary>
    Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken);

    /// <summary>
    /// One summary per calendar month (UTC), newest first: the month containing <paramref name="now"/> and the
    /// <paramref name="months"/> - 1 before it, from rollups. Months without usage are included with zero totals.
    /// </summary>
    Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Whether anything is stored for <paramref name="userId"/>: a raw event, a rollup row or a quota counter. Usage
    /// outlives its user, so this is how a deleted user's id is told from one that never made a request.
    /// </summary>
    Task<bool> HasUsageAsync(string userId, CancellationToken cancellationToken);

    /// <summary>The user's last <paramref name="limit"/> raw events, newest first (only what retention has kept).</summary>
    Task<IReadOnlyList<UsageEvent>> GetRecentUsageAsync(string userId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// One page of the user's last <paramref name="limit"/> raw events, newest first: at most <paramref name="count"/>
    /// of them after the first <paramref name="offset"/> (fewer at the end of those <paramref name="limit"/>), or right
    /// after <paramref name="after"/> (offset 0) within the window as it was on the first page, and how many there are in
    /// all (at most <paramref name="limit"/>), with the cursor of the page that follows. Only the page's rows are read.
    /// </summary>
    Task<UsageEventPage> GetRecentUsagePageAsync(string userId, int limit, int offset, ListCursor? after, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Every user's rollup rows of one granularity with <paramref name="from"/> ≤ bucket start &lt; <paramref name="to"/>,
    /// summed per bucket and status class (user, key and route ids empty), oldest first: gateway-wide series for charts
    /// (requests per minute, errors by class, the latency histogram), right for any number of instances sharing the store.
    /// </summary>
    Task<IReadOnlyList<UsageRollup>> GetGatewayUsageSeriesAsync(UsageGranularity granularity, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>
    /// Every user's totals over [<paramref name="from"/>, <paramref name="to"/>) from rollups (each bucket counted once
    /// across minute, hour and day rows, as in <see cref="GetUsageSummaryAsync"/>), summed per user or per route, the
    /// <paramref name="limit"/> largest by units first (then by requests, then by id).
    /// </summary>
    Task<IReadOnlyList<UsageLeader>> GetUsageLeadersAsync(UsageDimension by, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Compacts, in one transaction, the next at most <paramref name="maxBuckets"/> whole buckets of <paramref name="into"/>
    /// (<see cref="UsageGranularity.Hour"/> from minute rows, <see cref="UsageGranularity.Day"/> from hour rows) that end at
    /// or before <paramref name="before"/> (and, for days, before the hour watermark), and advances the watermark (past empty
    /// stretches at once). Returns how many buckets were compacted; 0 when there is nothing left to compact.
    /// </summary>
    Task<int> CompactUsageAsync(UsageGranularity into, DateTimeOffset before, int maxBuckets, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes, in one short transaction, at most <paramref name="maxRows"/> rows of <paramref name="data"/> older than
    /// <paramref name="before"/> (raw events by timestamp, rollups by bucket start; rollups never at or after the watermark
    /// that makes them the ones read). Returns how many were deleted; fewer than <paramref name="maxRows"/> means done.
    /// </summary>
    Task<int> PruneUsageAsync(UsageData data, DateTimeOffset before, int maxRows, CancellationToken cancellationToken);

    /// <summary>The compaction watermarks: hour rows are complete before <see cref="UsageWatermarks.Hours"/>, day rows before <see cref="UsageWatermarks.Days"/>.</summary>
    Task<UsageWatermarks> GetUsageWatermarksAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The user's rollup rows over [<paramref name="from"/>, <paramref name="to"/>), each request once: day rows before
    /// the day watermark, hour rows up to the hour watermark, minute rows after it (<see cref="UserUsageRows.Ranges"/>).
    /// The watermarks and the rows are read in one snapshot, so a compaction (or a prune after it) committed meanwhile
    /// counts no period twice and none not at all.
    /// </summary>
    Task<IReadOnlyList<UsageRollup>> GetUserUsageRowsAsync(string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}

/// <summary>What <see cref="IUsageStore.PruneUsageAsync"/> deletes.</summary>
public enum UsageData
{
    RawEvents,
    MinuteRollups,
    HourRollups,
    DayRollups,
}

/// <summary>Where compaction has got to (see <see cref="IUsageStore"/>); the Unix epoch when nothing has been compacted yet.</summary>
public readonly record struct UsageWatermarks(DateTimeOffset Hours, DateTimeOffset Days);

/// <summary>
/// A user's usage totals over a period. <see cref="Errors"/> counts responses with status ≥ 500 (the upstream or the
/// gateway failed); 4xx responses are the caller's mistakes and count only as requests.
/// </summary>
public sealed record UsageSummary(
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    long Requests,
    long Units,
    long RequestBytes,
    long ResponseBytes,
    long Errors);

/// <summary>What <see cref="IUsageStore.GetUsageLeadersAsync"/> sums usage by.</summary>
public enum UsageDimension
{
    /// <summary>Per user id (empty: requests on public routes).</summary>
    User,

    /// <summary>Per route id.</summary>
    Route,
}

/// <summary>One user's or route's totals over a period (<see cref="IUsageStore.GetUsageLeadersAsync"/>); errors are 5xx answers.</summary>
public sealed record UsageLeader(string Id, long Requests, long Units, long Errors);

/// <summary>
/// A page of a user's recent raw events, newest first, <see cref="Total"/>: how many the whole window holds, and
/// <see cref="Next"/>: where the page after it starts (null when the window ends here).
/// </summary>
public sealed record UsageEventPage(IReadOnlyList<UsageEvent> Events, int Total, ListCursor? Next = null);
