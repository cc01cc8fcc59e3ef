using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Tls;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate serve</c> with TLS and trusted-proxy settings that cannot be used: it exits before listening, saying which setting and why.</summary>
public sealed class TlsCliTests : CliTestBase
{
    [Fact]
    public async Task Serve_CertificateFileMissing_ExitsNamingTheSetting()
    {
        var missing = Path.Combine(TestDirectory, "missing.crt");
        Environment["APIGATE_TLS_CERT_FILE"] = missing;
        Environment["APIGATE_TLS_KEY_FILE"] = Path.Combine(TestDirectory, "missing.key");

        var refused = await RunAsync("serve", "--port", "0");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"tls.cert_file (from APIGATE_TLS_CERT_FILE): cannot read the certificate file '{missing}': no such file", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_KeyOfAnotherCertificate_ExitsNamingTheKeySetting()
    {
        using var ca = new TestCertificateAuthority();
        var cert = Path.Combine(TestDirectory, "server.crt");
        var key = Path.Combine(TestDirectory, "server.key");
        ca.Write(ca.Issue(["api.test"]), cert, Path.Combine(TestDirectory, "right.key"));
        ca.Write(ca.Issue(["other.test"]), Path.Combine(TestDirectory, "other.crt"), key);
        Environment["APIGATE_TLS_CERT_FILE"] = cert;
        Environment["APIGATE_TLS_KEY_FILE"] = key;

        var refused = await RunAsync("serve", "--port", "0");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"tls.key_file (from APIGATE_TLS_KEY_FILE): the private key in '{key}' does not belong to the certificate in '{cert}'", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_CertificateDirectoryWithoutKeys_ExitsNamingTheSetting()
    {
        using var ca = new TestCertificateAuthority();
        var directory = Path.Combine(TestDirectory, "certs");
        Directory.CreateDirectory(directory);
        ca.Write(ca.Issue(["a.test"]), Path.Combine(directory, "a.crt"), Path.Combine(TestDirectory, "elsewhere.key"));
        Environment["APIGATE_TLS_CERT_DIR"] = directory;

        var refused = await RunAsync("serve", "--port", "0");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"tls.cert_dir (from APIGATE_TLS_CERT_DIR): '{Path.Combine(directory, "a.crt")}' has no private key next to it (a.key)", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_TrustedProxiesGarbage_ExitsNamingTheSetting()
    {
        Environment["APIGATE_TRUSTED_PROXIES"] = "10.0.0.0/8, lb.internal";

        var refused = await RunAsync("serve", "--port", "0");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("server.trusted_proxies (from APIGATE_TRUSTED_PROXIES): 'lb.internal' is not an IP address or CIDR", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigShow_TlsAndProxySettings_ListedWithDefaults()
    {
        var shown = await RunAsync("config", "show", "--json");

        var settings = JsonDocument.Parse(shown.Output).RootElement;
        Assert.Equal(0, shown.ExitCode);
        Assert.Equal("", settings.GetProperty("tls.cert_file").GetProperty("value").GetString());
        Assert.Equal("60s", settings.GetProperty("tls.reload_interval").GetProperty("value").GetString());
        Assert.Equal("true", settings.GetProperty("admin.tls").GetProperty("value").GetString());
        Assert.Equal("", settings.GetProperty("server.trusted_proxies").GetProperty("value").GetString());
    }
}
