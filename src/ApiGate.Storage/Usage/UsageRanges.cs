using ApiGate.Core.Storage;

namespace ApiGate.Storage.Usage;

/// <summary>
/// Splits a period into the three disjoint ranges a usage read takes from each granularity (see <see cref="IUsageStore"/>):
/// day rows before the day watermark, hour rows up to the hour watermark, minute rows after it. Unix seconds, half-open.
/// </summary>
internal readonly record struct UsageRanges(long DayFrom, long DayTo, long HourFrom, long HourTo, long MinuteFrom, long MinuteTo)
{
    public static UsageRanges Of(DateTimeOffset from, DateTimeOffset to, UsageWatermarks watermarks)
    {
        var f = from.ToUnixTimeSeconds();
        var t = to.ToUnixTimeSeconds();
        // A bucket counts when its start is in the period: round a period edge inside a bucket up to the next bucket.
        f += from.UtcTicks % TimeSpan.TicksPerSecond == 0 ? 0 : 1;
        t += to.UtcTicks % TimeSpan.TicksPerSecond == 0 ? 0 : 1;
        var days = watermarks.Days.ToUnixTimeSeconds();
        var hours = Math.Max(days, watermarks.Hours.ToUnixTimeSeconds());
        return new UsageRanges(
            f, Math.Min(t, days),
            Math.Max(f, days), Math.Min(t, hours),
            Math.Max(f, hours), t);
    }

}
