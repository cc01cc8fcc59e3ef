using ApiGate.Core.Usage;

namespace ApiGate.Core.Storage;

/// <summary>
/// One user's stored usage rollups over whole days, each request once: day rows before the day watermark, hour rows
/// from there to the hour watermark, minute rows after it (compaction moves rows from one to the next). What the
/// console's usage explorer and the portal's dashboard read.
/// </summary>
public static class UserUsageRows
{
    /// <summary>The rows over [<paramref name="from"/>, <paramref name="to"/>), read with the watermarks in one snapshot (<see cref="IUsageStore.GetUserUsageRowsAsync"/>).</summary>
    public static Task<IReadOnlyList<UsageRollup>> ReadAsync(IGatewayStore store, string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct) =>
        store.GetUserUsageRowsAsync(userId, from, to, ct);

    /// <summary>
    /// The three disjoint ranges [from, to) of each granularity that hold [<paramref name="from"/>, <paramref name="to"/>)
    /// under <paramref name="watermarks"/>: days before the day watermark, hours up to the hour watermark, minutes after.
    /// </summary>
    public static IReadOnlyList<(UsageGranularity Granularity, DateTimeOffset From, DateTimeOffset To)> Ranges(UsageWatermarks watermarks, DateTimeOffset from, DateTimeOffset to)
    {
        var dayEnd = Clamp(watermarks.Days, from, to);
        var hourEnd = Clamp(watermarks.Hours, dayEnd, to);
        return [(UsageGranularity.Day, from, dayEnd), (UsageGranularity.Hour, dayEnd, hourEnd), (UsageGranularity.Minute, hourEnd, to)];
    }

    private static DateTimeOffset Clamp(DateTimeOffset value, DateTimeOffset min, DateTimeOffset max) => value < min ? min : value > max ? max : value;
}
