using ApiGate.Core.Storage;
using ApiGate.Gateway.Identity;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Writes quota deltas and key <c>last_used_at</c> times to the store every second, off the request path, and once
/// more on a graceful stop, so a SIGTERM loses nothing (a crash loses at most the last second).
/// </summary>
internal sealed partial class UsageFlusher(
    QuotaCounters quotas,
    KeyUsageTracker keys,
    IGatewayStore store,
    TimeProvider timeProvider,
    ILogger<UsageFlusher> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var deltas = quotas.DrainPending();
        try
        {
            await store.AddQuotaUsageAsync(deltas, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            quotas.Restore(deltas);
            LogFlushFailed(ex);
        }

        try
        {
            await store.TouchKeysAsync(keys.Drain(), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFlushFailed(ex); // last_used_at is advisory: a missed batch is only a slightly older time
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(CancellationToken.None);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping; StopAsync flushes
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "Writing usage counters to the store failed; they will be retried")]
    private partial void LogFlushFailed(Exception exception);
}
