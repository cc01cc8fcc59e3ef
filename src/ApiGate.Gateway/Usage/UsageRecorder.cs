using System.Threading.Channels;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Usage;

/// <summary>
/// Records usage events off the request path (SPEC §8). <see cref="TryRecord"/> only offers the event to a bounded
/// in-memory queue: it never waits and never throws, and when the queue is full the event is dropped, counted in
/// <see cref="Dropped"/> and reported in a warning at most once per second. A background loop writes the queue to
/// the store in batches (up to <see cref="MaxBatchSize"/> events, or what arrived within <see cref="BatchWindow"/>)
/// through the <see cref="StoreWriter"/> thread, each batch in one transaction with the quota units it carries. A
/// batch that finds the store locked waits there until the lock is released (nothing is dropped for that); a batch
/// that fails otherwise is retried <see cref="MaxAttempts"/> times, <see cref="RetryDelay"/> apart. <see cref="StopAsync"/>
/// closes the queue and returns only when everything in it has been written, so a graceful stop loses nothing;
/// only if the host's shutdown timeout expires first are the remaining events dropped (and counted).
/// </summary>
internal sealed partial class UsageRecorder : BackgroundService
{
    /// <summary>Default queue capacity: about 10 s of traffic at 1,000 requests per second, a few MB of memory.</summary>
    public const int DefaultCapacity = 10_000;

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

    private readonly Channel<UsageEvent> _queue;
    private readonly IUsageStore _store;
    private readonly StoreWriter _writer;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<UsageRecorder> _logger;
    private readonly CancellationTokenSource _abort = new();
    private long _written;
    private long _dropped;
    private long _lastDropWarning = long.MinValue;

    /// <param name="capacity">Events the queue holds before new ones are dropped; default <see cref="DefaultCapacity"/>.</param>
    public UsageRecorder(IUsageStore store, StoreWriter writer, TimeProvider timeProvider, ILogger<UsageRecorder> logger, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _writer = writer;
        _timeProvider = timeProvider;
        _logger = logger;
        Capacity = capacity;
        // FullMode.Wait makes TryWrite refuse (rather than silently discard) when full, so every drop is counted.
        _queue = Channel.CreateBounded<UsageEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public int Capacity { get; }

    /// <summary>Events stored so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Events lost so far: refused by a full (or closed) queue, or in a batch the store refused <see cref="MaxAttempts"/> times.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events waiting in the queue (not counting a batch being written).</summary>
    public int QueueDepth => _queue.Reader.Count;

    /// <summary>Queues the event for writing. False when it was dropped because the queue is full or the recorder has stopped.</summary>
    public bool TryRecord(UsageEvent usageEvent)
    {
        if (_queue.Writer.TryWrite(usageEvent))
        {
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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        // The host's shutdown timeout is the only thing that may cut the drain short.
        await using var abort = cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abort);
        await base.StopAsync(cancellationToken);

        // The loop never ran when the recorder was not started, or was stopped before the thread pool got to it
        // (BackgroundService then cancels it unstarted): write what was queued here instead.
        if (ExecuteTask is null || ExecuteTask.IsCanceled)
        {
            await DrainAsync();
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _abort.Dispose();
    }

    // The stopping token is not used: the loop ends when StopAsync has closed the queue and it is empty.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => DrainAsync();

    private async Task DrainAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<UsageEvent>(MaxBatchSize);
        while (await reader.WaitToReadAsync())
        {
            if (_abort.IsCancellationRequested)
            {
                DropRemaining(reader);
                return;
            }

            await FillAsync(reader, batch);
            await WriteAsync(batch);
            batch.Clear();
        }
    }

    /// <summary>Takes what is queued, then keeps taking what arrives until the batch is full or the window closes.</summary>
    private async Task FillAsync(ChannelReader<UsageEvent> reader, List<UsageEvent> batch)
    {
        Take(reader, batch);
        if (batch.Count >= MaxBatchSize)
        {
            return;
        }

        using var window = new CancellationTokenSource(BatchWindow, _timeProvider);
        try
        {
            // False once the queue is closed and empty: a stopping recorder writes at once instead of waiting.
            while (batch.Count < MaxBatchSize && await reader.WaitToReadAsync(window.Token))
            {
                Take(reader, batch);
            }
        }
        catch (OperationCanceledException) when (window.IsCancellationRequested)
        {
            // window closed
        }
    }

    private static void Take(ChannelReader<UsageEvent> reader, List<UsageEvent> batch)
    {
        while (batch.Count < MaxBatchSize && reader.TryRead(out var usageEvent))
        {
            batch.Add(usageEvent);
        }
    }

    private async Task WriteAsync(List<UsageEvent> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _writer.RunAsync(ct => _store.AddUsageEventsAsync(batch, ct), _abort.Token);
                Interlocked.Add(ref _written, batch.Count);
                return;
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                Interlocked.Add(ref _dropped, batch.Count);
                LogStopAborted(batch.Count);
                return;
            }
            catch (Exception ex) when (attempt < MaxAttempts)
            {
                LogWriteFailed(ex, batch.Count, attempt, MaxAttempts);
            }
            catch (Exception ex)
            {
                Interlocked.Add(ref _dropped, batch.Count);
                LogBatchDropped(ex, batch.Count, attempt);
                return;
            }

            try
            {
                await Task.Delay(RetryDelay, _timeProvider, _abort.Token);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Add(ref _dropped, batch.Count);
                LogStopAborted(batch.Count);
                return;
            }
        }
    }

    private void DropRemaining(ChannelReader<UsageEvent> reader)
    {
        var count = 0;
        while (reader.TryRead(out _))
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
}
