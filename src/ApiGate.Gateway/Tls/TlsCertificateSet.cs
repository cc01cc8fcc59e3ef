using System.Collections.Frozen;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// The certificates served at one moment, swapped as a whole when the files change. A handshake's server name (SNI)
/// picks a certificate: an exact host name first, then a wildcard for its parent domain, else <see cref="Default"/>
/// (also for clients that send no name, e.g. those connecting by IP address).
/// </summary>
internal sealed class TlsCertificateSet
{
    private readonly FrozenDictionary<string, TlsCertificate[]> _exact;
    private readonly FrozenDictionary<string, TlsCertificate[]> _wildcard;

    public TlsCertificateSet(TlsCertificate fallback, IReadOnlyList<TlsCertificate> all)
    {
        Default = fallback;
        All = all;
        var exact = new Dictionary<string, List<TlsCertificate>>(StringComparer.OrdinalIgnoreCase);
        var wildcard = new Dictionary<string, List<TlsCertificate>>(StringComparer.OrdinalIgnoreCase);
        foreach (var certificate in all)
        {
            foreach (var name in certificate.HostNames)
            {
                var (map, key) = name.StartsWith("*.", StringComparison.Ordinal) ? (wildcard, name[2..]) : (exact, name);
                if (!map.TryGetValue(key, out var candidates))
                {
                    map[key] = candidates = [];
                }

                candidates.Add(certificate);
            }
        }

        _exact = Candidates(exact);
        _wildcard = Candidates(wildcard);
    }

    /// <summary>Served when the name matches no certificate, or no name was sent.</summary>
    public TlsCertificate Default { get; }

    /// <summary>Every certificate of the set, the default included.</summary>
    public IReadOnlyList<TlsCertificate> All { get; }

    /// <summary>The certificate for a handshake's server name (null or empty: none was sent) at <paramref name="now"/>.</summary>
    public TlsCertificate Select(string? serverName, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(serverName) || _exact.Count + _wildcard.Count == 0)
        {
            return Default;
        }

        serverName = serverName.TrimEnd('.');
        if (!System.Text.Ascii.IsValid(serverName))
        {
            // The runtime hands over an internationalised name decoded to Unicode (bücher.example), while certificates
            // name it in punycode (xn--bcher-kva.example), as clients send it: compared as sent, such a name always got
            // the default certificate, which its clients refuse.
            if (AsciiName(serverName) is not { } ascii)
            {
                return Default;
            }

            serverName = ascii;
        }

        if (_exact.TryGetValue(serverName, out var candidates))
        {
            return Pick(candidates, now);
        }

        var dot = serverName.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && _wildcard.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(serverName.AsSpan(dot + 1), out candidates)
            ? Pick(candidates, now)
            : Default;
    }

    private static readonly System.Globalization.IdnMapping Idn = new();

    /// <summary>The punycode form of a server name with Unicode labels; null when it is no valid host name.</summary>
    private static string? AsciiName(string serverName)
    {
        try
        {
            // Lower case first: a client that sent UTF-8 instead of punycode may have sent capitals, which the encoding keeps.
            return Idn.GetAscii(serverName.ToLowerInvariant());
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// True when a certificate of the set names <paramref name="host"/>: an exact name, or a wildcard for its parent
    /// domain; a route's wildcard host (<c>*.example.com</c>) only by that same wildcard. Checked at start and reload,
    /// not per handshake.
    /// </summary>
    public bool Covers(string host)
    {
        host = host.TrimEnd('.');
        if (host.StartsWith("*.", StringComparison.Ordinal))
        {
            return _wildcard.ContainsKey(host[2..]);
        }

        var dot = host.IndexOf('.', StringComparison.Ordinal);
        return _exact.ContainsKey(host) || (dot > 0 && _wildcard.ContainsKey(host[(dot + 1)..]));
    }

    /// <summary>
    /// Two certificates for one name (old and new during a rotation): the one valid longest among those valid now, so a
    /// renewal put in place before its start date does not replace a certificate clients still accept, and takes over at
    /// its start date without a reload. When none is valid now, the one valid longest.
    /// </summary>
    private static TlsCertificate Pick(TlsCertificate[] candidates, DateTimeOffset now)
    {
        if (candidates.Length == 1)
        {
            return candidates[0];
        }

        foreach (var candidate in candidates)
        {
            if (candidate.IsValidAt(now))
            {
                return candidate;
            }
        }

        return candidates[0];
    }

    /// <summary>Each name's certificates, the one valid longest first (on a tie, the one read first).</summary>
    private static FrozenDictionary<string, TlsCertificate[]> Candidates(Dictionary<string, List<TlsCertificate>> map) =>
        map.ToFrozenDictionary(
            entry => entry.Key,
            entry => entry.Value.OrderByDescending(certificate => certificate.NotAfter).ToArray(),
            StringComparer.OrdinalIgnoreCase);
}
