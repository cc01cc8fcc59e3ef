using System.Threading.Channels;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// Publishes target health to the store (<c>target_health</c>) so <c>apigate upstreams get</c> in another process can
/// show it. Fed only on state changes (and when a target comes into or goes out of use), through a channel drained by
/// a background writer: the request path never waits for it. Rows are keyed by this process's instance id; a graceful
/// stop deletes them, and every row carries <c>reported_at</c> so one left by a crashed instance is recognisable.
/// </summary>
internal sealed partial class TargetHealthReporter(ITargetHealthStore store, TimeProvider timeProvider, ILogger<TargetHealthReporter> logger)
    : BackgroundService
{
    private const int Capacity = 10_000;

    private readonly Channel<(TargetState State, bool Removed)> _changes =
        Channel.CreateBounded<(TargetState, bool)>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    /// <summary>Identifies this gateway process in <c>target_health</c>.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Queues the target's current state for writing.</summary>
    public void Publish(TargetState state) => _changes.Writer.TryWrite((state, false));

    /// <summary>Queues removal of the target's row (it is no longer configured).</summary>
    public void Remove(TargetState state) => _changes.Writer.TryWrite((state, true));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _changes.Reader.WaitToReadAsync(stoppingToken))
            {
                await WriteAvailableAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            // This instance's view ends with it: readers then see "unknown" rather than a stale state.
            await store.DeleteTargetHealthAsync(InstanceId, null, null, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWriteFailed(ex);
        }
    }

    private async Task WriteAvailableAsync(CancellationToken cancellationToken)
    {
        var latest = new Dictionary<TargetState, bool>(ReferenceEqualityComparer.Instance);
        while (_changes.Reader.TryRead(out var change))
        {
            latest[change.State] = change.Removed;
        }

        try
        {
            var now = timeProvider.GetUtcNow();
            var reports = new List<TargetHealthReport>();
            foreach (var (state, removed) in latest)
            {
                if (removed)
                {
                    await store.DeleteTargetHealthAsync(InstanceId, state.UpstreamId, state.Url, cancellationToken);
                    continue;
                }

                var status = state.Status();
                reports.Add(new TargetHealthReport
                {
                    InstanceId = InstanceId,
                    UpstreamId = status.UpstreamId,
                    TargetUrl = status.Url,
                    State = WireNames.Of(status.Health),
                    Since = status.Since,
                    Reason = status.Reason,
                    ReportedAt = now,
                });
            }

            await store.ReportTargetHealthAsync(reports, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWriteFailed(ex);
        }
    }

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "Writing target health to the store failed")]
    private partial void LogWriteFailed(Exception exception);
}
