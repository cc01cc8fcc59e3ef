namespace ApiGate.Gateway.Billing;

/// <summary>Timing of <see cref="OverageReporter"/>; the defaults suit production.</summary>
internal sealed class OverageReporterOptions
{
    /// <summary>How often the outbox is read when the last pass found nothing to send; default 10 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a claimed row is reserved for this instance; default 5 min, longer than one provider call may take, so a
    /// live instance's claim never expires mid-send. A crashed instance's claims are taken over once they expire.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long after a row's first attempt it may still be sent again on its own; default 23 h. Stripe keeps an
    /// idempotency key (and a meter event's identifier) for at least 24 hours: a resend after that could be counted
    /// twice, so an older row that is still unsent (its instance was down, or the provider failed) is held for an operator.
    /// </summary>
    public TimeSpan ResendWindow { get; set; } = TimeSpan.FromHours(23);

    /// <summary>Rows claimed per pass; default 50.</summary>
    public int BatchSize { get; set; } = 50;

    /// <summary>The first retry's delay, doubled per failed attempt up to <see cref="MaxBackoff"/>; default 10 s.</summary>
    public TimeSpan FirstBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest delay between attempts; default 1 h.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The delay before attempt <paramref name="attempts"/> + 1 after <paramref name="attempts"/> failed ones: exponential, capped.</summary>
    public TimeSpan BackoffAfter(int attempts)
    {
        var exponent = Math.Clamp(attempts - 1, 0, 30);
        var ticks = FirstBackoff.Ticks * Math.Pow(2, exponent);
        return ticks >= MaxBackoff.Ticks ? MaxBackoff : TimeSpan.FromTicks((long)ticks);
    }
}
