using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Counts attempts per key in windows that start at a key's first attempt (<see cref="AttemptCount"/>), in the store:
/// every instance sharing it counts together, so N instances behind a load balancer allow what one would (failed
/// logins, emails per recipient). What is counted (an email as typed, a client address) is stored only as its SHA-256
/// behind the purpose (<c>portal-login-account:3F…</c>), so the table holds no addresses and no mistyped passwords.
/// Counts whose window started longer ago than the longest window in use are swept at most every five minutes, by
/// whichever add comes then, so the table holds about one window's worth of keys.
/// </summary>
internal sealed class AttemptCounter(IGatewayStore store, TimeProvider timeProvider)
{
    /// <summary>Counts whose window started this long ago are swept: the longest window in use (the portal's mail cap, one hour).</summary>
    public static readonly TimeSpan KeepFor = TimeSpan.FromHours(1);

    private readonly Core.Timing.OncePer _sweep = new(TimeSpan.FromMinutes(5));

    /// <summary>Counts one attempt for <paramref name="what"/> now; returns the count in its window, this one included.</summary>
    public async Task<AttemptCount> AddAsync(string purpose, string what, TimeSpan window, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        if (_sweep.Due(now))
        {
            await store.DeleteAttemptCountsBeforeAsync(now - KeepFor, ct);
        }

        return await store.AddAttemptAsync(KeyOf(purpose, what), now, window, ct);
    }

    /// <summary>
    /// Counts an attempt for <paramref name="what"/> before it is made, so attempts sent at once (to one instance or
    /// several) cannot all slip under the limit: null when it is within <paramref name="limit"/> in its window (go
    /// ahead), else how long until the window ends (refuse). Take the count back (<see cref="RefundAsync"/>) when the
    /// attempt should not have counted, e.g. a successful login.
    /// </summary>
    public async Task<TimeSpan?> TakeAsync(string purpose, string what, int limit, TimeSpan window, CancellationToken ct)
    {
        var taken = await AddAsync(purpose, what, window, ct);
        return AttemptCount.RetryAfter(taken with { Count = taken.Count - 1 }, limit, window, timeProvider.GetUtcNow());
    }

    /// <summary>Takes back one count of <paramref name="what"/> (<see cref="TakeAsync"/>).</summary>
    public Task RefundAsync(string purpose, string what, CancellationToken ct) => store.RefundAttemptAsync(KeyOf(purpose, what), ct);

    /// <summary>Forgets <paramref name="what"/>'s count.</summary>
    public Task RemoveAsync(string purpose, string what, CancellationToken ct) => store.RemoveAttemptCountAsync(KeyOf(purpose, what), ct);

    /// <summary>
    /// The client a per-address count belongs to: an IPv4 address as it is (also when it arrives IPv4-mapped on a
    /// dual-stack listener), an IPv6 address by its /64 prefix — one subscriber usually holds a whole /64, so counting
    /// single IPv6 addresses would give a guesser 2⁶⁴ fresh budgets. Anything that is not an address counts as given.
    /// </summary>
    public static string AddressKey(string address)
    {
        if (!IPAddress.TryParse(address, out var ip))
        {
            return address;
        }

        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4().ToString();
        }

        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }

    private static string KeyOf(string purpose, string what) => purpose + ":" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(what)));
}
