using System.Threading.Channels;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// Publishes target health to the store (<c>target_health</c>) so <c>apigate upstreams get</c> in another process can
/// show it. Fed only on state changes (and when a target comes into or goes out of use), through a channel drained by
/// a background writer: the request path never waits for it. Rows are keyed by this process's instance id; a graceful
/// stop deletes them. A failed write is retried with the latest state of each target. Every
/// <see cref="ReportedTargetHealth.HeartbeatInterval"/> one UPDATE refreshes <c>reported_at</c> of this instance's
/// rows, so readers can tell the rows of a crashed instance (shown as stale) from live ones; rows not refreshed for
/// <see cref="ReportedTargetHealth.ExpireAfter"/> are deleted by whichever instance sweeps first.
/// </summary>
internal sealed partial class TargetHealthReporter(ITargetHealthStore store, TimeProvider timeProvider, ILogger<TargetHealthReporter> logger)
    : BackgroundService
{
    private const int Capacity = 10_000;

    /// <summary>How long after a failed write it is tried again.</summary>
    internal static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>How long a stop waits for this instance's rows to be deleted, whatever is left of the host's shutdown timeout.</summary>
    internal static readonly TimeSpan FinalDeleteTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How often expired rows are looked for.</summary>
    internal static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(5);

    private readonly Channel<(TargetState State, bool Removed)> _changes =
        Channel.CreateBounded<(TargetState, bool)>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    // Writer loop only: changes not yet written (latest per target; true = delete the row) and the rows written.
    private readonly Dictionary<TargetState, bool> _pending = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<TargetState> _rows = new(ReferenceEqualityComparer.Instance);

    // Writer loop only: the pending wait for the next change, kept across the heartbeats that end a wait first.
    private Task<bool>? _changeArrives;

    /// <summary>Identifies this gateway process in <c>target_health</c>.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Queues the target's current state for writing.</summary>
    public void Publish(TargetState state) => _changes.Writer.TryWrite((state, false));

    /// <summary>Queues removal of the target's row (it is no longer configured).</summary>
    public void Remove(TargetState state) => _changes.Writer.TryWrite((state, true));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextHeartbeat = timeProvider.GetUtcNow() + ReportedTargetHealth.HeartbeatInterval;
        var nextSweep = timeProvider.GetUtcNow();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var written = await WriteAvailableAsync(stoppingToken);
                var now = timeProvider.GetUtcNow();
                if (now >= nextHeartbeat)
                {
                    nextHeartbeat = now + ReportedTargetHealth.HeartbeatInterval;
                    await HeartbeatAsync(now, stoppingToken);
                }

                if (now >= nextSweep)
                {
                    nextSweep = now + SweepInterval;
                    await SweepAsync(now, stoppingToken);
                }

                // Wake up for the next change, the next heartbeat, or (after a failed write) the retry.
                var wait = nextHeartbeat - timeProvider.GetUtcNow();
                if (!written && wait > RetryDelay)
                {
                    wait = RetryDelay;
                }

                await WaitAsync(wait, waitForChanges: written, stoppingToken);
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
        // Not the host's token: it is already cancelled when draining requests used the whole shutdown timeout (an SSE
        // stream or a WebSocket open at SIGTERM), and a delete cancelled by it left the rows behind and made the
        // process exit with code 1.
        using var bounded = new CancellationTokenSource(FinalDeleteTimeout, timeProvider);
        try
        {
            // This instance's view ends with it: readers then see "unknown" rather than a stale state.
            await store.DeleteTargetHealthAsync(InstanceId, null, null, bounded.Token);
        }
        catch (Exception ex)
        {
            LogWriteFailed(ex);
        }
    }

    private async Task WaitAsync(TimeSpan wait, bool waitForChanges, CancellationToken stoppingToken)
    {
        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        if (!waitForChanges)
        {
            await Task.Delay(wait, timeProvider, stoppingToken);
            return;
        }

        // The wait for a change outlives a heartbeat that comes first (it is kept for the next wait), so an idle
        // gateway's heartbeat is a timer firing, not a cancelled wait and its exception every ten seconds.
        _changeArrives ??= _changes.Reader.WaitToReadAsync(stoppingToken).AsTask();
        using var heartbeatCancel = new CancellationTokenSource();
        var heartbeat = Task.Delay(wait, timeProvider, heartbeatCancel.Token);
        if (await Task.WhenAny(_changeArrives, heartbeat) == _changeArrives)
        {
            _changeArrives = null;
            heartbeatCancel.Cancel();
            stoppingToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Writes the queued changes (and any left from a failed write); false when the write failed (they stay queued).</summary>
    private async Task<bool> WriteAvailableAsync(CancellationToken cancellationToken)
    {
        while (_changes.Reader.TryRead(out var change))
        {
            // A removal stays queued whatever follows it: a removed target's state can still change (a request from
            // before the reload fails), and its row must not be written again.
            _pending[change.State] = change.Removed || (_pending.TryGetValue(change.State, out var removing) && removing);
        }

        if (_pending.Count == 0)
        {
            return true;
        }

        try
        {
            var now = timeProvider.GetUtcNow();
            var reports = new List<TargetHealthReport>();
            foreach (var (state, removed) in _pending)
            {
                if (removed)
                {
                    await store.DeleteTargetHealthAsync(InstanceId, state.UpstreamId, state.Url, cancellationToken);
                    continue;
                }

                if (state.Retired)
                {
                    // Removed, and its row already deleted: a change since (a request from before the reload that
                    // failed) is not written, or it would bring the row back, or overwrite the row of a target added
                    // again under the same URL.
                    continue;
                }

                var status = state.Status(); // the latest state, whatever was queued
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
            foreach (var (state, removed) in _pending)
            {
                if (removed || state.Retired)
                {
                    _rows.Remove(state);
                }
                else
                {
                    _rows.Add(state);
                }
            }

            _pending.Clear();
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWriteFailed(ex);
            return false;
        }
    }

    private async Task HeartbeatAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            var touched = await store.TouchTargetHealthAsync(InstanceId, now, cancellationToken);
            if (touched < _rows.Count)
            {
                // Rows are missing (e.g. swept while this instance could not reach the store): write them again.
                foreach (var state in _rows)
                {
                    _pending.TryAdd(state, false);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWriteFailed(ex);
        }
    }

    private async Task SweepAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            var deleted = await store.DeleteTargetHealthReportedBeforeAsync(now - ReportedTargetHealth.ExpireAfter, cancellationToken);
            if (deleted > 0)
            {
                LogSwept(deleted);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWriteFailed(ex);
        }
    }

    [LoggerMessage(EventId = 3111, Level = LogLevel.Information, Message = "Deleted {Count} target health rows no gateway has refreshed for an hour")]
    private partial void LogSwept(int count);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "Writing target health to the store failed")]
    private partial void LogWriteFailed(Exception exception);
}
