using System.Diagnostics.Metrics;
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
/// and whether there is memory to give back: the managed heap (live objects plus garbage not yet collected,
/// <see cref="GC.GetTotalMemory(bool)"/>) grew well past its size after the last trim, or many of the connections
/// open at the last trim (or since) have closed — their objects are garbage now, even though the heap did not grow.
/// Then it runs one aggressive, compacting collection, which decommits the free space. (The GC's own figures,
/// <see cref="GC.GetGCMemoryInfo()"/>, describe the last collection, which on a quiet gateway may be from before the
/// streams even opened.) Under load (requests, or streams carrying many events) the process allocates more than that
/// and this never fires; idle streams allocate almost nothing, so a trim may run while they are open — and the
/// connection rule is what makes the next one run once they end.
/// </summary>
internal sealed partial class IdleMemoryTrimmer : BackgroundService
{
    /// <summary>How often the trimmer looks; also the shortest quiet period that counts as idle.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    /// <summary>Allocation per <see cref="Interval"/> below which the process counts as idle (bytes).</summary>
    internal const long IdleAllocation = 4L * 1024 * 1024;

    /// <summary>Heap growth below this (bytes) is never worth a collection.</summary>
    internal const long MinimumGrowth = 16L * 1024 * 1024;

    /// <summary>Fewer closed connections than this are never worth a collection (each held a few tens of KiB).</summary>
    internal const long MinimumClosed = 256;

    private const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";
    private const string ActiveConnections = "kestrel.active_connections";

    private readonly TimeProvider _time;
    private readonly ILogger<IdleMemoryTrimmer> _logger;
    private readonly MeterListener _connectionsListener;
    private long _connections;

    public IdleMemoryTrimmer(TimeProvider time, IMeterFactory meters, ILogger<IdleMemoryTrimmer> logger)
    {
        _time = time;
        _logger = logger;

        // Kestrel's own up/down counter of open connections (every listener of this host: its meter comes from this
        // host's meter factory), +1 and -1 per connection: one add per connection, nothing per request.
        _connectionsListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument is { Name: ActiveConnections, Meter.Name: KestrelMeter } && ReferenceEquals(instrument.Meter.Scope, meters))
                {
                    listener.EnableMeasurementEvents(instrument, this);
                }
            },
        };
        _connectionsListener.SetMeasurementEventCallback<long>(static (_, change, _, state) =>
            Interlocked.Add(ref ((IdleMemoryTrimmer)state!)._connections, change));
        _connectionsListener.Start();
    }

    /// <summary>The connections open on the server now (as Kestrel counts them).</summary>
    internal long OpenConnections => Interlocked.Read(ref _connections);

    /// <summary>
    /// Whether to trim now: less than <see cref="IdleAllocation"/> allocated since the last look, and either the heap
    /// grew by more than a quarter (at least <see cref="MinimumGrowth"/>) over its size after the last trim, or at
    /// least a quarter (and at least <see cref="MinimumClosed"/>) of the most connections open since the last trim
    /// have closed.
    /// </summary>
    internal static bool ShouldTrim(long allocatedSinceLastLook, long heapNow, long heapAfterLastTrim, long connectionsNow = 0, long connectionsHigh = 0) =>
        allocatedSinceLastLook < IdleAllocation
        && (heapNow - heapAfterLastTrim > Math.Max(MinimumGrowth, heapAfterLastTrim / 4)
            || connectionsHigh - connectionsNow >= Math.Max(MinimumClosed, connectionsHigh / 4));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        var allocated = GC.GetTotalAllocatedBytes();
        var baseline = GC.GetTotalMemory(forceFullCollection: false);
        var connectionsHigh = OpenConnections;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var allocatedNow = GC.GetTotalAllocatedBytes();
                var heap = GC.GetTotalMemory(forceFullCollection: false);
                var connections = OpenConnections;
                connectionsHigh = Math.Max(connectionsHigh, connections);
                if (ShouldTrim(allocatedNow - allocated, heap, baseline, connections, connectionsHigh))
                {
                    GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    baseline = GC.GetTotalMemory(forceFullCollection: false);
                    connectionsHigh = connections;
                    LogTrimmed(heap >> 20, baseline >> 20, GC.GetGCMemoryInfo().TotalCommittedBytes >> 20, connections);
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

    public override void Dispose()
    {
        _connectionsListener.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 6201, Level = LogLevel.Debug, Message = "Idle: compacted the managed heap from {BeforeMiB} MiB to {AfterMiB} MiB ({CommittedMiB} MiB committed, {Connections} connections open)")]
    private partial void LogTrimmed(long beforeMiB, long afterMiB, long committedMiB, long connections);
}
