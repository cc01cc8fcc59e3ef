using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// The certificate check a <c>rediss://</c> connection uses, with certificates made by the test: the CA file is the
/// only trust root, a certificate of another CA is refused, a host name mismatch is refused even when the chain is
/// trusted, and a CA file that is not a PEM certificate is refused at start.
/// </summary>
public sealed class RedisTlsTrustTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private readonly X509Certificate2 _authority;
    private readonly X509Certificate2 _server;
    private readonly RedisTlsTrust _trust;

    public RedisTlsTrustTests()
    {
        Directory.CreateDirectory(_directory);
        (_authority, _server) = TestCertificates.CreateAuthorityAndLoopbackServer();
        var caFile = Path.Combine(_directory, "ca.pem");
        File.WriteAllText(caFile, _authority.ExportCertificatePem());
        _trust = RedisTlsTrust.Create(caFile);
    }

    public void Dispose()
    {
        _authority.Dispose();
        _server.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Check_ServerSignedByTheCaFile_IsAccepted()
    {
        // The system store does not know the CA: the chain errors SslStream reports are what the CA file overrides.
        var accepted = _trust.Check(this, _server, null, SslPolicyErrors.RemoteCertificateChainErrors);

        Assert.True(accepted);
        Assert.Null(_trust.LastFailure);
    }

    [Fact]
    public void Check_ServerOfAnotherCa_IsRefusedAsNotTrusted()
    {
        var (otherAuthority, otherServer) = TestCertificates.CreateAuthorityAndLoopbackServer();
        using (otherAuthority)
        using (otherServer)
        {
            var accepted = _trust.Check(this, otherServer, null, SslPolicyErrors.RemoteCertificateChainErrors);

            Assert.False(accepted);
            Assert.Contains("certificate was not trusted", _trust.LastFailure, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Check_HostNameMismatchWithTrustedChain_IsRefused()
    {
        var accepted = _trust.Check(this, _server, null, SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateChainErrors);

        Assert.False(accepted);
        Assert.Equal("the certificate does not name this host", _trust.LastFailure);
    }

    [Fact]
    public void Check_SystemRootsWithChainErrors_IsRefusedAsNotTrusted()
    {
        var system = RedisTlsTrust.Create("");

        var accepted = system.Check(this, _server, null, SslPolicyErrors.RemoteCertificateChainErrors);

        Assert.False(accepted);
        Assert.Contains("certificate was not trusted", system.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FileWithoutCertificate_NamesTheFile()
    {
        var notPem = Path.Combine(_directory, "not-a-cert.pem");
        File.WriteAllText(notPem, "hello");

        var problem = RedisTlsTrust.Validate(notPem);

        Assert.Equal($"CA file '{notPem}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", problem);
    }
}
