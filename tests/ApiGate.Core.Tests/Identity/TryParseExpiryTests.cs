using ApiGate.Core.Management;

namespace ApiGate.Core.Tests.Identity;

/// <summary>KeyService.TryParseExpiry: a key's expiry as a duration from now or an absolute date.</summary>
public sealed class TryParseExpiryTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 15, 9, 30, 0, TimeSpan.Zero);

    public static TheoryData<string, DateTimeOffset> Durations => new()
    {
        { "30d", Now.AddDays(30) },
        { "1d", Now.AddDays(1) },
        { "365d", Now.AddDays(365) },
        { "12h", Now.AddHours(12) },
        { "1.5h", Now.AddMinutes(90) },
        { "90m", Now.AddMinutes(90) },
        { "45s", Now.AddSeconds(45) },
        { " 30d ", Now.AddDays(30) },
    };

    [Theory]
    [MemberData(nameof(Durations))]
    public void TryParseExpiry_Duration_ReturnsNowPlusDuration(string text, DateTimeOffset expected)
    {
        // Act
        var ok = KeyService.TryParseExpiry(text, Now, out var at);

        // Assert
        Assert.True(ok);
        Assert.Equal(expected, at);
    }

    public static TheoryData<string, DateTimeOffset> Dates => new()
    {
        { "2027-01-31", new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero) },
        { "2027-01-31T12:00:00Z", new DateTimeOffset(2027, 1, 31, 12, 0, 0, TimeSpan.Zero) },
        { "2027-01-31T12:00:00", new DateTimeOffset(2027, 1, 31, 12, 0, 0, TimeSpan.Zero) },
        { "2027-01-31T12:00:00+02:00", new DateTimeOffset(2027, 1, 31, 10, 0, 0, TimeSpan.Zero) },
        { "2027-01-31T00:30:00+02:00", new DateTimeOffset(2027, 1, 30, 22, 30, 0, TimeSpan.Zero) },
        { "2027-01-31T12:00:00-05:00", new DateTimeOffset(2027, 1, 31, 17, 0, 0, TimeSpan.Zero) },
        { "2027-01-31T12:00Z", new DateTimeOffset(2027, 1, 31, 12, 0, 0, TimeSpan.Zero) },
        { "2027-01-31 12:00:00", new DateTimeOffset(2027, 1, 31, 12, 0, 0, TimeSpan.Zero) },
        { "2027-01-31T12:00:00.25+05:30", new DateTimeOffset(2027, 1, 31, 6, 30, 0, 250, TimeSpan.Zero) },
        { "2028-02-29", new DateTimeOffset(2028, 2, 29, 0, 0, 0, TimeSpan.Zero) },
    };

    [Theory]
    [MemberData(nameof(Dates))]
    public void TryParseExpiry_AbsoluteDate_ReturnsThatInstantInUtc(string text, DateTimeOffset expected)
    {
        // Act
        var ok = KeyService.TryParseExpiry(text, Now, out var at);

        // Assert
        Assert.True(ok);
        Assert.Equal(expected, at);
        Assert.Equal(TimeSpan.Zero, at.Offset);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("soon")]
    [InlineData("never")]
    [InlineData("d")]
    [InlineData("h")]
    [InlineData("30x")]
    [InlineData("-5d")]
    [InlineData("1.5d")]
    [InlineData("30 days")]
    [InlineData("2027-13-01")]
    [InlineData("2027-02-30")]
    [InlineData("99999999999d")]
    [InlineData("1/2/2027")] // January 2 or 1 February: not guessed
    [InlineData("31/01/2027")]
    [InlineData("Jan 5 2027")]
    [InlineData("5 January 2027")]
    [InlineData("2027-1-5")]
    [InlineData("20270131")]
    [InlineData("2027-02-29")]
    [InlineData("2027-01-31T24:00:00Z")]
    public void TryParseExpiry_Garbage_ReturnsFalse(string text)
    {
        // Act
        var ok = KeyService.TryParseExpiry(text, Now, out _);

        // Assert
        Assert.False(ok);
    }

    [Fact]
    public void TryParseExpiry_DaysBeyondCalendar_ReturnsFalseWithoutThrowing()
    {
        // Act
        var ok = KeyService.TryParseExpiry("9999999d", Now, out _);

        // Assert
        Assert.False(ok);
    }

    [Fact]
    public void TryParseExpiry_HoursBeyond24Days_ReturnsNowPlusHours()
    {
        // Act
        var ok = KeyService.TryParseExpiry("720h", Now, out var at);

        // Assert
        Assert.True(ok);
        Assert.Equal(Now.AddHours(720), at);
    }
}
