using System.Runtime;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Memory;

/// <summary>
/// Gives memory back to the operating system once the gateway goes quiet after a burst — typically thousands of
/// long-lived streams ending at once. The garbage collector only runs when the process allocates, so a gateway that
/// falls idle keeps the heap its last streams left behind (dead connections, pooled buffers evicted by Kestrel)
/// committed indefinitely. Every <see cref="Interval"/> this checks whether the process allocated less than
/// <see cref="IdleAllocation"/> since the last check (so it is close to idle and a collection costs nobody anything)
/// while the managed heap (live objects plus garbage not yet collected, <see cref="GC.GetTotalMemory(bool)"/>) has
/// grown well past what it was after the last trim; then it runs one aggressive, compacting collection, which
/// decommits the free space. (The GC's own figures, <see cref="GC.GetGCMemoryInfo()"/>, describe the last
/// collection, which on a quiet gateway may be from before the streams even opened.) Under load (requests, or streams
/// carrying events) the process allocates more than that and this never fires.
/// </summary>
internal sealed partial class IdleMemoryTrimmer(TimeProvider time, ILogger<IdleMemoryTrimmer> logger) : BackgroundService
{
    /// <summary>How often the trimmer looks; also the shortest quiet period that counts as idle.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    /// <summary>Allocation per <see cref="Interval"/> below which the process counts as idle (bytes).</summary>
    internal const long IdleAllocation = 4L * 1024 * 1024;

    /// <summary>Heap growth below this (bytes) is never worth a collection.</summary>
    internal const long MinimumGrowth = 16L * 1024 * 1024;

    /// <summary>
    /// Whether to trim now: less than <see cref="IdleAllocation"/> allocated since the last look, and the heap grew by
    /// more than a quarter (at least <see cref="MinimumGrowth"/>) over its size after the last trim.
    /// </summary>
    internal static bool ShouldTrim(long allocatedSinceLastLook, long heapNow, long heapAfterLastTrim) =>
        allocatedSinceLastLook < IdleAllocation
        && heapNow - heapAfterLastTrim > Math.Max(MinimumGrowth, heapAfterLastTrim / 4);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        var allocated = GC.GetTotalAllocatedBytes();
        var baseline = GC.GetTotalMemory(forceFullCollection: false);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var allocatedNow = GC.GetTotalAllocatedBytes();
                var heap = GC.GetTotalMemory(forceFullCollection: false);
                if (ShouldTrim(allocatedNow - allocated, heap, baseline))
                {
                    GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    baseline = GC.GetTotalMemory(forceFullCollection: false);
                    LogTrimmed(heap >> 20, baseline >> 20, GC.GetGCMemoryInfo().TotalCommittedBytes >> 20);
                }
                else if (heap < baseline)
                {
                    baseline = heap; // collections shrank the heap on their own: measure growth from there
                }

                allocated = allocatedNow;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 6201, Level = LogLevel.Debug, Message = "Idle: compacted the managed heap from {BeforeMiB} MiB to {AfterMiB} MiB ({CommittedMiB} MiB committed)")]
    private partial void LogTrimmed(long beforeMiB, long afterMiB, long committedMiB);
}
