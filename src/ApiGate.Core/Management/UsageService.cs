using ApiGate.Core.Identity;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// Usage queries for one user (SPEC §8), shared by <c>apigate usage</c> and the admin API: the month's totals beside the
/// plan's quota and the enforced counter, totals per month, and the latest events. Limits are checked here.
/// </summary>
public sealed class UsageService(IGatewayStore store, TimeProvider timeProvider)
{
    public const int DefaultMonths = 6;
    public const int MaxMonths = 120;
    public const int DefaultLimit = 20;
    public const int MaxLimit = 10_000;

    /// <summary>This calendar month (UTC) for the user.</summary>
    public async Task<UsageReport> SummaryAsync(UserDefinition user, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var start = QuotaPeriod.StartOf(now);
        var totals = await store.GetUsageSummaryAsync(user.Id, start, QuotaPeriod.ResetOf(now), ct);
        var plan = await store.FindPlanAsync(user.PlanId, ct);
        var counter = await store.FindQuotaUsageAsync(user.Id, start, ct);
        var limit = plan?.RequestsPerMonth ?? 0;
        var remaining = limit <= 0 ? -1 : Math.Max(0, limit - counter.Used);
        return new UsageReport(
            user.Id, user.Email, user.PlanId, totals.PeriodStart, totals.PeriodEnd, totals.Requests, totals.Units, totals.RequestBytes, totals.ResponseBytes,
            totals.Errors, limit, counter.Used, counter.Overage, remaining);
    }

    /// <summary>Totals per calendar month, newest first; <paramref name="months"/> defaults to <see cref="DefaultMonths"/>.</summary>
    public async Task<ManagementResult<IReadOnlyList<UsageSummary>>> HistoryAsync(UserDefinition user, int? months, CancellationToken ct)
    {
        var count = months ?? DefaultMonths;
        if (count is < 1 or > MaxMonths)
        {
            return Invalid("months", $"must be between 1 and {MaxMonths}");
        }

        return new ManagementResult<IReadOnlyList<UsageSummary>>(await store.GetUsageHistoryAsync(user.Id, count, timeProvider.GetUtcNow(), ct), null);
    }

    /// <summary>The latest events, newest first; <paramref name="limit"/> defaults to <see cref="DefaultLimit"/>.</summary>
    public async Task<ManagementResult<IReadOnlyList<UsageEvent>>> RecentAsync(UserDefinition user, int? limit, CancellationToken ct)
    {
        var count = limit ?? DefaultLimit;
        if (count is < 1 or > MaxLimit)
        {
            return Invalid("limit", $"must be between 1 and {MaxLimit}");
        }

        return new ManagementResult<IReadOnlyList<UsageEvent>>(await store.GetRecentUsageAsync(user.Id, count, ct), null);
    }

    /// <summary>
    /// One page of the latest <paramref name="limit"/> events (default <see cref="DefaultLimit"/>), newest first: the
    /// <paramref name="count"/> after the first <paramref name="offset"/>, and how many the latest <paramref name="limit"/>
    /// are. Only the page is read from the store, however large <paramref name="limit"/> is.
    /// </summary>
    public async Task<ManagementResult<UsageEventPage>> RecentPageAsync(UserDefinition user, int? limit, long offset, int count, CancellationToken ct)
    {
        var window = limit ?? DefaultLimit;
        if (window is < 1 or > MaxLimit)
        {
            return Invalid("limit", $"must be between 1 and {MaxLimit}");
        }

        return await store.GetRecentUsagePageAsync(user.Id, window, (int)Math.Min(offset, window), count, ct);
    }
}

/// <summary>A user's month: totals, the plan's quota (0 = unlimited) and the enforced counter (remaining -1 = unlimited).</summary>
public sealed record UsageReport(
    string UserId, string Email, string PlanId, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long Requests, long Units, long RequestBytes,
    long ResponseBytes, long Errors, long QuotaLimit, long QuotaUsed, long QuotaOverage, long QuotaRemaining);
