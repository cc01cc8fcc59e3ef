using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ApiGate.Gateway.Tests.Tls;

/// <summary>A throw-away CA made by the test (ECDSA P-256), the server certificates it issues, and clients that trust only it.</summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    private readonly ECDsa _key;

    public TestCertificateAuthority(string name = "APIGate Test CA")
    {
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        Certificate = request.CreateSelfSigned(now.AddDays(-30), now.AddYears(5));
    }

    private TestCertificateAuthority(string name, TestCertificateAuthority parent)
    {
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(parent.Certificate, true, false));
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(parent.Certificate, now.AddDays(-20), now.AddYears(4), RandomNumberGenerator.GetBytes(8));
        Certificate = issued.CopyWithPrivateKey(_key);
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>An intermediate CA signed by this one; what it issues is written followed by the intermediate.</summary>
    public TestCertificateAuthority Intermediate(string name) => new(name, this);

    /// <summary>A server certificate for <paramref name="dnsNames"/> (and 127.0.0.1), valid from yesterday for a year unless told.</summary>
    public X509Certificate2 Issue(string[] dnsNames, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + dnsNames[0], key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
        {
            san.AddDnsName(name);
        }

        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var now = DateTimeOffset.UtcNow;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(Certificate, notBefore ?? now.AddDays(-1), notAfter ?? now.AddYears(1), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate (then the CA, as an intermediate would be) and its key as PEM.</summary>
    public void Write(X509Certificate2 leaf, string certPath, string? keyPath)
    {
        var key = leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
        var cert = leaf.ExportCertificatePem() + "\n" + Certificate.ExportCertificatePem() + "\n";
        if (keyPath is null)
        {
            File.WriteAllText(certPath, cert + key + "\n"); // one file holding both
            OwnerOnly(certPath);
            return;
        }

        File.WriteAllText(certPath, cert);
        File.WriteAllText(keyPath, key + "\n");
        OwnerOnly(keyPath);
    }

    /// <summary>Mode 600, as a private key file should be (the gateway warns about one its group or others can read).</summary>
    private static void OwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>Replaces a file the way rotation tools do: write a temporary file, then rename it over the old one.</summary>
    public static void Replace(string path, string contents)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, contents);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>True when <paramref name="certificate"/> chains to this CA and names the host (no other check is skipped).</summary>
    public bool Trusts(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    /// <summary>
    /// An HTTPS client trusting only this CA that connects every host name to 127.0.0.1 (so the URL's host is the SNI
    /// name). <paramref name="served"/> gets the serial number of each certificate a handshake presented.
    /// </summary>
    public HttpClient Client(Action<string>? served = null, bool http2 = false) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        },
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is not null)
                {
                    served?.Invoke(certificate.GetSerialNumberString());
                }

                return Trusts(certificate, errors);
            },
        },
    })
    {
        DefaultRequestVersion = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>A raw TLS handshake to 127.0.0.1:<paramref name="port"/> naming <paramref name="serverName"/> (null: no SNI).</summary>
    public async Task<SslStream> HandshakeAsync(int port, string? serverName, List<SslApplicationProtocol>? alpn = null, SslProtocols protocols = SslProtocols.None)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName ?? "",
            ApplicationProtocols = alpn,
            EnabledSslProtocols = protocols,
            // Names are checked by the tests themselves (they ask for certificates that do not match on purpose).
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => Trusts(certificate, errors & ~SslPolicyErrors.RemoteCertificateNameMismatch),
        });
        return ssl;
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}
