using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Usage;

/// <summary>
/// Records usage events off the request path (SPEC §8). <see cref="TryRecord"/> copies the event into a preallocated
/// ring of structs (<see cref="UsageRing"/>): it allocates nothing, never waits and never throws; when the ring is full
/// the event is dropped, counted in <see cref="Dropped"/> and reported in a warning at most once per second. One
/// writer loop drains the ring in batches (up to <see cref="MaxBatchSize"/> events, or what arrived within
/// <see cref="BatchWindow"/>) into a reused array and writes each batch through the <see cref="StoreWriter"/> thread in
/// one transaction with its rollups and quota units (raw events only when enabled), then to the export if any. A
/// batch that finds the store locked waits there until the lock is released (nothing is dropped for that); a batch
/// that fails otherwise is retried <see cref="MaxAttempts"/> times, <see cref="RetryDelay"/> apart. <see cref="StopAsync"/>
/// refuses new events and returns only when everything taken has been written, so a graceful stop loses nothing; only
/// if the host's shutdown timeout expires first are the remaining events dropped (and counted).
/// </summary>
internal sealed partial class UsageRecorder : BackgroundService
{
    /// <summary>Default ring capacity: about 10 s of traffic at 1,000 requests per second, a few MB of memory.</summary>
    public const int DefaultCapacity = 10_000;

    /// <summary>
    /// The most characters of the request path an event keeps (its raw row, its export line and its slot in the ring).
    /// The path is the client's choice, up to the request line's 8 KiB: kept whole, 10,000 queued events of such requests
    /// would hold 160 MB while the store is locked, where a slot is meant to cost about 200 bytes.
    /// </summary>
    public const int MaxPathLength = 1_024;

    /// <summary>The most characters of the request method an event keeps (a custom method can be as long as the request line).</summary>
    public const int MaxMethodLength = 32;

    /// <summary>The most events one store transaction carries.</summary>
    public const int MaxBatchSize = 500;

    /// <summary>Write attempts per batch before it is dropped.</summary>
    public const int MaxAttempts = 3;

    /// <summary>How long a partial batch waits for more events before it is written.</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(200);

    /// <summary>Pause between write attempts of a failed batch.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>At most one queue-full warning per interval, however many events are dropped.</summary>
    public static readonly TimeSpan DropWarningInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a stop cut short waits for the write in progress to give up (a SQLite write waits up to its busy timeout).</summary>
    public static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(5);

    private readonly UsageRing _ring;
    private readonly UsageEvent[] _batch = new UsageEvent[MaxBatchSize];
    private readonly IUsageStore _store;
    private readonly StoreWriter _writer;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<UsageRecorder> _logger;
    private readonly RawUsageEvents _rawEvents;
    private readonly UsageExport? _export;
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _wakeLock = new();
    private TaskCompletionSource? _wake;
    private int _wakeAt; // 0: the writer is not waiting; n: wake it when n events are in the ring
    private int _completed;
    private int _producers;
    private long _written;
    private long _dropped;
    private long _lastDropWarning = long.MinValue;

    /// <param name="capacity">Events the ring holds before new ones are dropped; default <see cref="DefaultCapacity"/>.</param>
    /// <param name="rawEvents">Which requests get a raw row besides the rollups and quota units (<c>APIGATE_USAGE_RAW_EVENTS</c>).</param>
    /// <param name="export">Where raw events are also written as JSON lines, or null.</param>
    public UsageRecorder(
        IUsageStore store, StoreWriter writer, TimeProvider timeProvider, ILogger<UsageRecorder> logger, int capacity = DefaultCapacity,
        RawUsageEvents rawEvents = RawUsageEvents.Callers, UsageExport? export = null)
    {
        _ring = new UsageRing(capacity);
        _store = store;
        _writer = writer;
        _timeProvider = timeProvider;
        _logger = logger;
        _rawEvents = rawEvents;
        _export = export;
    }

    public int Capacity => _ring.Capacity;

