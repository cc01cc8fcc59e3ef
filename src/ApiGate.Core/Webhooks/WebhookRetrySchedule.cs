namespace ApiGate.Core.Webhooks;

/// <summary>
/// When a failed delivery is tried again: after <see cref="RetryBase"/>, then twice as long after each further
/// failure (at most <see cref="MaxDelay"/> between two attempts), until the next attempt would come later than
/// <see cref="MaxAge"/> after the delivery started; then it is failed.
/// </summary>
public sealed record WebhookRetrySchedule(TimeSpan RetryBase, TimeSpan MaxAge)
{
    /// <summary>The longest wait between two attempts.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromHours(1);

    /// <summary>The wait after the <paramref name="failedAttempts"/>-th failed attempt (1 = the first).</summary>
    public TimeSpan DelayAfter(int failedAttempts)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var ticks = RetryBase.Ticks * Math.Pow(2, exponent);
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The next attempt's time after a failure at <paramref name="now"/>, or null when the delivery should be failed.</summary>
    public DateTimeOffset? NextAttempt(int failedAttempts, DateTimeOffset startedAt, DateTimeOffset now)
    {
        var next = now + DelayAfter(failedAttempts);
        return next - startedAt > MaxAge ? null : next;
    }
}
