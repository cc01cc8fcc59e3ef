using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Portal;

/// <summary>Requests and the metered units they cost (SPEC §8) on one UTC day.</summary>
internal readonly record struct DailyUsage(DateOnly Day, long Requests, long Units);

/// <summary>Requests to one route over a period, and the metered units they cost.</summary>
internal readonly record struct RouteUsage(string Route, long Requests, long Units);

/// <summary>
/// What the portal's dashboard shows a customer: plan, the month against the quota, 30 days by day, top routes, and
/// the error answers of those days by code. <see cref="UnitsDiffer"/> says whether the customer's units (what the
/// quota counts) differ from their requests anywhere in the month or the 30 days — only then are units shown beside
/// requests, since with every route metering one unit per request they are the same numbers.
/// </summary>
internal sealed record PortalDashboard(
    PlanDefinition? Plan, UsageReport Month, IReadOnlyList<DailyUsage> Days, IReadOnlyList<RouteUsage> TopRoutes, IReadOnlyList<ErrorCount> Errors, bool UnitsDiffer)
{
    public long Requests => Days.Sum(d => d.Requests);
}

/// <summary>A customer's usage for the portal, from the same rollups as <c>apigate usage</c> and the admin API (<see cref="UserUsageRows"/>).</summary>
internal sealed class PortalUsage(IGatewayStore store, TimeProvider timeProvider)
{
    /// <summary>Days in the dashboard's chart, today included.</summary>
    public const int Days = 30;

    /// <summary>Routes in the dashboard's top list.</summary>
    public const int TopRoutes = 5;

    public async Task<PortalDashboard> DashboardAsync(UserDefinition user, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var from = today.AddDays(-(Days - 1));
        var to = today.AddDays(1);
        var rows = await UserUsageRows.ReadAsync(store, user.Id, from, to, ct);
        var perDay = new (long Requests, long Units)[Days];
        var perRoute = new Dictionary<string, (long Requests, long Units)>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var index = (int)(row.BucketStart.UtcDateTime.Date - from.UtcDateTime).TotalDays;
            if (index is >= 0 and < Days)
            {
                perDay[index] = (perDay[index].Requests + row.Requests, perDay[index].Units + row.Units);
            }

            var route = perRoute.GetValueOrDefault(row.RouteId);
            perRoute[row.RouteId] = (route.Requests + row.Requests, route.Units + row.Units);
        }

        var routes = (await store.ListRoutesAsync(ct)).ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);
        // By units first: what the quota counts is what a customer watching it wants on top; with one unit per request
        // this is the order by requests.
        var top = perRoute.Where(p => p.Value.Requests > 0 || p.Value.Units > 0)
            .OrderByDescending(p => p.Value.Units).ThenByDescending(p => p.Value.Requests).ThenBy(p => p.Key, StringComparer.Ordinal).Take(TopRoutes)
            .Select(p => new RouteUsage(routes.GetValueOrDefault(p.Key) ?? (p.Key.Length == 0 ? "(no route)" : p.Key), p.Value.Requests, p.Value.Units)).ToList();
        var days = Enumerable.Range(0, Days).Select(i => new DailyUsage(DateOnly.FromDateTime(from.UtcDateTime.AddDays(i)), perDay[i].Requests, perDay[i].Units)).ToList();
        var month = await new UsageService(store, timeProvider).SummaryAsync(user, ct);
        // Per route, not per day: a route of two units and one of none can cancel out in a day's sums.
        var unitsDiffer = month.Units != month.Requests || perRoute.Values.Any(r => r.Units != r.Requests);
        return new PortalDashboard(await store.FindPlanAsync(user.PlanId, ct), month, days, top, ErrorCount.Of(rows), unitsDiffer);
    }
}
