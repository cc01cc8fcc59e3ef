using System.Diagnostics.Metrics;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Contention on the store (docs/observability.md): how often a background write found the database locked by
/// another connection or process, and how long writes waited for the lock. On the <c>ApiGate</c> meter.
/// </summary>
internal sealed class StoreMetrics
{
    /// <summary>Bucket bounds (seconds) for lock waits: one busy timeout (a second or two) up to a long backup.</summary>
    public static readonly double[] LockWaitBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    private readonly Counter<long> _busy;
    private readonly Histogram<double> _lockWait;
    private long _busyTotal;

    public StoreMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        _busy = meter.CreateCounter<long>("apigate.store.busy",
            description: "Store write attempts that waited the busy timeout for a database lock held by another connection or process (each is retried).");
        _lockWait = meter.CreateHistogram("apigate.store.lock_wait", "s",
            "How long a store write that found the database locked waited until it went through (or gave up).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LockWaitBuckets });
    }

    /// <summary>Busy attempts so far (also readable without a metrics listener, for tests).</summary>
    public long BusyTotal => Interlocked.Read(ref _busyTotal);

    public void RecordBusy()
    {
        Interlocked.Increment(ref _busyTotal);
        _busy.Add(1);
    }

    public void RecordLockWait(TimeSpan waited) => _lockWait.Record(waited.TotalSeconds);
}
