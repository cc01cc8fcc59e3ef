namespace ApiGate.Core.Webhooks;

/// <summary>
/// When a failed delivery is tried again: after <see cref="RetryBase"/>, then twice as long after each further
/// failure (at most <see cref="MaxDelay"/> between two attempts), until the next attempt would come later than
/// <see cref="MaxAge"/> after the delivery started; then it is failed. Each wait is spread at random by up to
/// <see cref="JitterShare"/> (<see cref="JitteredDelayAfter"/>, drawing from <paramref name="Draws"/> when given), so
/// deliveries that failed together (endpoints behind one proxy answering 502) do not come back together at every step. A longer wait the endpoint asks for is kept, up to <see cref="MaxDelay"/>.
/// </summary>
public sealed record WebhookRetrySchedule(TimeSpan RetryBase, TimeSpan MaxAge, Random? Draws = null)
{
    /// <summary>The longest wait between two attempts.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromHours(1);

    /// <summary>How far a wait is spread: up to this share of the step longer (or of <see cref="MaxDelay"/> shorter, near it).</summary>
    public const double JitterShare = 0.2;

    private Random Draw => Draws ?? Random.Shared;

    /// <summary>The wait after the <paramref name="failedAttempts"/>-th failed attempt (1 = the first), before jitter.</summary>
    public TimeSpan DelayAfter(int failedAttempts)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var ticks = RetryBase.Ticks * Math.Pow(2, exponent);
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>
    /// <see cref="DelayAfter"/> spread at random: the step and up to a fifth more; a draw that would pass
    /// <see cref="MaxDelay"/> is taken below it instead, by as much (else every delivery at the cap would wait exactly
    /// the hour, together again). So a wait is never above the cap, nor below the step or four fifths of the cap.
    /// </summary>
    public TimeSpan JitteredDelayAfter(int failedAttempts)
    {
        var step = DelayAfter(failedAttempts);
        var share = Draw.NextDouble() * JitterShare;
        var longer = step.Ticks * (1 + share);
        return longer <= MaxDelay.Ticks ? TimeSpan.FromTicks((long)longer) : TimeSpan.FromTicks((long)(MaxDelay.Ticks * (1 - share)));
    }

    /// <summary>
    /// The next attempt's time after a failure at <paramref name="now"/>, or null when the delivery should be failed.
    /// <paramref name="retryAfter"/> is the wait the endpoint asked for (its <c>Retry-After</c>): the next attempt comes
    /// no sooner, but never more than <see cref="MaxDelay"/> after <paramref name="now"/>, so an endpoint cannot park its
    /// deliveries for days.
    /// </summary>
    public DateTimeOffset? NextAttempt(int failedAttempts, DateTimeOffset startedAt, DateTimeOffset now, TimeSpan? retryAfter = null)
    {
        var delay = JitteredDelayAfter(failedAttempts);
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < MaxDelay ? asked : MaxDelay;
        }

        var next = now + delay;
        return next - startedAt > MaxAge ? null : next;
    }
}
