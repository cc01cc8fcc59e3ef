using ApiGate.Gateway.Observability;
using ApiGate.Core.Storage;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Persistence;

/// <summary>
/// The one thread on which the gateway's background writes reach the store: usage events with their quota units,
/// keys' and admin tokens' last use, target health. SQLite calls block their thread while they wait for the database
/// lock (another process, a CLI, a backup holding it), so none of them may run on the thread pool that serves
/// requests: callers queue a write here and await it without holding a thread. A write that finds the lock held
/// waits the store's busy timeout, is counted (<see cref="StoreMetrics"/>), and is tried again until the lock is
/// released or the caller gives up, so nothing queued while the store is locked is lost.
/// </summary>
internal sealed partial class StoreWriter : IDisposable
{
    /// <summary>Pause between two attempts of a write that found the store locked (each attempt already waited the busy timeout).</summary>
    public static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long one write may run before it is reported as waiting for the store even though the store never said it
    /// was busy: a database server that stopped answering, or one whose COMMIT answer was lost and that is asked again
    /// until it says whether the write committed (PostgreSQL).
    /// </summary>
    public static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(5);

    // Unbounded: every producer bounds itself (the usage queue's capacity, one flush per second, health changes).
    // Guarded by itself; the thread waits on it with Monitor.Wait, which sleeps at once. (A BlockingCollection's
    // semaphore spins with sched_yield first: measured at 1.4 % of the gateway's CPU under load, for nothing.)
    private readonly Queue<Job> _jobs = new();
    private bool _completed;
    private readonly Thread _thread;
    private readonly StoreMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<StoreWriter> _logger;

    // The write running now (writer thread) and the outage reported, if any: when the first write that waited in it
    // began. Guarded by _watch (the stall timer fires on the thread pool). An outage spans writes: a write that fails or
    // is given up while the store is away does not end it, only one that goes through.
    private readonly object _watch = new();
    private readonly ITimer _stallTimer;
    private long _runningSince;
    private long _outageSince;

    public StoreWriter(StoreMetrics metrics, TimeProvider timeProvider, ILogger<StoreWriter> logger)
    {
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        _stallTimer = timeProvider.CreateTimer(static state => ((StoreWriter)state!).ReportWait(null), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _thread = new Thread(Loop) { IsBackground = true, Name = "apigate-store-writer" };
        _thread.Start();
    }

    /// <summary>The writer thread's managed id (tests check that store writes run there).</summary>
    public int ThreadId => _thread.ManagedThreadId;

    /// <summary>Writes queued and not yet finished.</summary>
    public int QueueDepth
    {
        get
        {
            lock (_jobs)
            {
                return _jobs.Count;
            }
        }
    }

    /// <summary>Queues <paramref name="write"/> for the writer thread; completes when it has run (or failed, or was cancelled).</summary>
    public Task RunAsync(Func<CancellationToken, Task> write, CancellationToken cancellationToken) =>
        RunAsync(async ct =>
        {
            await write(ct);
            return true;
        }, cancellationToken);

    /// <inheritdoc cref="RunAsync(Func{CancellationToken, Task}, CancellationToken)"/>
    public Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken)
    {
        var job = new Job<T>(write, cancellationToken);
        lock (_jobs)
        {
            if (!_completed)
            {
                _jobs.Enqueue(job);
                if (_jobs.Count == 1)
                {
                    Monitor.Pulse(_jobs); // the thread waits only when the queue is empty
                }

                job.CancelWhileQueued();
                return job.Completion.Task;
            }
        }

        // the gateway is shutting down
        return Task.FromException<T>(new ObjectDisposedException(nameof(StoreWriter), "the store writer has stopped"));
    }

    /// <summary>Stops taking writes; the thread finishes the ones queued and ends.</summary>
    public void Dispose()
    {
        lock (_jobs)
        {
            _completed = true;
            Monitor.Pulse(_jobs);
        }

        _stallTimer.Dispose();
    }

    private void Loop()
    {
        while (Next() is { } job)
        {
            job.Execute(this);
        }
    }

    /// <summary>The next queued write, waiting for one; null once the writer is disposed and the queue is empty.</summary>
    private Job? Next()
    {
        lock (_jobs)
        {
            while (_jobs.Count == 0)
            {
                if (_completed)
                {
                    return null;
                }

                Monitor.Wait(_jobs);
            }

            return _jobs.Dequeue();
        }
    }

