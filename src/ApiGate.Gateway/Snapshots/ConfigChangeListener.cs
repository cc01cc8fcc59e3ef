using ApiGate.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Snapshots;

/// <summary>
/// Reloads the snapshot as soon as the store signals a config change made by another process
/// (<see cref="IConfigChangeSignal"/>: PostgreSQL <c>LISTEN/NOTIFY</c>), instead of at the next version poll. A lost
/// connection is logged once and re-established every <see cref="ReconnectDelay"/>; meanwhile the
/// <see cref="SnapshotManager"/>'s polling keeps applying changes, so nothing depends on the signal alone.
/// Does nothing for stores without a signal (SQLite).
/// </summary>
internal sealed partial class ConfigChangeListener(IGatewayStore store, SnapshotManager snapshots, TimeProvider timeProvider, ILogger<ConfigChangeListener> logger)
    : BackgroundService
{
    /// <summary>Pause before listening again after the connection failed.</summary>
    public static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store is not IConfigChangeSignal signal)
        {
            return;
        }

        var lost = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await signal.ListenAsync(async ct =>
                {
                    if (lost)
                    {
                        lost = false;
                        LogListening();
                    }

                    await snapshots.RefreshAsync(force: false, ct);
                }, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (!lost)
                {
                    lost = true;
                    LogLost(ex.Message);
                }
            }

            try
            {
                await Task.Delay(ReconnectDelay, timeProvider, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning,
        Message = "Not listening for config changes ({Reason}); reconnecting every second, and polling still applies changes")]
    private partial void LogLost(string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Listening for config changes again")]
    private partial void LogListening();
}
