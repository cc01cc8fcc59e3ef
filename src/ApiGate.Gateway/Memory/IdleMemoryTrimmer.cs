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
/// <para>
/// The same collection also runs, at most once per <see cref="SettledSpacing"/>, when a wave of new connections has
/// settled (<see cref="ConnectionsSettled"/>): thousands of streams opened and then stood still. What their
/// handshakes allocated is garbage by then, and the memory it took stays committed for as long as the streams stay
/// open — hours, for a streaming API — unless a compacting collection gives it back.
/// </para>
/// <para>
/// A third, cheaper rule bounds the garbage a gateway holding many streams carries between collections. The GC sizes
/// its young-generation budget from the live heap (DATAS), so with thousands of open streams — a large live heap —
/// it lets tens of MB of young garbage pile up before collecting, and while the streams stay busy that garbage is
/// resident: measured, 3,000 WebSocket sessions exchanging a message every 2 s grew RSS by ~1.7 MB/s for over a
/// minute, to ~50 KiB per session. Every <see cref="YoungInterval"/>, if no collection has run since the last look
/// and more than <see cref="YoungLimit"/> was allocated since the last collection, this runs one generation-1
/// collection (young objects only, a pause of a few milliseconds), so the next allocations reuse the memory just freed
/// instead of touching new pages. Under request load the GC collects more often than that by itself and this rule
/// never fires, so request throughput is unaffected.
/// </para>
/// </summary>
internal sealed partial class IdleMemoryTrimmer : BackgroundService
{
    /// <summary>How often the trimmer looks for an idle process; also the shortest quiet period that counts as idle.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    /// <summary>How often the trimmer looks for young garbage left uncollected (a divisor of <see cref="Interval"/>).</summary>
    internal static readonly TimeSpan YoungInterval = TimeSpan.FromSeconds(3);

    /// <summary>The shortest time between two trims for settled connection waves (each is a full compacting pause).</summary>
    internal static readonly TimeSpan SettledSpacing = TimeSpan.FromMinutes(5);

    /// <summary>Allocation since the last collection past which a quiet GC is prompted to collect young objects (bytes).</summary>
    internal const long YoungLimit = 8L * 1024 * 1024;

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

    /// <summary>
    /// Whether a wave of new connections has settled: at least a quarter more (and at least <see cref="MinimumClosed"/>
    /// more) connections are open than the fewest since the last trim, and the count moved by less than a twentieth
    /// (at least 64) since the last look — the streams are open and idle, and what their handshakes allocated is
    /// garbage now.
    /// </summary>
    internal static bool ConnectionsSettled(long connectionsNow, long connectionsAtLastLook, long fewestSinceLastTrim) =>
        connectionsNow - fewestSinceLastTrim >= Math.Max(MinimumClosed, fewestSinceLastTrim / 4)
        && Math.Abs(connectionsNow - connectionsAtLastLook) < Math.Max(64, connectionsNow / 20);

    /// <summary>
    /// Whether to prompt a young-generation collection: the GC has not collected since the last look, and more than
    /// <see cref="YoungLimit"/> was allocated since the last collection it ran.
    /// </summary>
    internal static bool ShouldCollectYoung(bool collectedSinceLastLook, long allocatedSinceLastCollection) =>
        !collectedSinceLastLook && allocatedSinceLastCollection > YoungLimit;

    /// <summary>The trimmer's thread when the clock is the system's (null with another clock, or before start).</summary>
    internal Thread? LookThread { get; private set; }

    /// <summary>
    /// Looks every <see cref="YoungInterval"/>. On the system clock the looks run on a thread of their own that sleeps
    /// between them (a timer on the thread pool wakes a worker that then spins before sleeping again, which at rest
    /// costs more than the look); any other clock (a test's) drives a timer instead.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var state = new LookState(this);
        var stopped = Core.Timing.OwnThread.Every("apigate memory trimmer", YoungInterval, _time, _ =>
        {
            Look(state);
            return ValueTask.CompletedTask;
        }, stoppingToken, out var thread);
        LookThread = thread;
        return stopped;
    }

    /// <summary>What the looks carry from one to the next (all read and written by the one loop).</summary>
    private sealed class LookState
    {
        public LookState(IdleMemoryTrimmer trimmer)
        {
            Allocated = AllocatedAtCollection = GC.GetTotalAllocatedBytes();
            Baseline = GC.GetTotalMemory(forceFullCollection: false);
            ConnectionsHigh = ConnectionsLow = ConnectionsAtLook = trimmer.OpenConnections;
            Collections = GC.CollectionCount(0);
        }

        public int Look;
        public long Allocated;
        public long Baseline;
        public long ConnectionsHigh;
        public long ConnectionsLow;
        public long ConnectionsAtLook;
        public int Collections;
        public long AllocatedAtCollection;
        public long? SettledTrimAt;
    }

    /// <summary>One look: a trim, a young collection, or nothing, by the rules above.</summary>
    private void Look(LookState state)
    {
        var allocatedNow = GC.GetTotalAllocatedBytes();
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        var connections = OpenConnections;
        state.ConnectionsHigh = Math.Max(state.ConnectionsHigh, connections);
        state.ConnectionsLow = Math.Min(state.ConnectionsLow, connections);
        var idleCheck = ++state.Look == (int)(Interval / YoungInterval);
        var settled = ConnectionsSettled(connections, state.ConnectionsAtLook, state.ConnectionsLow)
            && (state.SettledTrimAt is not { } last || _time.GetElapsedTime(last) >= SettledSpacing);
        if (settled || (idleCheck && ShouldTrim(allocatedNow - state.Allocated, heap, state.Baseline, connections, state.ConnectionsHigh)))
        {
            if (settled)
            {
                state.SettledTrimAt = _time.GetTimestamp();
            }

            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            state.Baseline = GC.GetTotalMemory(forceFullCollection: false);
            state.ConnectionsHigh = state.ConnectionsLow = connections;
            state.AllocatedAtCollection = allocatedNow;
            LogTrimmed(heap >> 20, state.Baseline >> 20, GC.GetGCMemoryInfo().TotalCommittedBytes >> 20, connections);
        }
        else
        {
            var collected = GC.CollectionCount(0) != state.Collections;
            if (ShouldCollectYoung(collected, allocatedNow - state.AllocatedAtCollection))
            {
                GC.Collect(1, GCCollectionMode.Forced, blocking: true);
                collected = true;
            }

            if (collected)
            {
                state.AllocatedAtCollection = allocatedNow; // as of this look: close enough to when the GC ran
            }

            if (idleCheck && heap < state.Baseline)
            {
                state.Baseline = heap; // collections shrank the heap on their own: measure growth from there
            }
        }

        state.Collections = GC.CollectionCount(0);
        state.ConnectionsAtLook = connections;
        if (idleCheck)
        {
            state.Look = 0;
            state.Allocated = allocatedNow;
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
