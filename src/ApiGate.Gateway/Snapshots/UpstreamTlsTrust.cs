using System.Net.Http;
using System.Security.Cryptography.X509Certificates;

namespace ApiGate.Gateway.Snapshots;

/// <summary>
/// Which roots an upstream's TLS certificate must chain to. The gateway registers <see cref="SystemRoots"/>: the
/// operating system's trusted roots, with the host name checked, as any HTTPS client does; no setting changes it.
/// Tests register one with their own root, so a loopback upstream with a certificate made in the test can be reached
/// over TLS without weakening validation (chain and host name are still checked, against that root only).
/// </summary>
internal sealed class UpstreamTlsTrust
{
    private readonly X509Certificate2? _root;

    private UpstreamTlsTrust(X509Certificate2? root) => _root = root;

    /// <summary>The default: the system's trusted roots.</summary>
    public static UpstreamTlsTrust SystemRoots { get; } = new(null);

    /// <summary>Trust only <paramref name="root"/> (a test's own certificate authority or self-signed certificate).</summary>
    public static UpstreamTlsTrust Only(X509Certificate2 root) => new(root);

    /// <summary>Applies the trust to a handler before its first use.</summary>
    public void Apply(SocketsHttpHandler handler) => handler.SslOptions.CertificateChainPolicy = ChainPolicy();

    /// <summary>The chain policy a TLS client of the upstreams uses: null for the system's roots, else one trusting the root only.</summary>
    public X509ChainPolicy? ChainPolicy()
    {
        if (_root is null)
        {
            return null;
        }

        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(_root);
        return policy;
    }
}
