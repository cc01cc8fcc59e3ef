using System.Reflection;
using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Webhooks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>
/// A store failure that surfaces while the worker stops (a claim that gave up on another process's lock, a connection
/// closed under it) is the round failing as at any other time: logged, and the worker stops cleanly. Before the own-thread
/// change it was; since, the exception escapes the loop and faults the service (the host logs "BackgroundService failed").
/// </summary>
public sealed class WebhookWorkerStopTests : IAsyncLifetime
{
    private TempStore _temp = null!;

    public async Task InitializeAsync() => _temp = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _temp.DisposeAsync();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StoreFailsWhileStopping_WorkerStillStopsCleanly(bool systemClock)
    {
        // Arrange: a claim that is under way when the stop comes, and then fails as a busy store does
        var claimStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = FailingClaimStore.Create(_temp.Store, claimStarted);
        var time = systemClock ? TimeProvider.System : new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var worker = new WebhookDeliveryWorker(store, new WebhookSignal(), new GatewayOptions(), time, NullLogger<WebhookDeliveryWorker>.Instance);
        await worker.StartAsync(CancellationToken.None);
        await claimStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Act
        await worker.StopAsync(CancellationToken.None);

        // Assert
        var task = worker.ExecuteTask!;
        Assert.True(task.IsCompleted);
        Assert.False(task.IsFaulted, $"the worker's task faulted: {task.Exception?.InnerException}");
    }

    public class FailingClaimStore : DispatchProxy
    {
        private IWebhookStore _inner = null!;
        private TaskCompletionSource _claimStarted = null!;

        public static IWebhookStore Create(IWebhookStore inner, TaskCompletionSource claimStarted)
        {
            var proxy = Create<IWebhookStore, FailingClaimStore>();
            var self = (FailingClaimStore)(object)proxy;
            self._inner = inner;
            self._claimStarted = claimStarted;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(IWebhookStore.ClaimWebhookDeliveriesAsync))
            {
                var token = (CancellationToken)args![^1]!;
                return ClaimAsync(token);
            }

            return targetMethod.Invoke(_inner, args);
        }

        private async Task<IReadOnlyList<WebhookDeliveryWork>> ClaimAsync(CancellationToken token)
        {
            _claimStarted.TrySetResult();
            // As BEGIN IMMEDIATE in SQLite's busy handler: not cancellable, gives up after the busy timeout
            await Task.Delay(Timeout.Infinite, token).ContinueWith(_ => { }, TaskScheduler.Default);
            throw new StoreBusyException("the store is locked by another connection or process: gave up after waiting 5 s for it");
        }
    }
}
