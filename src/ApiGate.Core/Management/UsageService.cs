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

    /// <summary>The list name in a cursor of the recent events (<see cref="ListCursors"/>): the admin API's and the CLI's are the same.</summary>
    public const string RecentCursorKind = "usage-recent";

    /// <summary>
    /// The user whose usage is read: a current user, by id or email (by email only when <paramref name="emailOnly"/>);
    /// else, for an id, a deleted user whose usage the store still holds — usage is a billing record and outlives its
    /// user, so it stays readable by the id. Not found when neither.
    /// </summary>
    public async Task<ManagementResult<UsageSubject>> FindSubjectAsync(string reference, bool emailOnly, CancellationToken ct)
    {
        if (await store.FindUserAsync(reference, ct) is { } user
            && (!emailOnly || string.Equals(user.Email, reference, StringComparison.OrdinalIgnoreCase)))
        {
            return new UsageSubject(user.Id, user);
        }

        // An email names no deleted user (the row that mapped it to an id is gone); `anonymous` is no user at all.
        if (!emailOnly && !reference.Contains('@', StringComparison.Ordinal) && reference != UsageEvent.Anonymous
            && await store.HasUsageAsync(reference, ct))
        {
            return new UsageSubject(reference, null);
        }

        return new ManagementError(ManagementErrorKind.NotFound, "", emailOnly ? $"no user with email '{reference}'" : $"no user with id or email '{reference}'");
    }

    /// <summary>
    /// This calendar month (UTC) for the user; for a deleted user the plan and email are gone, so there is no quota
    /// (limit and remaining 0) beside the usage and the counter.
    /// </summary>
    public async Task<UsageReport> SummaryAsync(UsageSubject subject, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var start = QuotaPeriod.StartOf(now);
        var totals = await store.GetUsageSummaryAsync(subject.UserId, start, QuotaPeriod.ResetOf(now), ct);
        var plan = subject.User is { } user ? await store.FindPlanAsync(user.PlanId, ct) : null;
        var counter = await store.FindQuotaUsageAsync(subject.UserId, start, ct);
        var limit = plan?.RequestsPerMonth ?? 0;
        var remaining = subject.Deleted ? 0 : limit <= 0 ? -1 : Math.Max(0, limit - counter.Used);
        return new UsageReport(
            subject.UserId, subject.User?.Email ?? "", subject.User?.PlanId ?? "", totals.PeriodStart, totals.PeriodEnd, totals.Requests, totals.Units,
            totals.RequestBytes, totals.ResponseBytes, totals.Errors, limit, counter.Used, counter.Overage, remaining, subject.Deleted);
    }

    /// <summary>Totals per calendar month, newest first; <paramref name="months"/> defaults to <see cref="DefaultMonths"/>.</summary>
    public async Task<ManagementResult<IReadOnlyList<UsageSummary>>> HistoryAsync(UsageSubject user, int? months, CancellationToken ct)
    {
        var count = months ?? DefaultMonths;
        if (count is < 1 or > MaxMonths)
        {
            return Invalid("months", $"must be between 1 and {MaxMonths}");
        }

        return new ManagementResult<IReadOnlyList<UsageSummary>>(await store.GetUsageHistoryAsync(user.UserId, count, timeProvider.GetUtcNow(), ct), null);
    }

    /// <summary>The latest events, newest first; <paramref name="limit"/> defaults to <see cref="DefaultLimit"/>.</summary>
    public async Task<ManagementResult<IReadOnlyList<UsageEvent>>> RecentAsync(UsageSubject user, int? limit, CancellationToken ct)
    {
        var count = limit ?? DefaultLimit;
        if (count is < 1 or > MaxLimit)
        {
            return Invalid("limit", $"must be between 1 and {MaxLimit}");
        }

        return new ManagementResult<IReadOnlyList<UsageEvent>>(await store.GetRecentUsageAsync(user.UserId, count, ct), null);
    }

    /// <summary>
    /// One page of the latest <paramref name="limit"/> events (default <see cref="DefaultLimit"/>), newest first: the
    /// <paramref name="count"/> after the first <paramref name="offset"/>, and how many the latest <paramref name="limit"/>
    /// are. Only the page is read from the store, however large <paramref name="limit"/> is. Right after
    /// <paramref name="after"/> when given (within the window as it was on the first page).
    /// </summary>
    public async Task<ManagementResult<UsageEventPage>> RecentPageAsync(UsageSubject user, int? limit, long offset, int count, CancellationToken ct, ListCursor? after = null)
    {
        var window = limit ?? DefaultLimit;
        if (window is < 1 or > MaxLimit)
        {
            return Invalid("limit", $"must be between 1 and {MaxLimit}");
        }

        return await store.GetRecentUsagePageAsync(user.UserId, window, (int)Math.Min(offset, window), after, count, ct);
    }
}

/// <summary>
/// A user's month: totals, the plan's quota (0 = unlimited) and the enforced counter (remaining -1 = unlimited). For a
/// deleted user (<see cref="UserDeleted"/>) the email and plan are empty and the limit and remaining 0: it has no quota.
/// </summary>
public sealed record UsageReport(
    string UserId, string Email, string PlanId, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long Requests, long Units, long RequestBytes,
    long ResponseBytes, long Errors, long QuotaLimit, long QuotaUsed, long QuotaOverage, long QuotaRemaining, bool UserDeleted = false);

/// <summary>Whose usage is read: <see cref="UserId"/>, and the user itself unless it was deleted (<see cref="Deleted"/>).</summary>
public sealed record UsageSubject(string UserId, UserDefinition? User)
{
    public bool Deleted => User is null;

    public static implicit operator UsageSubject(UserDefinition user) => FromUserDefinition(user);

    public static UsageSubject FromUserDefinition(UserDefinition user) => new(user.Id, user);
}