    /// <summary>Runs one write on this thread, again and again while the store is locked.</summary>
    private void Execute<T>(Job<T> job)
    {
        if (!job.TryStart())
        {
            return; // cancelled while it waited in the queue: its caller has already been told
        }

        var token = job.CancellationToken;
        T? result = default;
        Exception? failure = null;
        var cancelled = false;
        Started();
        try
        {
            while (true)
            {
                token.ThrowIfCancellationRequested();
                try
                {
                    // The store's calls complete synchronously (SQLite has no asynchronous I/O): waiting here blocks only this thread.
                    result = job.Write(token).GetAwaiter().GetResult();
                    break;
                }
                catch (StoreBusyException ex)
                {
                    _metrics.RecordBusy();
                    ReportWait(ex.Message);
                    token.WaitHandle.WaitOne(RetryPause);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            cancelled = true;
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            Finished(wentThrough: !cancelled && failure is null);
        }

        // Answered once the write is closed, so a caller that goes on at once (and a clock that moves on) never finds
        // it still running and reported as waiting.
        if (cancelled)
        {
            job.Completion.TrySetCanceled(token);
        }
        else if (failure is not null)
        {
            job.Completion.TrySetException(failure);
        }
        else
        {
            job.Completion.TrySetResult(result!);
        }
    }

    /// <summary>A write begins: the stall timer is set for it.</summary>
    private void Started()
    {
        lock (_watch)
        {
            _runningSince = _timeProvider.GetTimestamp();
        }

        _stallTimer.Change(StallAfter, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Writes that wait for the store are reported once per outage, however they waited: the store said it was busy
    /// (<paramref name="reason"/>), or the stall timer fired (<paramref name="reason"/> null) — unless that timer was late
    /// for a write that has ended (the next one has its own). A PostgreSQL restart under traffic fails the batch in
    /// flight and has the next one wait again: one outage, one warning.
    /// </summary>
    private void ReportWait(string? reason)
    {
        lock (_watch)
        {
            if (_runningSince == 0 || _outageSince != 0 || (reason is null && _timeProvider.GetElapsedTime(_runningSince) < StallAfter))
            {
                return;
            }

            _outageSince = _runningSince;
        }

        LogLocked(reason ?? $"a write has had no answer from the store for {StallAfter.TotalSeconds:0} s (the database not answering, or slow)");
    }

    /// <summary>
    /// The write ended: if it went through, an outage that was reported is reported over, with how long it lasted
    /// (since the first write that waited in it began). One that failed or was given up leaves the outage open.
    /// </summary>
    private void Finished(bool wentThrough)
    {
        _stallTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var reported = false;
        long since;
        lock (_watch)
        {
            since = _outageSince;
            _runningSince = 0;
            if (wentThrough && since != 0)
            {
                reported = true;
                _outageSince = 0;
            }
        }

        if (reported)
        {
            var waited = _timeProvider.GetElapsedTime(since);
            _metrics.RecordLockWait(waited);
            LogLockReleased(waited.TotalSeconds);
        }
    }

    private abstract class Job
    {
        public abstract void Execute(StoreWriter writer);
    }

    private sealed class Job<T>(Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken) : Job
    {
        private const int Queued = 0, Running = 1, Cancelled = 2;
        private int _state;
        private CancellationTokenRegistration _registration;

        public Func<CancellationToken, Task<T>> Write { get; } = write;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // Continuations must not run on the writer thread: it has other writes to do.
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>
        /// A write still queued when its token is cancelled completes as cancelled at once and never runs. Otherwise its
        /// caller waited for every write ahead of it — a usage batch retried for as long as another process held the
        /// database lock — whatever its own token said: a stop held that way outlived its shutdown timeout.
        /// </summary>
        public void CancelWhileQueued()
        {
            if (CancellationToken.CanBeCanceled)
            {
                _registration = CancellationToken.Register(static state =>
                {
                    var job = (Job<T>)state!;
                    if (Interlocked.CompareExchange(ref job._state, Cancelled, Queued) == Queued)
                    {
                        job.Completion.TrySetCanceled(job.CancellationToken);
                    }
                }, this);
            }
        }

        /// <summary>Whether the write may run (it was not cancelled while queued); from then on its token is checked between attempts.</summary>
        public bool TryStart()
        {
            _registration.Dispose();
            return Interlocked.CompareExchange(ref _state, Running, Queued) == Queued;
        }

        public override void Execute(StoreWriter writer) => writer.Execute(this);
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning,
        Message = "Store writes are waiting: {Reason}. Requests are still served; usage, quota units and last-use times are kept in memory and written once the store takes writes again")]
    private partial void LogLocked(string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Store write went through after waiting {Seconds:0.0} s for the store (locked, or not answering)")]
    private partial void LogLockReleased(double seconds);
}