    /// <summary>Events stored so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Events lost so far: refused by a full ring or a stopped recorder, or in a batch the store refused <see cref="MaxAttempts"/> times.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events waiting in the ring (not counting a batch being written).</summary>
    public int QueueDepth => _ring.Count;

    /// <summary>Queues the event for writing. False when it was dropped because the ring is full or the recorder has stopped.</summary>
    public bool TryRecord(in UsageEvent usageEvent)
    {
        // The producer count lets a stopping writer wait for an enqueue that saw the recorder still open.
        Interlocked.Increment(ref _producers);
        var accepted = Volatile.Read(ref _completed) == 0 && _ring.TryEnqueue(Held(usageEvent));
        Interlocked.Decrement(ref _producers);
        if (accepted)
        {
            var wakeAt = Volatile.Read(ref _wakeAt);
            if (wakeAt != 0 && _ring.Count >= wakeAt)
            {
                Wake();
            }

            return true;
        }

        var dropped = Interlocked.Increment(ref _dropped);
        var now = _timeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _lastDropWarning);
        if ((last == long.MinValue || _timeProvider.GetElapsedTime(last, now) >= DropWarningInterval)
            && Interlocked.CompareExchange(ref _lastDropWarning, now, last) == last)
        {
            LogQueueFull(Capacity, dropped);
        }

