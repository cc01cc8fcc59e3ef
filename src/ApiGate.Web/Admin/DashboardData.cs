using System.Globalization;
using ApiGate.Core.Identity;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Web.Admin;

/// <summary>
/// What the dashboard shows, read in one go: usage from the store (every instance's traffic: the series of the last
/// hour from minute rollups, this month's leaders, quota use), and this instance's own live state, labelled as such.
/// </summary>
internal sealed class DashboardData(IGatewayStore store, SnapshotManager snapshots, TargetRegistry targets, AdminSessions sessions, TimeProvider timeProvider)
{
    /// <summary>How many leaders (users, routes) the dashboard lists.</summary>
    public const int Leaders = 10;

    /// <summary>A user is "near" their quota from this share of it.</summary>
    public const double NearQuota = 0.8;

    /// <summary>How many users near their quota the dashboard lists (the largest shares).</summary>
    public const int NearQuotaListed = 20;

    private static readonly DateTimeOffset ProcessStarted = new(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime(), TimeSpan.Zero);

    public async Task<DashboardView> LoadAsync(CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var end = DateTimeOffset.FromUnixTimeSeconds(UsageAggregate.MinuteOf(now)).AddMinutes(1);
        var start = end.AddMinutes(-60);
        var month = QuotaPeriod.StartOf(now);

        var series = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, start, end, ct);
        var topUsers = await store.GetUsageLeadersAsync(UsageDimension.User, month, month.AddMonths(1), Leaders + 1, ct);
        var topRoutes = await store.GetUsageLeadersAsync(UsageDimension.Route, month, month.AddMonths(1), Leaders, ct);
        var nearQuotaUse = await store.ListUsersNearQuotaAsync(month, NearQuota, NearQuotaListed, ct);
        var plans = (await store.ListPlansAsync(ct)).ToDictionary(p => p.Id, StringComparer.Ordinal);
        var routes = (await store.ListRoutesAsync(ct)).ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);
        var users = new Dictionary<string, UserDefinition>(StringComparer.Ordinal); // only the users shown
        foreach (var id in nearQuotaUse.Select(q => q.UserId).Concat(topUsers.Select(l => l.Id)).Where(id => id.Length > 0 && id != UsageEvent.Anonymous))
        {
            if (!users.ContainsKey(id) && await store.FindUserAsync(id, ct) is { } user)
            {
                users[id] = user;
            }
        }

        var openSessions = await sessions.CountAsync(ct);

        var minutes = new MinutePoint[60];
        for (var i = 0; i < minutes.Length; i++)
        {
            minutes[i] = new MinutePoint(start.AddMinutes(i), new long[UsageLatencyBuckets.Count]);
        }

        var byClass = new long[10];
        var byCode = new Dictionary<string, long>(StringComparer.Ordinal);
        var hourHistogram = new long[UsageLatencyBuckets.Count];
        foreach (var row in series)
        {
            var index = (int)((row.BucketStart - start).Ticks / TimeSpan.TicksPerMinute);
            if (index < 0 || index >= minutes.Length)
            {
                continue;
            }

            var point = minutes[index];
            point.Requests += row.Requests;
            if (row.ErrorLabel is { } code)
            {
                point.Errors += row.Requests;
                byCode[code] = byCode.GetValueOrDefault(code) + row.Requests;
            }

            LatencyPercentiles.Add(point.Histogram, row.LatencyBuckets);
            LatencyPercentiles.Add(hourHistogram, row.LatencyBuckets);
            byClass[Math.Clamp(row.StatusClass, 0, 9)] += row.Requests;
        }

        var nearQuota = new List<QuotaUse>();
        foreach (var usage in nearQuotaUse)
        {
            if (users.TryGetValue(usage.UserId, out var user) && plans.TryGetValue(user.PlanId, out var plan) && plan.RequestsPerMonth > 0)
            {
                nearQuota.Add(new QuotaUse(user, plan, usage.Used, (double)usage.Used / plan.RequestsPerMonth));
            }
        }

        nearQuota.Sort((a, b) => b.Share.CompareTo(a.Share));
        var snapshot = snapshots.Current;
        var statuses = targets.Statuses();
        return new DashboardView(
            now,
            minutes,
            byClass,
            ErrorCount.MostFirst(byCode),
            LatencyPercentiles.Of(hourHistogram, 0.5),
            LatencyPercentiles.Of(hourHistogram, 0.99),
            [.. topUsers.Where(l => l.Id.Length > 0 && l.Id != UsageEvent.Anonymous).Take(Leaders).Select(l => new Leader(users.TryGetValue(l.Id, out var u) ? u.Email : l.Id + " (deleted)", l))],
            [.. topRoutes.Select(l => new Leader(l.Id.Length == 0 ? "(default upstream)" : routes.GetValueOrDefault(l.Id, l.Id), l))],
            nearQuota,
            new InstanceState(ProcessStarted, snapshot?.Version ?? 0, snapshot?.Routes.Routes.Count ?? 0, snapshots.ReloadFailures,
                statuses.Count(s => s.Health == TargetHealth.Healthy), statuses.Count, openSessions));
    }
}

/// <summary>The dashboard's figures (<see cref="DashboardData"/>).</summary>
internal sealed record DashboardView(
    DateTimeOffset Now,
    IReadOnlyList<MinutePoint> Minutes,
    IReadOnlyList<long> RequestsByClass,
    IReadOnlyList<ErrorCount> ErrorsByCode,
    double? P50Ms,
    double? P99Ms,
    IReadOnlyList<Leader> TopUsers,
    IReadOnlyList<Leader> TopRoutes,
    IReadOnlyList<QuotaUse> NearQuota,
    InstanceState Instance)
{
    public long Requests => Minutes.Sum(m => m.Requests);

    public long Errors => Minutes.Sum(m => m.Errors);

    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;
}

/// <summary>One minute of the last hour, all instances.</summary>
internal sealed class MinutePoint(DateTimeOffset start, long[] histogram)
{
    public DateTimeOffset Start { get; } = start;

    public long Requests { get; set; }

    /// <summary>4xx and 5xx answers.</summary>
    public long Errors { get; set; }

    public long[] Histogram { get; } = histogram;
}

internal sealed record Leader(string Label, UsageLeader Totals);

internal sealed record QuotaUse(UserDefinition User, PlanDefinition Plan, long Used, double Share);

/// <summary>This gateway process's own state (not the cluster's).</summary>
internal sealed record InstanceState(DateTimeOffset Started, long ConfigVersion, int Routes, long ReloadFailures, int HealthyTargets, int Targets, int Sessions);
