using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// One loaded certificate: the leaf with its private key, the intermediates sent with it, and the host names it is
/// chosen for (its subject alternative DNS names, else its common name; <c>*.example.com</c> covers one label).
/// Immutable once loaded.
/// </summary>
internal sealed class TlsCertificate
{
    public TlsCertificate(string source, X509Certificate2 leaf, X509Certificate2Collection intermediates, IReadOnlyList<string> hostNames, string keyFile = "")
    {
        Source = source;
        KeyFile = keyFile;
        Leaf = leaf;
        HostNames = hostNames;
        NotBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        NotAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        // offline: the chain is what the files hold; nothing is downloaded during a handshake.
        Context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }

    /// <summary>Where it was read from (a file, or the directory entry's name), for messages.</summary>
    public string Source { get; }

    /// <summary>The file the private key was read from (the certificate's own file when it holds both); "" when not from a file.</summary>
    public string KeyFile { get; }

    public X509Certificate2 Leaf { get; }

    /// <summary>The leaf's validity period, UTC (compared per handshake when two certificates name one host).</summary>
    public DateTimeOffset NotBefore { get; }

    /// <inheritdoc cref="NotBefore"/>
    public DateTimeOffset NotAfter { get; }

    /// <summary>True when the leaf is valid at <paramref name="now"/>: clients accept it (as far as dates go).</summary>
    public bool IsValidAt(DateTimeOffset now) => NotBefore <= now && now < NotAfter;

    /// <summary>What a handshake is given: the leaf and its intermediates.</summary>
    public SslStreamCertificateContext Context { get; }

    public IReadOnlyList<string> HostNames { get; }
}
