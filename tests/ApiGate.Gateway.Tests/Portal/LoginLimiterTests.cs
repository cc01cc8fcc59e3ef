using ApiGate.Gateway.Portal;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The portal's login limiter: per account and per client address, on a fake clock.</summary>
public sealed class LoginLimiterTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    [Fact]
    public void Check_FiveFailuresForOneAccount_RefusedUntilWindowEnds()
    {
        // Arrange
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
        var limiter = new LoginLimiter(clock, accountLimit: 5, addressLimit: 100, Window);
        for (var i = 0; i < 4; i++)
        {
            limiter.RecordFailure("a@example.com", "10.0.0." + i);
        }

        var afterFour = limiter.Check("a@example.com", "10.0.0.9");
        limiter.RecordFailure("A@Example.com ", "10.0.0.5");

        // Act
        var refused = limiter.Check("a@example.com", "10.0.0.9");
        clock.Advance(Window);
        var later = limiter.Check("a@example.com", "10.0.0.9");

        // Assert
        Assert.Null(afterFour);
        Assert.Equal(Window, refused);
        Assert.Null(later);
    }

    [Fact]
    public void Check_TwentyFailuresFromOneAddress_RefusedForAnyAccount()
    {
        // Arrange
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
        var limiter = new LoginLimiter(clock, accountLimit: 5, addressLimit: 20, Window);
        for (var i = 0; i < 20; i++)
        {
            limiter.RecordFailure($"user{i}@example.com", "192.0.2.1");
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        // Act
        var sameAddress = limiter.Check("fresh@example.com", "192.0.2.1");
        var otherAddress = limiter.Check("fresh@example.com", "192.0.2.2");

        // Assert
        Assert.Equal(Window - TimeSpan.FromSeconds(200), sameAddress);
        Assert.Null(otherAddress);
    }

    [Fact]
    public void RecordSuccess_AfterFailures_ClearsAccountButNotAddress()
    {
        // Arrange
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
        var limiter = new LoginLimiter(clock, accountLimit: 2, addressLimit: 2, Window);
        limiter.RecordFailure("b@example.com", "198.51.100.1");
        limiter.RecordFailure("b@example.com", "198.51.100.1");

        // Act
        limiter.RecordSuccess("b@example.com");
        var sameAddress = limiter.Check("b@example.com", "198.51.100.1");
        var otherAddress = limiter.Check("b@example.com", "198.51.100.2");

        // Assert
        Assert.Equal(Window, sameAddress);
        Assert.Null(otherAddress);
    }

    [Fact]
    public void After_FailureOutsideWindow_StartsNewWindow()
    {
        // Arrange
        var start = new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);
        var state = new LoginFailures(7, start);

        // Act
        var inside = LoginFailures.After(state, Window, start.AddMinutes(14));
        var outside = LoginFailures.After(state, Window, start.AddMinutes(15));

        // Assert
        Assert.Equal(new LoginFailures(8, start), inside);
        Assert.Equal(new LoginFailures(1, start.AddMinutes(15)), outside);
    }
}
