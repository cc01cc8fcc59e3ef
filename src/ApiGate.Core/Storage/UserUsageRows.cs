using ApiGate.Core.Usage;

namespace ApiGate.Core.Storage;

/// <summary>
/// One user's stored usage rollups over whole days, each request once: day rows before the day watermark, hour rows
/// from there to the hour watermark, minute rows after it (compaction moves rows from one to the next). What the
/// console's usage explorer and the portal's dashboard read.
/// </summary>
public static class UserUsageRows
{
    public static async Task<IReadOnlyList<UsageRollup>> ReadAsync(IGatewayStore store, string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var watermarks = await store.GetUsageWatermarksAsync(ct);
        var dayEnd = Clamp(watermarks.Days, from, to);
        var hourEnd = Clamp(watermarks.Hours, dayEnd, to);
        var rows = new List<UsageRollup>();
        rows.AddRange(await store.GetUsageRollupsAsync(userId, UsageGranularity.Day, from, dayEnd, ct));
        rows.AddRange(await store.GetUsageRollupsAsync(userId, UsageGranularity.Hour, dayEnd, hourEnd, ct));
        rows.AddRange(await store.GetUsageRollupsAsync(userId, UsageGranularity.Minute, hourEnd, to, ct));
        return rows;
    }

    private static DateTimeOffset Clamp(DateTimeOffset value, DateTimeOffset min, DateTimeOffset max) => value < min ? min : value > max ? max : value;
}
