using System.Net;
using System.Net.Sockets;

namespace ApiGate.Gateway.Proxies;

/// <summary>
/// The networks whose connections may say who the client is (<c>APIGATE_TRUSTED_PROXIES</c>): comma-separated CIDRs
/// (<c>10.0.0.0/8</c>, <c>fd00::/8</c>) and single addresses. Built once at start; <see cref="Contains"/> is a scan of
/// a handful of prefixes and allocates nothing. IPv4 addresses seen as IPv4-mapped IPv6 (<c>::ffff:10.1.2.3</c>, a
/// dual-stack socket) are compared as IPv4.
/// </summary>
internal sealed class TrustedProxies
{
    /// <summary>No trusted proxy: every forwarding header from a client is ignored.</summary>
    public static readonly TrustedProxies None = new([]);

    private readonly IPNetwork[] _networks;

    private TrustedProxies(IPNetwork[] networks) => _networks = networks;

    /// <summary>True when no network is trusted (the default).</summary>
    public bool IsEmpty => _networks.Length == 0;

    /// <summary>The networks, as configured (normalised: <c>10.1.2.3</c> reads <c>10.1.2.3/32</c>).</summary>
    public IReadOnlyList<IPNetwork> Networks => _networks;

    /// <summary>True when <paramref name="address"/> lies in one of the trusted networks.</summary>
    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Parses a setting value; empty or blank is <see cref="None"/>. On failure <paramref name="problem"/> names the bad entry.</summary>
    public static bool TryParse(string text, out TrustedProxies proxies, out string? problem)
    {
        proxies = None;
        problem = null;
        var networks = new List<IPNetwork>();
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParseEntry(entry, out var network, out problem))
            {
                return false;
            }

            networks.Add(network);
        }

        proxies = networks.Count == 0 ? None : new TrustedProxies([.. networks]);
        return true;
    }

    /// <summary>Null when <paramref name="text"/> parses, else why not.</summary>
    public static string? Validate(string text) => TryParse(text, out _, out var problem) ? null : problem;

    private static bool TryParseEntry(string entry, out IPNetwork network, out string? problem)
    {
        network = default;
        problem = null;
        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? entry : entry[..slash];
        if (addressText.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(addressText, out var address)
            || (address.AddressFamily == AddressFamily.InterNetwork && !ForwardedChain.IsDottedQuad(addressText)))
        {
            problem = $"'{entry}' is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.0.2.10, fd00::/8)";
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(entry.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            problem = $"'{entry}': the prefix length must be a number from 0 to {bits}";
            return false;
        }

        var masked = Mask(address, prefix);
        if (!masked.Equals(address))
        {
            problem = $"'{entry}' has bits set after the /{prefix} prefix (write the network's first address, e.g. {masked}/{prefix})";
            return false;
        }

        network = new IPNetwork(address, prefix);
        return true;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
