using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Portal;

/// <summary>Requests on one UTC day.</summary>
internal readonly record struct DailyRequests(DateOnly Day, long Requests);

/// <summary>Requests to one route over a period.</summary>
internal readonly record struct RouteRequests(string Route, long Requests);

/// <summary>
/// What the portal's dashboard shows a customer: plan, the month against the quota, 30 days by day, top routes, and
/// the error answers of those days by code.
/// </summary>
internal sealed record PortalDashboard(
    PlanDefinition? Plan, UsageReport Month, IReadOnlyList<DailyRequests> Days, IReadOnlyList<RouteRequests> TopRoutes, IReadOnlyList<ErrorCount> Errors)
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
        var perDay = new long[Days];
        var perRoute = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var index = (int)(row.BucketStart.UtcDateTime.Date - from.UtcDateTime).TotalDays;
            if (index is >= 0 and < Days)
            {
                perDay[index] += row.Requests;
            }

            perRoute[row.RouteId] = perRoute.GetValueOrDefault(row.RouteId) + row.Requests;
        }

        var routes = (await store.ListRoutesAsync(ct)).ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);
        var top = perRoute.Where(p => p.Value > 0).OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(TopRoutes)
            .Select(p => new RouteRequests(routes.GetValueOrDefault(p.Key) ?? (p.Key.Length == 0 ? "(no route)" : p.Key), p.Value)).ToList();
        var days = Enumerable.Range(0, Days).Select(i => new DailyRequests(DateOnly.FromDateTime(from.UtcDateTime.AddDays(i)), perDay[i])).ToList();
        var month = await new UsageService(store, timeProvider).SummaryAsync(user, ct);
        return new PortalDashboard(await store.FindPlanAsync(user.PlanId, ct), month, days, top, ErrorCount.Of(rows));
    }
}
