using System.Collections.Frozen;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// The certificates served at one moment, swapped as a whole when the files change. A handshake's server name (SNI)
/// picks a certificate: an exact host name first, then a wildcard for its parent domain, else <see cref="Default"/>
/// (also for clients that send no name, e.g. those connecting by IP address).
/// </summary>
internal sealed class TlsCertificateSet
{
    private readonly FrozenDictionary<string, TlsCertificate> _exact;
    private readonly FrozenDictionary<string, TlsCertificate> _wildcard;

    public TlsCertificateSet(TlsCertificate fallback, IReadOnlyList<TlsCertificate> all)
    {
        Default = fallback;
        All = all;
        var exact = new Dictionary<string, TlsCertificate>(StringComparer.OrdinalIgnoreCase);
        var wildcard = new Dictionary<string, TlsCertificate>(StringComparer.OrdinalIgnoreCase);
        foreach (var certificate in all)
        {
            foreach (var name in certificate.HostNames)
            {
                var (map, key) = name.StartsWith("*.", StringComparison.Ordinal) ? (wildcard, name[2..]) : (exact, name);
                // Two certificates for one name (old and new during a rotation): the one valid longest wins.
                if (!map.TryGetValue(key, out var other) || other.Leaf.NotAfter < certificate.Leaf.NotAfter)
                {
                    map[key] = certificate;
                }
            }
        }

        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _wildcard = wildcard.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Served when the name matches no certificate, or no name was sent.</summary>
    public TlsCertificate Default { get; }

    /// <summary>Every certificate of the set, the default included.</summary>
    public IReadOnlyList<TlsCertificate> All { get; }

    /// <summary>The certificate for a handshake's server name (null or empty: none was sent).</summary>
    public TlsCertificate Select(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName) || _exact.Count + _wildcard.Count == 0)
        {
            return Default;
        }

        serverName = serverName.TrimEnd('.');
        if (_exact.TryGetValue(serverName, out var certificate))
        {
            return certificate;
        }

        var dot = serverName.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && _wildcard.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(serverName.AsSpan(dot + 1), out certificate)
            ? certificate
            : Default;
    }
}
