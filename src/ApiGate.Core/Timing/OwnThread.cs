namespace ApiGate.Core.Timing;

/// <summary>
/// Runs a background loop that looks at something every second or so (the config version, the webhook outbox, the
/// heap) on a thread of its own that sleeps between its looks. On the thread pool's timers each look wakes a pool
/// worker, which then spins before it sleeps again: at rest that spin costs more than the look itself
/// (docs/performance.md, "What wakes a gateway between probes" and "A gateway at rest, a third time").
/// </summary>
public static class OwnThread
{
    /// <summary>
    /// Starts <paramref name="loop"/> on a new background thread named <paramref name="name"/>, passing it
    /// <paramref name="stoppingToken"/>. The task returned completes when the loop returns, or ends in an
    /// <see cref="OperationCanceledException"/> once <paramref name="stoppingToken"/> is cancelled; any other exception
    /// faults it, as an exception in a service's async loop would, so the host stops cleanly instead of an unhandled
    /// exception on a thread ending the process. <paramref name="thread"/> is the thread, already started.
    /// </summary>
    public static Task Start(string name, Action<CancellationToken> loop, CancellationToken stoppingToken, out Thread thread)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        thread = new Thread(() =>
        {
            try
            {
                loop(stoppingToken);
                stopped.TrySetResult();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                stopped.TrySetResult(); // stopping
            }
            catch (Exception ex)
            {
                stopped.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return stopped.Task;
    }

    /// <summary>
    /// Runs <paramref name="look"/> every <paramref name="interval"/> until <paramref name="stoppingToken"/> is cancelled:
    /// on the system clock on a thread of its own named <paramref name="name"/> (see <see cref="Start"/>;
    /// <paramref name="thread"/> is that thread), on any other clock (a test's) on a timer of that clock
    /// (<paramref name="thread"/> is null). The task completes once stopped; an exception from a look faults it.
    /// </summary>
    public static Task Every(
        string name, TimeSpan interval, TimeProvider time, Func<CancellationToken, ValueTask> look, CancellationToken stoppingToken, out Thread? thread)
    {
        if (time != TimeProvider.System)
        {
            thread = null;
            return OnTimerAsync(interval, time, look, stoppingToken);
        }

        var stopped = Start(name, token =>
        {
            while (Sleep(interval, token))
            {
                // A look that completes synchronously (SQLite) runs on this thread; one that waits, waits here.
                look(token).AsTask().GetAwaiter().GetResult();
            }
        }, stoppingToken, out var started);
        thread = started;
        return stopped;
    }

    private static async Task OnTimerAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, ValueTask> look, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await look(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>
    /// Sleeps <paramref name="interval"/> on the calling thread, or less if <paramref name="stoppingToken"/> is cancelled
    /// first. Returns whether to go on (false: stopping).
    /// </summary>
    public static bool Sleep(TimeSpan interval, CancellationToken stoppingToken) => !stoppingToken.WaitHandle.WaitOne(interval);
}
