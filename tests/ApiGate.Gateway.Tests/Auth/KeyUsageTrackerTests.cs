using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>Last-use times are held until they are handed out, not for every credential ever used.</summary>
public sealed class KeyUsageTrackerTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Drain_KeysNotUsedSinceTheirLastDrain_AreLetGo()
    {
        // Arrange: a thousand keys used once each
        var tracker = new KeyUsageTracker();
        for (var i = 0; i < 1_000; i++)
        {
            tracker.Touch("key_" + i, Now);
        }

        // Act
        var first = tracker.Drain();
        var heldAfterFirst = tracker.TrackedKeys;
        var second = tracker.Drain();

        // Assert
        Assert.Equal(1_000, first.Count);
        Assert.Equal(1_000, heldAfterFirst);
        Assert.Empty(second);
        Assert.Equal(0, tracker.TrackedKeys);
    }

    [Fact]
    public void Touch_AfterTheKeyWasLetGo_IsHandedOutAgain()
    {
        // Arrange
        var tracker = new KeyUsageTracker();
        tracker.Touch("key_1", Now);
        tracker.Drain();
        tracker.Drain(); // let go

        // Act
        tracker.Touch("key_1", Now.AddSeconds(5));
        var drained = tracker.Drain();

        // Assert
        Assert.Equal(Now.AddSeconds(5), Assert.Single(drained).Value);
    }
}
