using ApiGate.Gateway.Identity;

namespace ApiGate.Web.Admin;

/// <summary>
/// Limits wrong admin-token attempts at the login form per client address (an IPv6 client by its /64): <see cref="MaxFailures"/> failures within
/// a <see cref="Window"/> that starts at the first of them lock the address out until that window ends. A success does
/// not reset the count (it would let a guesser interleave a known token). Counted in the store
/// (<see cref="AttemptCounter"/>), so every instance sharing it counts together.
/// </summary>
internal sealed class LoginThrottle(AttemptCounter counter)
{
    /// <summary>Failed attempts allowed per address within <see cref="Window"/>.</summary>
    public const int MaxFailures = 5;

    /// <summary>The period failures are counted over.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Counts an attempt from the address before the token is checked (so attempts sent at once cannot all pass): how
    /// long the address must wait; zero when it may try now.
    /// </summary>
    public async Task<TimeSpan> TakeAsync(string address, CancellationToken ct) =>
        await counter.TakeAsync(Purpose, AttemptCounter.AddressKey(address), MaxFailures, Window, ct) ?? TimeSpan.Zero;

    /// <summary>The token was right: the attempt is taken back (only wrong tokens count).</summary>
    public Task SucceededAsync(string address, CancellationToken ct) => counter.RefundAsync(Purpose, AttemptCounter.AddressKey(address), ct);

    private const string Purpose = "console-login-address";
}
