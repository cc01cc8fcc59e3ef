namespace ApiGate.Core.Webhooks;

/// <summary>
/// When a failed delivery is tried again: after <see cref="RetryBase"/>, then twice as long after each further
/// failure (at most <see cref="MaxDelay"/> between two attempts), until the next attempt would come later than
/// <see cref="MaxAge"/> after the delivery started; then it is failed. A longer wait the endpoint asks for is kept, up to
/// <see cref="MaxDelay"/>.
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

    /// <summary>
    /// The next attempt's time after a failure at <paramref name="now"/>, or null when the delivery should be failed.
    /// <paramref name="retryAfter"/> is the wait the endpoint asked for (its <c>Retry-After</c>): the next attempt comes
    /// no sooner, but never more than <see cref="MaxDelay"/> after <paramref name="now"/>, so an endpoint cannot park its
    /// deliveries for days.
    /// </summary>
    public DateTimeOffset? NextAttempt(int failedAttempts, DateTimeOffset startedAt, DateTimeOffset now, TimeSpan? retryAfter = null)
    {
        var delay = DelayAfter(failedAttempts);
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < MaxDelay ? asked : MaxDelay;
        }

        var next = now + delay;
        return next - startedAt > MaxAge ? null : next;
    }
}
