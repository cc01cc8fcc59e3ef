using ApiGate.Core.Quotas;

namespace ApiGate.Core.Tests.Quotas;

/// <summary>QuotaPeriod: quota periods are calendar months in UTC (SPEC §4.2).</summary>
public sealed class QuotaPeriodTests
{
    public static TheoryData<string, DateTimeOffset, DateTimeOffset, DateTimeOffset> Instants => new()
    {
        {
            "mid-month",
            new DateTimeOffset(2026, 5, 17, 13, 45, 12, TimeSpan.Zero),
            new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "first instant of a month",
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "last instant of January",
            new DateTimeOffset(2026, 1, 31, 23, 59, 59, 999, TimeSpan.Zero),
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "last tick of January",
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(-1),
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "December resets into January of next year",
            new DateTimeOffset(2026, 12, 31, 23, 59, 59, 999, TimeSpan.Zero),
            new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "February in a leap year, on the 29th",
            new DateTimeOffset(2028, 2, 29, 12, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2028, 2, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2028, 3, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "February in a common year",
            new DateTimeOffset(2026, 2, 28, 23, 59, 59, TimeSpan.Zero),
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "positive offset: 1 March 00:30 +02:00 is still February in UTC",
            new DateTimeOffset(2026, 3, 1, 0, 30, 0, TimeSpan.FromHours(2)),
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "negative offset: 31 January 20:00 -05:00 is already February in UTC",
            new DateTimeOffset(2026, 1, 31, 20, 0, 0, TimeSpan.FromHours(-5)),
            new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)
        },
        {
            "offset at year end: 1 January 01:00 +05:30 is still December in UTC",
            new DateTimeOffset(2027, 1, 1, 1, 0, 0, new TimeSpan(5, 30, 0)),
            new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)
        },
    };

    [Theory]
    [MemberData(nameof(Instants))]
    public void StartOf_AnyInstant_ReturnsFirstOfUtcMonthAtMidnight(string scenario, DateTimeOffset now, DateTimeOffset expectedStart, DateTimeOffset expectedReset)
    {
        // Act
        var start = QuotaPeriod.StartOf(now);

        // Assert
        Assert.True(expectedStart == start, $"{scenario}: expected {expectedStart:O}, got {start:O}");
        Assert.Equal(TimeSpan.Zero, start.Offset);
        Assert.True(start <= now && now < expectedReset, scenario);
    }

    [Theory]
    [MemberData(nameof(Instants))]
    public void ResetOf_AnyInstant_ReturnsFirstOfNextUtcMonthAtMidnight(string scenario, DateTimeOffset now, DateTimeOffset expectedStart, DateTimeOffset expectedReset)
    {
        // Act
        var reset = QuotaPeriod.ResetOf(now);

        // Assert
        Assert.True(expectedReset == reset, $"{scenario}: expected {expectedReset:O}, got {reset:O}");
        Assert.Equal(TimeSpan.Zero, reset.Offset);
        Assert.Equal(expectedStart.AddMonths(1), reset);
    }

    [Fact]
    public void ResetOf_TheResetInstant_StartsTheNextPeriod()
    {
        // Arrange
        var now = new DateTimeOffset(2026, 4, 10, 8, 0, 0, TimeSpan.Zero);
        var reset = QuotaPeriod.ResetOf(now);

        // Act
        var nextStart = QuotaPeriod.StartOf(reset);

        // Assert
        Assert.Equal(reset, nextStart);
        Assert.Equal(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), QuotaPeriod.ResetOf(reset));
    }
}
