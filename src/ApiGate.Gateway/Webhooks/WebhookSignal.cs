namespace ApiGate.Gateway.Webhooks;

/// <summary>Wakes the delivery worker when this process records an event, so it need not wait for its next poll.</summary>
internal sealed class WebhookSignal
{
    private readonly SemaphoreSlim _pending = new(0, 1);

    /// <summary>Marks work as pending (several calls before the worker wakes count once).</summary>
    public void Notify()
    {
        try
        {
            _pending.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled; the worker will look once for all of them.
        }
    }

    /// <summary>
    /// Blocks the calling thread (the worker's own, on the system clock) until <see cref="Notify"/> or the poll interval,
    /// whichever comes first; throws <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public void Wait(TimeSpan interval, CancellationToken cancellationToken) => _pending.Wait(interval, cancellationToken);

    /// <summary>Waits for <see cref="Notify"/> or the poll interval, whichever comes first, on <paramref name="timeProvider"/>'s clock.</summary>
    public async Task WaitAsync(TimeSpan interval, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(interval, timeProvider, timeout.Token);
        var signalled = _pending.WaitAsync(timeout.Token);
        await Task.WhenAny(delay, signalled);
        await timeout.CancelAsync();
        cancellationToken.ThrowIfCancellationRequested();
        if (signalled.IsCompletedSuccessfully && !delay.IsCompletedSuccessfully)
        {
            return;
        }

        // The delay won; a signal that raced with the cancellation may have taken the count, which is harmless:
        // the worker polls now anyway.
    }
}
