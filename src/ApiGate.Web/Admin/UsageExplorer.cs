using ApiGate.Core.Storage;
using ApiGate.Core.Usage;

namespace ApiGate.Web.Admin;

/// <summary>
/// One user's usage per day and per route over the last days, from the stored rollups of every instance: day rows
/// up to the day watermark, hour rows up to the hour watermark, minute rows after it, so each request counts once.
/// </summary>
internal sealed class UsageExplorer(IGatewayStore store, TimeProvider timeProvider)
{
    public async Task<UserUsage> LoadAsync(string userId, int days, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var end = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(1);
        var start = end.AddDays(-days);
        var watermarks = await store.GetUsageWatermarksAsync(ct);
        var dayEnd = Clamp(watermarks.Days, start, end);
        var hourEnd = Clamp(watermarks.Hours, dayEnd, end);
        var rows = new List<UsageRollup>();
        rows.AddRange(await store.GetUsageRollupsAsync(userId, UsageGranularity.Day, start, dayEnd, ct));
        rows.AddRange(await store.GetUsageRollupsAsync(userId, UsageGranularity.Hour, dayEnd, hourEnd, ct));
        rows.AddRange(await store.GetUsageRollupsAsync(userId, UsageGranularity.Minute, hourEnd, end, ct));

        var perDay = new long[days];
        var unitsPerDay = new long[days];
        var perRoute = new Dictionary<string, (long Requests, long Units, long Errors)>(StringComparer.Ordinal);
        var byCode = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var day = (int)((row.BucketStart - start).Ticks / TimeSpan.TicksPerDay);
            if (day >= 0 && day < days)
            {
                perDay[day] += row.Requests;
                unitsPerDay[day] += row.Units;
            }

            if (row.ErrorLabel is { } code)
            {
                byCode[code] = byCode.GetValueOrDefault(code) + row.Requests;
            }

            var route = perRoute.GetValueOrDefault(row.RouteId);
            perRoute[row.RouteId] = (route.Requests + row.Requests, route.Units + row.Units, route.Errors + (row.StatusClass >= 5 ? row.Requests : 0));
        }

        return new UserUsage(start, perDay, unitsPerDay, perRoute, ErrorCount.MostFirst(byCode));
    }

    private static DateTimeOffset Clamp(DateTimeOffset value, DateTimeOffset min, DateTimeOffset max) => value < min ? min : value > max ? max : value;
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
