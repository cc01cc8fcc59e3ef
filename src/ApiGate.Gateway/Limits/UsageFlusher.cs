using ApiGate.Core.Storage;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Writes the <c>last_used_at</c> times of API keys and admin tokens to the store every second while credentials are
/// in use (and sleeps while none is), through the
/// <see cref="StoreWriter"/> thread (never on a request thread), and once more on a graceful stop. While the store is
/// locked the write waits on the writer thread; the times that changed meanwhile go in the next write. (Quota units
/// are not written here: they travel with the usage events, see <see cref="Usage.UsageRecorder"/>.)
/// </summary>
internal sealed partial class UsageFlusher(
    KeyUsageTracker keys,
    IGatewayStore store,
    StoreWriter writer,
    TimeProvider timeProvider,
    ILogger<UsageFlusher> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var used = keys.Drain();
        var adminTokens = keys.DrainAdminTokens();
        if (used.Count == 0 && adminTokens.Count == 0)
        {
            return;
        }

        try
        {
            await writer.RunAsync(async ct =>
            {
                await store.TouchKeysAsync(used, ct);
                foreach (var (id, at) in adminTokens)
                {
                    await store.TouchAdminTokenAsync(id, at, ct);
                }
            }, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFlushFailed(ex); // last_used_at is advisory: a missed batch is only a slightly older time
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            // The stop's time ran out (the store stayed locked): the times are advisory, and a throw here cut the rest
            // of the stop short (the store writer was never disposed) with a Critical "error occurred stopping" line.
            LogFlushFailed(ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                // Nothing tracked (no credential used since the last two flushes let every one go): sleep until one is
                // used rather than wake every second to find nothing to write. Then a second's uses go in one write.
                await keys.NextUseAsync(stoppingToken);
                await Task.Delay(Interval, timeProvider, stoppingToken);
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping; StopAsync flushes
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Writing last-use times of keys and admin tokens to the store failed")]
    private partial void LogFlushFailed(Exception exception);
}
