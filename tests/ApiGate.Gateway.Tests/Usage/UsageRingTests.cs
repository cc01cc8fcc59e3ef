using ApiGate.Core.Usage;
using ApiGate.Gateway.Usage;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>The recorder's preallocated ring: exact capacity, first in first out, nothing lost or duplicated under concurrent producers.</summary>
public sealed class UsageRingTests
{
    [Fact]
    public void TryEnqueue_Full_RefusesUntilOneIsTaken()
    {
        // Arrange
        var ring = new UsageRing(3);

        // Act
        var accepted = Enumerable.Range(0, 4).Select(i => ring.TryEnqueue(Event(i))).ToList();
        var taken = ring.TryDequeue(out var first);
        var again = ring.TryEnqueue(Event(4));

        // Assert
        Assert.Equal([true, true, true, false], accepted);
        Assert.True(taken);
        Assert.Equal("/0", first.Path);
        Assert.True(again);
        Assert.Equal(3, ring.Count);
    }

    [Fact]
    public void TryDequeue_AfterWrappingAround_ReturnsInOrder()
    {
        // Arrange
        var ring = new UsageRing(4);
        var seen = new List<string>();

        // Act: ten laps of partial fills
        for (var i = 0; i < 30; i++)
        {
            Assert.True(ring.TryEnqueue(Event(i)));
            if (i % 3 == 2)
            {
                while (ring.TryDequeue(out var e))
                {
                    seen.Add(e.Path);
                }
            }
        }

        // Assert
        Assert.Equal(Enumerable.Range(0, 30).Select(i => "/" + i), seen);
        Assert.False(ring.TryDequeue(out _));
    }

    [Fact]
    public async Task TryEnqueue_ConcurrentProducersAndOneConsumer_EveryAcceptedEventTakenOnce()
    {
        // Arrange
        var ring = new UsageRing(64);
        const int producers = 4, perProducer = 20_000;
        var accepted = 0;
        var taken = new List<string>();
        using var done = new CancellationTokenSource();

        // Act
        var consumer = Task.Run(() =>
        {
            while (true)
            {
                var finished = done.IsCancellationRequested;
                while (ring.TryDequeue(out var e))
                {
                    taken.Add(e.Path);
                }

                if (finished)
                {
                    return;
                }

                Thread.Yield();
            }
        });
        await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                if (ring.TryEnqueue(Event(p * perProducer + i)))
                {
                    Interlocked.Increment(ref accepted);
                }
            }
        })));
        done.Cancel();
        await consumer;

        // Assert
        Assert.Equal(accepted, taken.Count);
        Assert.Equal(taken.Count, taken.Distinct().Count());
    }

    private static UsageEvent Event(int i) => new()
    {
        UserId = "usr_1", KeyId = "key_1", RouteId = "rte_1", UpstreamId = "ups_1", Method = "GET", Path = "/" + i, ClientIp = "127.0.0.1", RequestId = "req-" + i,
    };
}
