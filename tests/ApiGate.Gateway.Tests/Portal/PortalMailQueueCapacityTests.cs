using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>What the portal's mail queue does with a message when <see cref="PortalMailQueue.Capacity"/> wait already.</summary>
public sealed class PortalMailQueueCapacityTests
{
    [Fact]
    public void EnqueueReserved_QueueFull_RefusedAndLogged()
    {
        // Arrange: a queue nothing drains (not started), filled to its capacity
        var logger = new RecordingLogger<PortalMailQueue>();
        using var queue = new PortalMailQueue(PortalOptions.From(new GatewayOptions { PortalEnabled = true }), new AttemptCounter(null!, TimeProvider.System), logger);
        var accepted = Enumerable.Range(0, PortalMailQueue.Capacity)
            .Count(i => queue.EnqueueReserved(new PortalEmail($"waiting{i}@customer.example", "Subject", "Body")));

        // Act
        var oneMore = queue.EnqueueReserved(new PortalEmail("late@customer.example", "Subject", "Body"));

        // Assert: refused (before: reported as queued and silently dropped), and the operator told
        Assert.Equal(PortalMailQueue.Capacity, accepted);
        Assert.False(oneMore);
        Assert.Equal([(8004, LogLevel.Error, "Portal email queue is full (1000 messages waiting); a message was dropped")], logger.Entries);
    }
}
