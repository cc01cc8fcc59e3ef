using ApiGate.Core.Text;

namespace ApiGate.Core.Tests.Text;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("1500ms", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("250", 250)]
    [InlineData("0", 0)]
    [InlineData("1.5s", 1_500)]
    [InlineData("30S", 30_000)]
    [InlineData("1500MS", 1_500)]
    [InlineData(" 30s ", 30_000)]
    [InlineData("2M", 120_000)]
    public void TryParse_ValidDuration_ReturnsMilliseconds(string text, double expectedMs)
    {
        // Act
        var ok = Durations.TryParse(text, out var value);

        // Assert
        Assert.True(ok);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("abc")]
    [InlineData("s")]
    [InlineData("ms")]
    [InlineData("-5s")]
    [InlineData("-1")]
    [InlineData("5x")]
    [InlineData("5 sec")]
    [InlineData("1d")]
    [InlineData("Infinity")]
    [InlineData("1e400")]
    [InlineData("1000h")]
    [InlineData("30s30")]
    public void TryParse_InvalidDuration_ReturnsFalse(string? text)
    {
        // Act
        var ok = Durations.TryParse(text, out var value);

        // Assert
        Assert.False(ok);
        Assert.Equal(TimeSpan.Zero, value);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("nans")]
    [InlineData("NaNms")]
    public void TryParse_NotANumber_ReturnsFalse(string text)
    {
        // Act
        var ok = Durations.TryParse(text, out _);

        // Assert
        Assert.False(ok);
    }

    [Theory]
    [InlineData("0.4s", 400)]
    [InlineData("0.29s", 290)]
    [InlineData("1.1s", 1_100)]
    [InlineData("2.0", 2)]
    [InlineData("0.5m", 30_000)]
    [InlineData("1e3", 1_000)]
    public void TryParse_WholeMilliseconds_ExactValueAndWhole(string text, long expectedMs)
    {
        // Act
        var ok = Durations.TryParse(text, out var value, out var whole);

        // Assert
        Assert.True(ok);
        Assert.True(whole);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), value);
    }

    [Theory]
    [InlineData("0.4")]
    [InlineData("2.9")]
    [InlineData("2.9ms")]
    [InlineData("1.0005s")]
    [InlineData("0.00001m")]
    public void TryParse_FractionOfAMillisecond_ParsesButIsNotWhole(string text)
    {
        // Act
        var ok = Durations.TryParse(text, out var value, out var whole);

        // Assert
        Assert.True(ok);
        Assert.False(whole);
        Assert.NotEqual(TimeSpan.Zero, value);
    }

    [Theory]
    [InlineData("7d", 7 * 24)]
    [InlineData("30D", 30 * 24)]
    [InlineData("36h", 36)]
    [InlineData("400d", 400 * 24)]
    public void TryParseRetention_DaysAndHours_Parsed(string text, int hours)
    {
        // Act
        var ok = Durations.TryParseRetention(text, out var value);

        // Assert
        Assert.True(ok);
        Assert.Equal(TimeSpan.FromHours(hours), value);
    }

    [Theory]
    [InlineData("36501d")]
    [InlineData("-1d")]
    [InlineData("d")]
    public void TryParseRetention_OutOfRange_ReturnsFalse(string text)
    {
        // Act
        var ok = Durations.TryParseRetention(text, out _);

        // Assert
        Assert.False(ok);
    }
}
