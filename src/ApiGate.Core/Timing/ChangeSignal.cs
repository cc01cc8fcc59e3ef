namespace ApiGate.Core.Timing;

/// <summary>
/// Lets a background loop sleep until something changes instead of looking again on a timer: <see cref="Next"/>
/// completes at the next <see cref="Raise"/>. Take <see cref="Next"/> before reading the state it guards; a change made
/// between the two then completes the task taken, so it is never missed. Raising allocates one task; meant for rare
/// events (a reload, an ejection), not for each request.
/// </summary>
public sealed class ChangeSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="Raise"/> after it was read.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    /// <summary>Wakes whoever waits on the <see cref="Next"/> they took.</summary>
    public void Raise() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
