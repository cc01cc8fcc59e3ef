using ApiGate.Gateway.Memory;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Webhooks;

namespace ApiGate.Gateway.Tests.Reload;

/// <summary>
/// The background loops that look at something every few seconds even at rest — the config poll (four times a second),
/// the webhook outbox (once a second), the memory trimmer (every 3 s) — run on the system clock on threads of their own
/// that sleep between looks, not on the thread pool's timers (each of which wakes a pool worker that then spins before
/// sleeping again: docs/performance.md). Each thread ends with the gateway. Their work is shown by their own tests
/// (HotReloadTests, WebhookDeliveryTests, IdleMemoryTrimmerTests).
/// </summary>
public sealed class OwnThreadTests : GatewayTestBase
{
    private protected override Task SetUpAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("apigate config poll")]
    [InlineData("apigate webhook outbox")]
    [InlineData("apigate memory trimmer")]
    public async Task Loop_OnTheSystemClock_HasAThreadOfItsOwn_WhichEndsWithTheGateway(string name)
    {
        // Arrange: started with the gateway's background services, which run beside its start
        Func<Thread?> threadOf = name switch
        {
            "apigate config poll" => () => Gateway.Snapshots.PollThread,
            "apigate webhook outbox" => () => Gateway.Service<WebhookDeliveryWorker>().LoopThread,
            _ => () => Gateway.Service<IdleMemoryTrimmer>().LookThread,
        };
        await Poll.UntilAsync(() => threadOf() is not null, () => $"no {name} thread");
        var thread = threadOf()!;

        // Act
        var aliveWhileServing = thread.IsAlive;
        var background = thread.IsBackground; // a stopped thread's cannot be read
        await Gateway.StopAsync();

        // Assert
        Assert.Equal(name, thread.Name);
        Assert.True(background);
        Assert.True(aliveWhileServing);
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)), $"the {name} thread outlived the gateway");
    }
}