        return false;
    }

    /// <summary>
    /// What the ring keeps of an event: the client-sized strings (method, path, address, request id) only when a raw row
    /// or an export line will be written from them — rollups and quota never read them — and then the method and path
    /// cut to <see cref="MaxMethodLength"/> and <see cref="MaxPathLength"/> characters, so a queue held up by a locked
    /// store costs the same whatever paths the clients chose.
    /// </summary>
    internal UsageEvent Held(in UsageEvent usageEvent)
    {
        if (_export is null && !_rawEvents.Keeps(usageEvent))
        {
            return usageEvent with { Method = "", Path = "", ClientIp = "", RequestId = "" };
        }

        return usageEvent.Path.Length <= MaxPathLength && usageEvent.Method.Length <= MaxMethodLength
            ? usageEvent
            : usageEvent with { Method = Core.Text.TextCut.AtMost(usageEvent.Method, MaxMethodLength), Path = Core.Text.TextCut.AtMost(usageEvent.Path, MaxPathLength) };
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _completed, 1);
        Wake();
        // The host's shutdown timeout is the only thing that may cut the drain short.
        await using var abort = cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abort);
        await base.StopAsync(cancellationToken);
        if (cancellationToken.IsCancellationRequested && ExecuteTask is { IsCompleted: false } running)
        {
            // Cut short: the loop drops what is left and says so (5004) once the write in progress gives up, which a
            // SQLite write notices only when its busy wait ends. Waited for (bounded), or the process exited first and
            // the events were lost without a word.
            await running.WaitAsync(AbortGrace, _timeProvider).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        // The loop never ran when the recorder was not started, or was stopped before the thread pool got to it
        // (BackgroundService then cancels it unstarted): write what was queued here instead.
        if (ExecuteTask is null || ExecuteTask.IsCanceled)
        {
            await DrainAsync();
        }

        _export?.Dispose();
    }

    public override void Dispose()
    {
        base.Dispose();
        _abort.Dispose();
    }

    // The stopping token is not used: the loop ends when StopAsync has closed the ring and it is empty.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => DrainAsync();

    private bool Completed => Volatile.Read(ref _completed) != 0;

    private async Task DrainAsync()
    {
        while (true)
        {
            var count = Take(0);
            if (count == 0)
            {
                if (Completed)
                {
                    if (Volatile.Read(ref _producers) == 0 && _ring.Count == 0)
                    {
                        return;
                    }

                    await Task.Yield(); // an enqueue that saw the recorder open is finishing
                    continue;
                }

                await WaitAsync(1, null);
                continue;
            }

            if (_abort.IsCancellationRequested)
            {
                DropRemaining(count);
                return;
            }

            if (count < MaxBatchSize && !Completed)
            {
                count = await FillAsync(count);
            }

            await WriteAsync(count);
        }
    }

    /// <summary>Keeps taking what arrives until the batch is full, the window closes or the recorder stops.</summary>
    private async Task<int> FillAsync(int count)
    {
        var window = Task.Delay(BatchWindow, _timeProvider);
        while (count < MaxBatchSize && !Completed && !window.IsCompleted)
        {
            await WaitAsync(MaxBatchSize - count, window);
            count = Take(count);
        }

        return count;
    }

    private int Take(int count)
    {
        while (count < MaxBatchSize && _ring.TryDequeue(out _batch[count]))
        {
            count++;
        }

        return count;
    }

    /// <summary>Waits until <paramref name="events"/> are in the ring, the recorder stops, or <paramref name="timeout"/> completes.</summary>
    private async Task WaitAsync(int events, Task? timeout)
    {
        TaskCompletionSource wake;
        lock (_wakeLock)
        {
            wake = _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _wakeAt, events);
        }

        // Checked after arming: an event enqueued before the producer could see _wakeAt is not missed.
        if (_ring.Count < events && !Completed)
        {
            await (timeout is null ? wake.Task : Task.WhenAny(wake.Task, timeout));
        }

        Volatile.Write(ref _wakeAt, 0);
    }

    private void Wake()
    {
        TaskCompletionSource? wake;
        lock (_wakeLock)
        {
            wake = _wake;
            _wake = null;
            Volatile.Write(ref _wakeAt, 0);
        }

        wake?.TrySetResult();
    }

    private async Task WriteAsync(int count)
    {
        var batch = new ArraySegment<UsageEvent>(_batch, 0, count);
        var stored = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _writer.RunAsync(ct => _store.AddUsageEventsAsync(batch, _rawEvents, ct), _abort.Token);
                Interlocked.Add(ref _written, count);
                // The export only once the batch is stored, and outside this retried part: a failing export must never
                // make the batch be stored again (its quota units would count twice).
                stored = true;
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                Interlocked.Add(ref _dropped, count);
                LogStopAborted(count);
                return;
            }
            catch (Exception ex) when (attempt < MaxAttempts)
            {
                LogWriteFailed(ex, count, attempt, MaxAttempts);
            }
            catch (Exception ex)
            {
                Interlocked.Add(ref _dropped, count);
                LogBatchDropped(ex, count, attempt);
                return;
            }

            if (stored)
            {
                Export(batch);
                return;
            }

            try
            {
                await Task.Delay(RetryDelay, _timeProvider, _abort.Token);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Add(ref _dropped, count);
                LogStopAborted(count);
                return;
            }
        }
    }

    private void Export(ArraySegment<UsageEvent> batch)
    {
        if (_export is null)
        {
            return;
        }

        try
        {
            _export.Write(batch);
        }
        catch (Exception ex)
        {
            // Whatever the file system says (a full disk, a directory made read-only): the batch is stored, only its
            // copy in the export is missing — logged, and the recorder goes on.
            LogExportFailed(ex, batch.Count);
        }
    }

    private void DropRemaining(int taken)
    {
        var count = taken;
        while (_ring.TryDequeue(out _))
        {
            count++;
        }

        Interlocked.Add(ref _dropped, count);
        LogStopAborted(count);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning,
        Message = "Usage queue is full ({Capacity} events): usage events are being dropped ({Dropped} dropped since start)")]
    private partial void LogQueueFull(int capacity, long dropped);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Writing {Count} usage events failed (attempt {Attempt} of {MaxAttempts}); retrying")]
    private partial void LogWriteFailed(Exception exception, int count, int attempt, int maxAttempts);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Error, Message = "Dropped {Count} usage events after {Attempts} failed write attempts")]
    private partial void LogBatchDropped(Exception exception, int count, int attempts);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Error, Message = "Shutdown timed out while writing usage events; dropped {Count} of them")]
    private partial void LogStopAborted(int count);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Warning, Message = "Exporting {Count} usage events failed; they are stored but not exported")]
    private partial void LogExportFailed(Exception exception, int count);
}
