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

    [Fact]
    public async Task NextUseAsync_NothingTracked_WaitsUntilACredentialIsUsed()
    {
        // Arrange: a key used, handed out and let go
        var tracker = new KeyUsageTracker();
        tracker.Touch("key_1", Now);
        var whileTracked = tracker.NextUseAsync(CancellationToken.None);
        tracker.Drain();
        tracker.Drain();

        // Act
        var waiting = tracker.NextUseAsync(CancellationToken.None);
        var completedBeforeUse = waiting.IsCompleted;
        var flagged = tracker.FlusherWaiting;
        tracker.TouchAdminToken("tok_1", Now);

        // Assert
        Assert.True(whileTracked.IsCompletedSuccessfully); // something to write: no sleep at all
        Assert.False(completedBeforeUse);
        Assert.True(flagged);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(tracker.FlusherWaiting);
    }

    [Fact]
    public async Task NextUseAsync_TouchRacingTheSleep_IsNeverMissed()
    {
        // Arrange
        var tracker = new KeyUsageTracker();

        for (var i = 0; i < 2_000; i++)
        {
            // Act: the flusher starts to sleep while a request uses a new key on another thread
            using var start = new Barrier(2);
            var touch = Task.Run(() =>
            {
                start.SignalAndWait();
                tracker.Touch("key_" + i, Now);
            });
            start.SignalAndWait();
            var waiting = tracker.NextUseAsync(CancellationToken.None);
            await touch;

            // Assert: either it saw the key, or the touch woke it
            await waiting.WaitAsync(TimeSpan.FromSeconds(10));
            tracker.Drain();
            tracker.Drain();
            Assert.Equal(0, tracker.TrackedKeys);
        }
    }
}
