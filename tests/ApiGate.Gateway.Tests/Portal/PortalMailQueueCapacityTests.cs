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

    [Fact]
    public async Task ReserveAsync_QueueFull_RefusedWithoutTakingTheRecipientsSlot()
    {
        // Arrange: SMTP set, a queue nothing drains filled to its capacity; the attempt counter has no store, so taking a
        // recipient's slot would throw
        var logger = new RecordingLogger<PortalMailQueue>();
        var options = PortalOptions.From(new GatewayOptions { PortalEnabled = true, SmtpUrl = "smtp://127.0.0.1:2525" });
        using var queue = new PortalMailQueue(options, new AttemptCounter(null!, TimeProvider.System), logger);
        for (var i = 0; i < PortalMailQueue.Capacity; i++)
        {
            Assert.True(queue.EnqueueReserved(new PortalEmail($"waiting{i}@customer.example", "Subject", "Body")));
        }

        // Act
        var reserved = await queue.ReserveAsync("late@customer.example", CancellationToken.None);

        // Assert: no slot taken (so no reset link issued for a message that could not go out), and the operator told
        Assert.False(reserved);
        Assert.Equal([(8004, LogLevel.Error, "Portal email queue is full (1000 messages waiting); a message was dropped")], logger.Entries);
    }
}
