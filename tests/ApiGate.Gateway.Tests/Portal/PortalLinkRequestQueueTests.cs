using ApiGate.Core.Portal;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The bounded queue of link requests answered already: what a full queue does and logs.</summary>
public sealed class PortalLinkRequestQueueTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task TryEnqueue_QueueFullTwiceWithAnEmptiedQueueBetween_DroppedAndOneWarningPerBurstWithoutTheAddress()
    {
        // Arrange
        var logger = new RecordingLogger<PortalLinkRequestQueue>();
        var queue = new PortalLinkRequestQueue(logger);
        for (var i = 0; i < PortalLinkRequestQueue.Capacity; i++)
        {
            Assert.True(queue.TryEnqueue(Request($"waiting{i}@customer.example")));
        }

        // Act: a burst of two past the capacity; the worker empties the queue (and waits for more); a second burst
        var firstBurst = new[] { queue.TryEnqueue(Request("dropped1@customer.example")), queue.TryEnqueue(Request("dropped2@customer.example")) };
        var drained = new List<string>();
        for (var i = 0; i < PortalLinkRequestQueue.Capacity; i++)
        {
            drained.Add((await queue.ReadAsync(None)).Email);
        }

        var waiting = queue.ReadAsync(None);
        var afterEmptied = queue.TryEnqueue(Request("after@customer.example"));
        var woken = await waiting;
        for (var i = 0; i < PortalLinkRequestQueue.Capacity; i++)
        {
            queue.TryEnqueue(Request($"again{i}@customer.example"));
        }

        var secondBurst = queue.TryEnqueue(Request("dropped3@customer.example"));

        // Assert: the queued ones come out in order, none of the dropped; one warning per burst, no address in it
        Assert.Equal([false, false], firstBurst);
        Assert.Equal(Enumerable.Range(0, PortalLinkRequestQueue.Capacity).Select(i => $"waiting{i}@customer.example"), drained);
        Assert.True(afterEmptied);
        Assert.Equal("after@customer.example", woken.Email);
        Assert.False(secondBurst);
        var warnings = logger.Entries.Where(e => e.EventId == 8014).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Equal((LogLevel.Warning,
            "Portal link requests (password reset, new confirmation link) are dropped: 1000 wait already; the form still answered as usual, and its customer has to ask again. Logged once until the queue is empty again"),
            (w.Level, w.Message)));
        Assert.Equal(2, logger.Entries.Count);
    }

    private static PortalLinkRequest Request(string email) => new(email, PortalTokenPurpose.Reset, "https://developers.example.com");
}
