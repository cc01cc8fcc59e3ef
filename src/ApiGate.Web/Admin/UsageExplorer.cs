using ApiGate.Core.Storage;
using ApiGate.Core.Usage;

namespace ApiGate.Web.Admin;

/// <summary>One user's usage per day, per route and per error code over the last days, from the stored rollups of every instance.</summary>
internal sealed class UsageExplorer(IGatewayStore store, TimeProvider timeProvider)
{
    public async Task<UserUsage> LoadAsync(string userId, int days, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var end = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(1);
        var start = end.AddDays(-days);
        var rows = await UserUsageRows.ReadAsync(store, userId, start, end, ct);

        var perDay = new long[days];
        var unitsPerDay = new long[days];
        var perRoute = new Dictionary<string, (long Requests, long Units, long Errors)>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var day = (int)((row.BucketStart - start).Ticks / TimeSpan.TicksPerDay);
            if (day >= 0 && day < days)
            {
                perDay[day] += row.Requests;
                unitsPerDay[day] += row.Units;
            }

            var route = perRoute.GetValueOrDefault(row.RouteId);
            perRoute[row.RouteId] = (route.Requests + row.Requests, route.Units + row.Units, route.Errors + (row.StatusClass >= 5 ? row.Requests : 0));
        }

        return new UserUsage(start, perDay, unitsPerDay, perRoute, ErrorCount.Of(rows));
    }
}

/// <param name="ErrorsByCode">The user's error answers (4xx and 5xx) over the days, by code, most first.</param>
internal sealed record UserUsage(
    DateTimeOffset Start,
    long[] RequestsPerDay,
    long[] UnitsPerDay,
    IReadOnlyDictionary<string, (long Requests, long Units, long Errors)> PerRoute,
    IReadOnlyList<ErrorCount> ErrorsByCode)
{
    public long Requests => RequestsPerDay.Sum();
}
