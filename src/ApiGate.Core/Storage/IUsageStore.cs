using ApiGate.Core.Usage;

namespace ApiGate.Core.Storage;

/// <summary>
/// Recorded usage events (SPEC §8): written in batches by the gateway, read by <c>apigate usage</c> and the admin API.
/// Periods are half-open, <c>[start, end)</c>; months are calendar months in UTC, like quota periods.
/// </summary>
public interface IUsageStore
{
    /// <summary>
    /// Appends the events and, in the same transaction, adds each authenticated event's <see cref="UsageEvent.Units"/>
    /// (and <see cref="UsageEvent.OverageUnits"/>) to its user's quota counter for the calendar month of its timestamp:
    /// all of it is stored, or none, so stored usage and stored quota units always agree.
    /// </summary>
    Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken);

    /// <summary>The user's totals for events with <paramref name="periodStart"/> ≤ timestamp &lt; <paramref name="periodEnd"/>.</summary>
    Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken);

    /// <summary>
    /// One summary per calendar month (UTC), newest first: the month containing <paramref name="now"/> and the
    /// <paramref name="months"/> - 1 before it. Months without events are included with zero totals.
    /// </summary>
    Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The user's last <paramref name="limit"/> events, newest first.</summary>
    Task<IReadOnlyList<UsageEvent>> GetRecentUsageAsync(string userId, int limit, CancellationToken cancellationToken);
}

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
