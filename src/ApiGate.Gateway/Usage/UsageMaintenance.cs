using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Usage;

/// <summary>
/// Keeps usage storage bounded (SPEC §8): every <see cref="Interval"/> it compacts minute rollups older than
/// <see cref="UsageRetention.CompactAfter"/> into hour rows and hour rows into day rows, then deletes raw events, minute
/// rollups and hour rollups past their retention. Every step is its own short transaction of at most
/// <see cref="PruneBatchRows"/> rows or <see cref="CompactHoursPerStep"/> hours, run on the <see cref="StoreWriter"/>
/// thread so usage batches and other background writes queue between them instead of behind one long delete. The longest
/// transaction it held is measured (<see cref="LongestTransaction"/>, metric <c>apigate.usage.maintenance.longest_transaction</c>).
/// </summary>
internal sealed partial class UsageMaintenance(
    IUsageStore store, StoreWriter writer, UsageRetention retention, TimeProvider timeProvider, ILogger<UsageMaintenance> logger) : BackgroundService
{
    /// <summary>How often the job runs.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Rows deleted per transaction.</summary>
    public const int PruneBatchRows = 1000;

    /// <summary>Hours compacted per transaction (days: <see cref="CompactDaysPerStep"/>).</summary>
    public const int CompactHoursPerStep = 1;

    public const int CompactDaysPerStep = 1;

    private long _longestTicks;
    private long _pruned;

    /// <summary>The longest single transaction the job has held since start.</summary>
    public TimeSpan LongestTransaction => TimeSpan.FromTicks(Interlocked.Read(ref _longestTicks));

    /// <summary>Rows (raw events and rollups) deleted since start.</summary>
    public long Pruned => Interlocked.Read(ref _pruned);

    /// <summary>One pass: compaction, then every prune, each in short steps until nothing is left.</summary>
    public async Task<UsageMaintenanceResult> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var compactBefore = now - retention.CompactAfter;
        var hours = await RepeatAsync(ct => store.CompactUsageAsync(UsageGranularity.Hour, compactBefore, CompactHoursPerStep, ct), 0, cancellationToken);
        var days = await RepeatAsync(ct => store.CompactUsageAsync(UsageGranularity.Day, compactBefore, CompactDaysPerStep, ct), 0, cancellationToken);
        var events = await PruneAsync(UsageData.RawEvents, now - retention.RawEvents, cancellationToken);
        var minutes = await PruneAsync(UsageData.MinuteRollups, now - retention.MinuteRollups, cancellationToken);
        var hourRows = await PruneAsync(UsageData.HourRollups, now - retention.HourRollups, cancellationToken);
        var result = new UsageMaintenanceResult(hours, days, events, minutes, hourRows, LongestTransaction);
        if (events + minutes + hourRows > 0)
        {
            LogPruned(events, minutes, hourRows, LongestTransaction.TotalMilliseconds);
        }

        return result;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
                await Task.Delay(Interval, timeProvider, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFailed(ex);
                await Task.Delay(Interval, timeProvider, stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task<int> PruneAsync(UsageData data, DateTimeOffset before, CancellationToken cancellationToken)
    {
        var pruned = await RepeatAsync(ct => store.PruneUsageAsync(data, before, PruneBatchRows, ct), PruneBatchRows, cancellationToken);
        Interlocked.Add(ref _pruned, pruned);
        return pruned;
    }

    /// <summary>Runs <paramref name="step"/> on the writer thread until it returns no more than <paramref name="doneAt"/> (bounded).</summary>
    private async Task<int> RepeatAsync(Func<CancellationToken, Task<int>> step, int doneAt, CancellationToken cancellationToken)
    {
        var total = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var done = await writer.RunAsync(async ct =>
            {
                // Real time even under a test clock: this is a measurement, not a schedule.
                var started = TimeProvider.System.GetTimestamp();
                var n = await step(ct);
                var took = TimeProvider.System.GetElapsedTime(started).Ticks;
                for (var longest = Interlocked.Read(ref _longestTicks); took > longest; longest = Interlocked.Read(ref _longestTicks))
                {
                    Interlocked.CompareExchange(ref _longestTicks, took, longest);
                }

                return n;
            }, cancellationToken);
            total += done;
            if (doneAt == 0 ? done == 0 : done < doneAt)
            {
                break;
            }
        }

        return total;
    }

    [LoggerMessage(EventId = 5010, Level = LogLevel.Information,
        Message = "Usage retention deleted {Events} raw events, {Minutes} minute rollups and {Hours} hour rollups (longest transaction so far {LongestMs:0.0} ms)")]
    private partial void LogPruned(int events, int minutes, int hours, double longestMs);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Warning, Message = "Usage compaction or retention failed; trying again at the next run")]
    private partial void LogFailed(Exception exception);
}

/// <summary>What one <see cref="UsageMaintenance.RunOnceAsync"/> did: buckets compacted, rows deleted, and the longest transaction held so far.</summary>
internal sealed record UsageMaintenanceResult(int HoursCompacted, int DaysCompacted, int EventsPruned, int MinuteRollupsPruned, int HourRollupsPruned, TimeSpan LongestTransaction);

/// <summary>How long usage data is kept (docs/usage.md): raw events, minute and hour rollups, and when minutes are compacted. Day rollups are kept.</summary>
internal sealed record UsageRetention(TimeSpan RawEvents, TimeSpan MinuteRollups, TimeSpan HourRollups, TimeSpan CompactAfter);
