using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tls;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Tls;

/// <summary>TLS termination end to end: certificates made by the test, real TLS clients, a real upstream behind.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tls-tests", Guid.NewGuid().ToString("N"));
    private readonly TestCertificateAuthority _ca = new();
    private readonly CapturedLog _log = new();
    private TestUpstream _upstream = null!;

    private string CertFile => Path.Combine(_directory, "server.crt");

    private string KeyFile => Path.Combine(_directory, "server.key");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _upstream = await TestUpstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        _ca.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<TestGateway> StartAsync(Action<GatewayOptions>? configure = null)
    {
        var gateway = await RestartAsync(configure);
        await gateway.AddUpstreamAsync("backend", _upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "echo", Path = "/echo/*", Upstream = "backend" });
        return gateway;
    }

    /// <summary>A gateway on the store of the last one stopped (<see cref="StartAsync"/> adds the upstream and the route).</summary>
    private Task<TestGateway> RestartAsync(Action<GatewayOptions>? configure = null) =>
        TestGateway.StartAsync(options =>
        {
            options.TlsCertFile = CertFile;
            options.TlsKeyFile = KeyFile;
            options.TlsReloadInterval = TimeSpan.FromMilliseconds(200);
            _log.TakeJsonFrom(options);
            configure?.Invoke(options);
        }, directory: Path.Combine(_directory, "gateway"));

    private X509Certificate2 WriteServerCertificate(params string[] names)
    {
        var leaf = _ca.Issue(names.Length == 0 ? ["api.test"] : names);
        _ca.Write(leaf, CertFile, KeyFile);
        return leaf;
    }

    private static int Port(string url) => new Uri(url).Port;

    [Fact]
    public async Task Https_Http2Client_NegotiatesH2OverTls12OrLater()
    {
        // Arrange
        WriteServerCertificate();
        await using var gateway = await StartAsync();
        using var client = _ca.Client(http2: true);

        // Act
        using var response = await client.GetAsync($"https://api.test:{Port(gateway.Url)}/echo/h2");
        await using var probe = await _ca.HandshakeAsync(Port(gateway.Url), "api.test", [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]);

        // Assert
        Assert.StartsWith("https://", gateway.Url, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("/echo/h2", _upstream.Received.Last().Path);
        Assert.Equal(SslApplicationProtocol.Http2, probe.NegotiatedApplicationProtocol);
        Assert.Contains(probe.SslProtocol, new[] { SslProtocols.Tls12, SslProtocols.Tls13 });
    }

    [Fact]
    public async Task Https_Http11Client_ServedOverHttp11()
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync();
        using var client = _ca.Client();

        using var response = await client.GetAsync($"https://api.test:{Port(gateway.Url)}/echo/one");
        await using var probe = await _ca.HandshakeAsync(Port(gateway.Url), "api.test", [SslApplicationProtocol.Http11]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal(SslApplicationProtocol.Http11, probe.NegotiatedApplicationProtocol);
    }

    [Fact]
    public async Task Https_ClientOfferingOnlyHttp10_HandshakeAcceptedAndRequestServed()
    {
        // Arrange: the ALPN list curl --http1.0 sends
        WriteServerCertificate();
        await using var gateway = await StartAsync();

        // Act
        await using var tls = await _ca.HandshakeAsync(Port(gateway.Url), "api.test", [new SslApplicationProtocol("http/1.0")]);
        await tls.WriteAsync("GET /echo/ten HTTP/1.0\r\nHost: api.test\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(tls, leaveOpen: true);
        var response = await reader.ReadToEndAsync();

        // Assert
        Assert.Equal("http/1.0", tls.NegotiatedApplicationProtocol.ToString());
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
        Assert.Equal("/echo/ten", _upstream.Received.Last().Path);
    }

    [Fact]
    public async Task PlainHttpToTheTlsPort_Answered400SayingItSpeaksHttpsThenClosed_HttpsStillServedThere()
    {
        // Arrange
        WriteServerCertificate();
        await using var gateway = await StartAsync();
        using var client = _ca.Client();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port(gateway.Url));

        // Act
        await tcp.GetStream().WriteAsync("GET /echo/plain HTTP/1.1\r\nHost: api.test\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(tcp.GetStream());
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answer = await reader.ReadToEndAsync(bound.Token); // to the end: the gateway closes the connection
        using var https = await client.GetAsync($"https://api.test:{Port(gateway.Url)}/echo/tls");

        // Assert
        Assert.Equal(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 49\r\nConnection: close\r\n\r\n"
            + "This port speaks HTTPS only: use an https:// URL\n",
            answer);
        Assert.Equal(HttpStatusCode.OK, https.StatusCode);
        Assert.Equal(["/echo/tls"], _upstream.Received.Select(request => request.Path));
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\n")]
    public async Task PlainHttpToTheTlsPortAfterAnEmptyLine_Answered400SayingItSpeaksHttps(string emptyLine)
    {
        // Arrange: HTTP/1.1 lets a client send an empty line before its request line (RFC 9112 §2.2); it used to go to the
        // handshake, which closed the connection without a word
        WriteServerCertificate();
        await using var gateway = await StartAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port(gateway.Url));

        // Act
        await tcp.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(emptyLine + "GET /echo/plain HTTP/1.1\r\nHost: api.test\r\n\r\n"));
        using var reader = new StreamReader(tcp.GetStream());
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answer = await reader.ReadToEndAsync(bound.Token);

        // Assert
        Assert.Equal(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 49\r\nConnection: close\r\n\r\n"
            + "This port speaks HTTPS only: use an https:// URL\n",
            answer);
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task PlainHttpToTheTlsPort_LargeRequestSentAtOnce_Whole400Received()
    {
        // Arrange: 64 KiB of headers and a 4 MiB body in one write, the answer read once it is sent. The gateway answered
        // after its first read and closed with the rest unread: the close was a reset, and the client's write failed
        // with it before it could read the answer
        WriteServerCertificate();
        await using var gateway = await StartAsync();
        var head = new System.Text.StringBuilder("POST /echo/plain HTTP/1.1\r\nHost: api.test\r\n");
        for (var i = 0; i < 64; i++)
        {
            head.Append("X-Pad-").Append(i).Append(": ").Append('a', 1000).Append("\r\n");
        }

        const int BodyLength = 4 * 1024 * 1024;
        head.Append("Content-Length: ").Append(BodyLength).Append("\r\n\r\n");
        var request = System.Text.Encoding.ASCII.GetBytes(head.ToString()).Concat(new byte[BodyLength]).ToArray();

        // Act
        var response = await RawHttp.SendAsync(gateway.Url, request);

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("close", response.Headers["Connection"]);
        Assert.Equal("This port speaks HTTPS only: use an https:// URL\n", response.Body);
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task PlainHttpToTheTlsPort_ClientSendingWithoutEnd_ConnectionClosedWithinTheDiscardBound()
    {
        // Arrange: what follows the answer is read and discarded, but only so much of it
        WriteServerCertificate();
        await using var gateway = await StartAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port(gateway.Url));
        var stream = tcp.GetStream();
        var chunk = new byte[64 * 1024];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        const int MaxChunks = 1024; // 64 MiB: far beyond the bound and what the socket buffers hold
        await stream.WriteAsync("POST /echo/plain HTTP/1.1\r\nHost: api.test\r\nContent-Length: 999999999\r\n\r\n"u8.ToArray(), bound.Token);

        // Act
        var sent = 0;
        var refused = await Record.ExceptionAsync(async () =>
        {
            for (; sent < MaxChunks; sent++)
            {
                await stream.WriteAsync(chunk, bound.Token);
            }
        });

        // Assert
        Assert.IsType<IOException>(refused);
        Assert.InRange(sent, 0, MaxChunks - 1);
    }

    [Fact]
    public async Task Handshake_Tls12OnlyClient_Accepted()
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync();

        await using var probe = await _ca.HandshakeAsync(Port(gateway.Url), "api.test", protocols: SslProtocols.Tls12);

        Assert.Equal(SslProtocols.Tls12, probe.SslProtocol);
    }

    [Fact]
    public async Task Handshake_Tls11ClientHello_RefusedWithProtocolVersionAlert()
    {
        // Arrange: raw ClientHellos, since the client library on this machine will not speak TLS 1.1 itself
        WriteServerCertificate();
        await using var gateway = await StartAsync();

        // Act
        var tls11 = await FirstRecordAsync(Port(gateway.Url), TlsClientHello.Build(0x0302));
        var tls12 = await FirstRecordAsync(Port(gateway.Url), TlsClientHello.Build(0x0303));

        // Assert: TLS 1.1 gets an alert 'protocol_version' (70); the same hello as TLS 1.2 gets a ServerHello
        Assert.Equal(TlsClientHello.AlertRecord, tls11.Type);
        Assert.Equal(TlsClientHello.ProtocolVersionAlert, tls11.Description);
        Assert.Equal(TlsClientHello.HandshakeRecord, tls12.Type);
    }

    [Fact]
    public async Task Sni_CertificateDirectory_EachNameGetsItsCertificate()
    {
        // Arrange: every layout of the directory
        var certs = Path.Combine(_directory, "certs");
        Directory.CreateDirectory(Path.Combine(certs, "c.test"));
        var a = _ca.Issue(["a.test"]);
        var wildcard = _ca.Issue(["*.wild.test"]);
        var certbot = _ca.Issue(["c.test"]);
        var fallback = _ca.Issue(["default.test"]);
        _ca.Write(a, Path.Combine(certs, "a.crt"), Path.Combine(certs, "a.key"));
        _ca.Write(wildcard, Path.Combine(certs, "wild.pem"), keyPath: null);
        _ca.Write(certbot, Path.Combine(certs, "c.test", "fullchain.pem"), Path.Combine(certs, "c.test", "privkey.pem"));
        _ca.Write(fallback, Path.Combine(certs, "default.crt"), Path.Combine(certs, "default.key"));
        await using var gateway = await StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsCertDir) = ("", "", certs));
        var port = Port(gateway.Url);

        // Act + Assert
        Assert.Equal(a.SerialNumber, await ServedSerialAsync(port, "a.test"));
        Assert.Equal(a.SerialNumber, await ServedSerialAsync(port, "A.TEST"));
        Assert.Equal(wildcard.SerialNumber, await ServedSerialAsync(port, "x.wild.test"));
        Assert.Equal(fallback.SerialNumber, await ServedSerialAsync(port, "x.y.wild.test")); // a wildcard covers one label
        Assert.Equal(certbot.SerialNumber, await ServedSerialAsync(port, "c.test"));
        Assert.Equal(fallback.SerialNumber, await ServedSerialAsync(port, "unknown.test"));
        Assert.Equal(fallback.SerialNumber, await ServedSerialAsync(port, null));
        using var client = _ca.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"https://x.wild.test:{port}/echo/sni")).StatusCode);
    }

    [Fact]
    public async Task Sni_InternationalisedName_GetsTheCertificateNamingItsPunycodeForm()
    {
        // Arrange: certificates name internationalised hosts in punycode, as clients send them in the server name
        var certs = Path.Combine(_directory, "certs");
        Directory.CreateDirectory(certs);
        var idn = _ca.Issue(["xn--bcher-kva.test", "*.xn--caf-dma.test"]);
        var fallback = _ca.Issue(["default.test"]);
        _ca.Write(idn, Path.Combine(certs, "idn.crt"), Path.Combine(certs, "idn.key"));
        _ca.Write(fallback, Path.Combine(certs, "default.crt"), Path.Combine(certs, "default.key"));
        await using var gateway = await StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsCertDir) = ("", "", certs));
        var port = Port(gateway.Url);

        // Act + Assert: the runtime decodes such a name to Unicode before the gateway sees it; it used to get the default
        Assert.Equal(idn.SerialNumber, await ServedSerialAsync(port, "xn--bcher-kva.test"));
        Assert.Equal(idn.SerialNumber, await ServedSerialAsync(port, "XN--BCHER-KVA.test"));
        Assert.Equal(idn.SerialNumber, await ServedSerialAsync(port, "shop.xn--caf-dma.test"));
        Assert.Equal(fallback.SerialNumber, await ServedSerialAsync(port, "xn--zz.test")); // not punycode: a name no certificate has
        Assert.Equal(fallback.SerialNumber, await ServedSerialAsync(port, "xn--bcher-kva.other"));
    }

    [Fact]
    public void Sni_NameInUnicode_SelectsTheCertificateNamingItsPunycodeForm()
    {
        var now = DateTimeOffset.UtcNow;
        using var idnLeaf = _ca.Issue(["xn--bcher-kva.test"]);
        using var otherLeaf = _ca.Issue(["other.test"]);
        var idn = new TlsCertificate("idn", idnLeaf, new X509Certificate2Collection(), ["xn--bcher-kva.test"]);
        var other = new TlsCertificate("other", otherLeaf, new X509Certificate2Collection(), ["other.test"]);
        var set = new TlsCertificateSet(other, [idn, other]);

        Assert.Same(idn, set.Select("bücher.test", now));
        Assert.Same(idn, set.Select("bücher.test.", now));
        Assert.Same(idn, set.Select("BÜCHER.test", now));
        Assert.Same(other, set.Select("bücher.example", now));
    }

    [Fact]
    public async Task Sni_RenewalNotValidYetNextToCurrent_CurrentStillServed()
    {
        // Arrange: the current certificate, and its renewal put next to it before its start date (it is valid longer)
        var certs = Path.Combine(_directory, "certs");
        Directory.CreateDirectory(certs);
        var now = DateTimeOffset.UtcNow;
        var current = _ca.Issue(["api.test"], now.AddDays(-30), now.AddDays(10));
        var renewal = _ca.Issue(["api.test"], now.AddDays(2), now.AddDays(92));
        _ca.Write(current, Path.Combine(certs, "api.crt"), Path.Combine(certs, "api.key"));
        _ca.Write(renewal, Path.Combine(certs, "api-renewed.crt"), Path.Combine(certs, "api-renewed.key"));
        await using var gateway = await StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsCertDir) = ("", "", certs));
        var port = Port(gateway.Url);
        using var client = _ca.Client();

        // Act
        var served = await ServedSerialAsync(port, "api.test");
        using var response = await client.GetAsync($"https://api.test:{port}/echo/renewal");

        // Assert: clients would refuse the renewal until its start date
        Assert.Equal(current.SerialNumber, served);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public void Sni_RenewalNotValidYet_TakesOverAtItsStartWithoutAReload()
    {
        var now = DateTimeOffset.UtcNow;
        using var currentLeaf = _ca.Issue(["api.test"], now.AddDays(-30), now.AddDays(10));
        using var renewalLeaf = _ca.Issue(["api.test"], now.AddDays(2), now.AddDays(92));
        var current = new TlsCertificate("api", currentLeaf, new X509Certificate2Collection(), ["api.test"]);
        var renewal = new TlsCertificate("api-renewed", renewalLeaf, new X509Certificate2Collection(), ["api.test"]);
        var set = new TlsCertificateSet(current, [renewal, current]);

        Assert.Same(current, set.Select("api.test", now));
        Assert.Same(renewal, set.Select("API.test.", now.AddDays(3))); // both valid: the one valid longest
        Assert.Same(renewal, set.Select("api.test", now.AddDays(11)));
        Assert.Same(renewal, set.Select("api.test", now.AddDays(100))); // none valid: still the one valid longest
        Assert.Same(current, set.Select(null, now.AddDays(3))); // no name: the default
    }

    [Fact]
    public async Task Handshake_CertificateFileWithChain_IntermediateSent()
    {
        using var intermediate = _ca.Intermediate("APIGate Test Intermediate");
        intermediate.Write(intermediate.Issue(["api.test"]), CertFile, KeyFile);
        await using var gateway = await StartAsync();
        X509Certificate2Collection? sent = null;

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port(gateway.Url));
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "api.test",
            RemoteCertificateValidationCallback = (_, _, chain, _) =>
            {
                sent = chain?.ChainPolicy.ExtraStore;
                return true;
            },
        });

        Assert.NotNull(sent);
        Assert.Contains(sent, c => c.Thumbprint == intermediate.Certificate.Thumbprint);
    }

    [Fact]
    public async Task Rotation_WhileRequestsFlow_NoFailuresAndNewCertificateServed()
    {
        // Arrange: one client opening a connection per request, one keeping its HTTP/2 connection
        var old = WriteServerCertificate();
        var next = _ca.Issue(["api.test"]);
        await using var gateway = await StartAsync();
        var served = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var fresh = _ca.Client(served.Enqueue);
        using var kept = _ca.Client(http2: true);
        var url = $"https://api.test:{Port(gateway.Url)}/echo/r";
        var failures = new List<string>();
        var requests = 0;
        var rotated = false;

        // Act: rotate after 20 requests, the way tools do it: the key first, then the certificate, each renamed over the
        // old file (between the two renames the pair does not match); keep going until the new certificate is served
        for (var i = 0; i < 600 && !(rotated && served.Contains(next.SerialNumber) && i > 60); i++)
        {
            if (i == 20)
            {
                TestCertificateAuthority.Replace(KeyFile, next.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
                TestCertificateAuthority.Replace(CertFile, next.ExportCertificatePem() + "\n" + _ca.Certificate.ExportCertificatePem() + "\n");
                rotated = true;
            }

            foreach (var client in new[] { fresh, kept })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.ConnectionClose = client == fresh ? true : null;
                try
                {
                    using var response = await client.SendAsync(request);
                    requests++;
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Add($"request {i}: {(int)response.StatusCode}");
                    }
                }
                catch (HttpRequestException ex)
                {
                    failures.Add($"request {i}: {ex.Message}");
                }
            }

            if (rotated)
            {
                await Task.Delay(10);
            }
        }

        // Assert
        Assert.Empty(failures);
        Assert.True(requests > 120);
        Assert.Contains(old.SerialNumber, served);
        Assert.Contains(next.SerialNumber, served);
        Assert.Equal(next.SerialNumber, await ServedSerialAsync(Port(gateway.Url), "api.test"));
    }

    [Fact]
    public async Task Reload_HalfWrittenPair_KeepsOldCertificateAndWarnsThenTakesCompletePair()
    {
        // Arrange
        var old = WriteServerCertificate();
        var next = _ca.Issue(["api.test"]);
        var gateway = await StartAsync(o => (o.TlsReloadInterval, o.LogFormat) = (TimeSpan.FromHours(1), "console"));
        var watcher = gateway.Service<TlsCertificateWatcher>();
        var port = Port(gateway.Url);

        // Act 1: the new certificate is in place, its key not yet
        TestCertificateAuthority.Replace(CertFile, next.ExportCertificatePem() + "\n");
        watcher.Check();
        var duringRotation = await ServedSerialAsync(port, "api.test");

        // Act 2: the key follows
        TestCertificateAuthority.Replace(KeyFile, next.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
        watcher.Check();
        var afterRotation = await ServedSerialAsync(port, "api.test");
        await gateway.DisposeAsync();

        // Assert
        Assert.Equal(old.SerialNumber, duringRotation);
        Assert.Equal(next.SerialNumber, afterRotation);
        var log = _log.Text;
        Assert.Contains("the previous certificates stay in use", log, StringComparison.Ordinal);
        Assert.Contains($"tls.key_file: the private key in '{KeyFile}' does not belong to the certificate in '{CertFile}'", log, StringComparison.Ordinal);
        Assert.Contains("certificate files changed; now serving", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_CertificateDirectoryReplacedWhole_WatcherFollowsTheNewDirectory()
    {
        // Arrange: a deployment that swaps the whole directory (mv certs.new certs), then changes files in the new one
        var certs = Path.Combine(_directory, "certs");
        Directory.CreateDirectory(certs);
        var first = _ca.Issue(["api.test"]);
        _ca.Write(first, Path.Combine(certs, "api.crt"), Path.Combine(certs, "api.key"));
        await using var gateway = await StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsCertDir, o.TlsReloadInterval) = ("", "", certs, TimeSpan.FromHours(1)));
        var port = Port(gateway.Url);
        var second = _ca.Issue(["api.test"]);
        var third = _ca.Issue(["api.test"]);

        // Act
        var replacement = certs + ".new";
        Directory.CreateDirectory(replacement);
        _ca.Write(second, Path.Combine(replacement, "api.crt"), Path.Combine(replacement, "api.key"));
        Directory.Move(certs, certs + ".old");
        Directory.Move(replacement, certs);
        var afterSwap = await ServedEventuallyAsync(port, second.SerialNumber);
        _ca.Write(third, Path.Combine(certs, "api.crt.tmp"), Path.Combine(certs, "api.key.tmp"));
        File.Move(Path.Combine(certs, "api.key.tmp"), Path.Combine(certs, "api.key"), overwrite: true);
        File.Move(Path.Combine(certs, "api.crt.tmp"), Path.Combine(certs, "api.crt"), overwrite: true);
        var afterChange = await ServedEventuallyAsync(port, third.SerialNumber);

        // Assert: the watcher alone (the periodic check is an hour away) saw both: it watches the new directory, not
        // the old one renamed away
        Assert.Equal(second.SerialNumber, afterSwap);
        Assert.Equal(third.SerialNumber, afterChange);
    }

    /// <summary>The certificate served for api.test once it is <paramref name="expected"/>, or what was served after ~10 s.</summary>
    private async Task<string?> ServedEventuallyAsync(int port, string expected)
    {
        string? served = null;
        for (var attempt = 0; attempt < 100 && served != expected; attempt++)
        {
            await Task.Delay(100);
            served = await ServedSerialAsync(port, "api.test");
        }

        return served;
    }

    [Fact]
    public async Task Reload_FileChangedOnDisk_WatcherSwapsCertificateWithoutACall()
    {
        WriteServerCertificate();
        var next = _ca.Issue(["api.test"]);
        await using var gateway = await StartAsync(o => o.TlsReloadInterval = TimeSpan.FromHours(1)); // the watcher alone
        var port = Port(gateway.Url);

        _ca.Write(next, CertFile + ".new", KeyFile + ".new");
        File.Move(KeyFile + ".new", KeyFile, overwrite: true);
        File.Move(CertFile + ".new", CertFile, overwrite: true);
        string? served = null;
        for (var attempt = 0; attempt < 100 && served != next.SerialNumber; attempt++)
        {
            await Task.Delay(100);
            served = await ServedSerialAsync(port, "api.test");
        }

        Assert.Equal(next.SerialNumber, served);
    }

    [Fact]
    public async Task Redirect_PlainHttpRequest_308ToHttpsWithSameHostPathAndQuery()
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => o.TlsRedirectListen = "127.0.0.1:0");
        var redirectUrl = gateway.Addresses.Last();
        using var plain = TestGateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, redirectUrl + "/echo/a%20b/c?x=1&y=%2F") { Content = new StringContent("body") };
        request.Headers.Host = "api.test";

        using var response = await plain.SendAsync(request);

        Assert.StartsWith("http://127.0.0.1:", redirectUrl, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.PermanentRedirect, response.StatusCode);
        Assert.Equal($"https://api.test:{Port(gateway.Url)}/echo/a%20b/c?x=1&y=%2F", response.Headers.Location!.OriginalString);
        Assert.Empty(_upstream.Received); // nothing was proxied from the redirect port
    }

    [Theory]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example")] // punycode stays as sent (was a 500: Unicode in Location)
    [InlineData("xn--zz.example", "xn--zz.example")]               // not valid punycode: the main port routes it all the same (was a 500)
    [InlineData("API.Test.", "API.Test.")]                         // case and a trailing dot as sent
    [InlineData("api.test:8080", "api.test")]                      // the client's port is replaced by the TLS port
    [InlineData("[::1]:8080", "[::1]")]
    [InlineData("api.test:0", "api.test")]                         // the client's port is never named, whatever it is
    [InlineData("API.TEST:8080", "API.TEST")]
    public async Task Redirect_HostAsSent_308ToThatHostOnTheTlsPort(string host, string expectedHost)
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => o.TlsRedirectListen = "127.0.0.1:0");
        var request = $"GET /echo/x?y=1 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n";

        var response = await RawHttp.SendAsync(gateway.Addresses.Last(), System.Text.Encoding.ASCII.GetBytes(request));

        Assert.Equal(308, response.Status);
        Assert.Equal($"https://{expectedHost}:{Port(gateway.Url)}/echo/x?y=1", response.Headers["Location"]);
        Assert.DoesNotContain("\"LogLevel\":\"Error\"", await _log.UpToMarkerAsync(gateway), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(443, "https://api.test/echo/x?y=1")]       // the port clients use by default is left out
    [InlineData(8443, "https://api.test:8443/echo/x?y=1")]
    public async Task Redirect_RedirectPortSet_LocationNamesThatPortNotTheMainPort(int redirectPort, string expected)
    {
        // Arrange: behind a port mapping the main port (here an ephemeral one) is not the port clients reach
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => (o.TlsRedirectListen, o.TlsRedirectPort) = ("127.0.0.1:0", redirectPort));
        var request = "GET /echo/x?y=1 HTTP/1.1\r\nHost: api.test:8080\r\nConnection: close\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(gateway.Addresses.Last(), System.Text.Encoding.ASCII.GetBytes(request));

        // Assert
        Assert.NotEqual(redirectPort, Port(gateway.Url));
        Assert.Equal(308, response.Status);
        Assert.Equal(expected, response.Headers["Location"]);
    }

    [Theory]
    [InlineData(443, "https://[::1]/echo/x?y=1")]
    [InlineData(8443, "https://[::1]:8443/echo/x?y=1")]
    public async Task Redirect_RedirectPortSetAndAnIpv6HostWithAnotherPort_LocationKeepsTheBracketsWithThatPort(int redirectPort, string expected)
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => (o.TlsRedirectListen, o.TlsRedirectPort) = ("127.0.0.1:0", redirectPort));
        var request = "GET /echo/x?y=1 HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n";

        var response = await RawHttp.SendAsync(gateway.Addresses.Last(), System.Text.Encoding.ASCII.GetBytes(request));

        Assert.Equal(308, response.Status);
        Assert.Equal(expected, response.Headers["Location"]);
    }

    [Theory]
    [InlineData("GET /echo/x HTTP/1.0\r\n\r\n")]                                              // HTTP/1.0 needs no Host
    [InlineData("GET /echo/x HTTP/1.1\r\nHost: evil.example/x\r\nConnection: close\r\n\r\n")] // Kestrel's own check
    [InlineData("GET /echo/x HTTP/1.1\r\nHost: user@evil.example\r\nConnection: close\r\n\r\n")]
    [InlineData("GET /echo/x HTTP/1.1\r\nHost: api.test:\r\nConnection: close\r\n\r\n")]   // an empty port: refused on every port (docs/tls.md)
    [InlineData("GET /echo/x HTTP/1.1\r\nHost: [::1]:\r\nConnection: close\r\n\r\n")]
    public async Task Redirect_NoHostOrNotAnAuthority_400WithoutLocation(string request)
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => o.TlsRedirectListen = "127.0.0.1:0");

        var response = await RawHttp.SendAsync(gateway.Addresses.Last(), System.Text.Encoding.ASCII.GetBytes(request));

        Assert.Equal(400, response.Status);
        Assert.False(response.Headers.ContainsKey("Location"));
    }

    [Fact]
    public async Task AdminListener_TlsOnByDefault_ServesSameCertificate()
    {
        var leaf = WriteServerCertificate();
        await using var gateway = await StartAsync(o => o.AdminListen = "127.0.0.1:0");
        using var client = _ca.Client();

        using var response = await client.GetAsync($"https://api.test:{Port(gateway.AdminUrl!)}/health");

        Assert.StartsWith("https://127.0.0.1:", gateway.AdminUrl, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(leaf.SerialNumber, await ServedSerialAsync(Port(gateway.AdminUrl!), "api.test"));
    }

    [Fact]
    public async Task AdminListener_AdminTlsOff_ServesPlainHttp()
    {
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => (o.AdminListen, o.AdminTls) = ("127.0.0.1:0", false));
        using var plain = TestGateway.CreateClient();

        using var response = await plain.GetAsync(gateway.AdminUrl + "/health");

        Assert.StartsWith("http://127.0.0.1:", gateway.AdminUrl, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task AdminListener_AdminTlsOffOnLoopback_NoClearTextWarning()
    {
        // Arrange: certificates, and admin.tls off for a listener only this machine reaches (the documented use)
        WriteServerCertificate();
        await using var gateway = await StartAsync(o => (o.AdminListen, o.AdminTls) = ("127.0.0.1:0", false));
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!_log.Text.Contains("\"EventId\":7030", StringComparison.Ordinal) && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
        }

        // Act
        var logged = await _log.UpToMarkerAsync(gateway);

        // Assert: the admin listener was announced in plain HTTP, with no warning (event 7032)
        Assert.Contains("\"EventId\":7030", logged, StringComparison.Ordinal);
        Assert.Contains("served only on the admin listener " + gateway.AdminUrl, logged, StringComparison.Ordinal);
        Assert.StartsWith("http://127.0.0.1:", gateway.AdminUrl, StringComparison.Ordinal);
        Assert.DoesNotContain("\"EventId\":7032", logged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ExpiredCertificate_StartsAndWarns()
    {
        var expired = _ca.Issue(["api.test"], DateTimeOffset.UtcNow.AddDays(-20), DateTimeOffset.UtcNow.AddDays(-1));
        _ca.Write(expired, CertFile, KeyFile);

        var gateway = await StartAsync();
        await gateway.DisposeAsync();

        Assert.Contains($"the certificate from {CertFile} (CN=api.test) expired at", _log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RouteHostsNoCertificateNames_WarnedOncePerHostNamingIt()
    {
        // Arrange: routes stored by a first run, read by the second at its start
        WriteServerCertificate("api.test", "*.apps.test");
        var first = await StartAsync();
        await first.AddRouteAsync(new RouteInput { Name = "covered", HostPattern = "API.test", Path = "/a/*", Upstream = "backend" });
        await first.AddRouteAsync(new RouteInput { Name = "one-label", HostPattern = "shop.apps.test", Path = "/b/*", Upstream = "backend" });
        await first.AddRouteAsync(new RouteInput { Name = "wildcard", HostPattern = "*.apps.test", Path = "/c/*", Upstream = "backend" });
        await first.AddRouteAsync(new RouteInput { Name = "two-labels", HostPattern = "a.b.apps.test", Path = "/d/*", Upstream = "backend" });
        await first.AddRouteAsync(new RouteInput { Name = "other", HostPattern = "other.test", Path = "/e/*", Upstream = "backend" });
        await first.AddRouteAsync(new RouteInput { Name = "other-again", HostPattern = "other.test", Path = "/f/*", Upstream = "backend" });
        await first.AddRouteAsync(new RouteInput { Name = "other-wildcard", HostPattern = "*.other.test", Path = "/g/*", Upstream = "backend" });
        await first.StopAsync();
        var firstRunLogged = _log.Text.Length; // the first run may warn too (a certificate check after its routes were added)

        // Act
        await using var second = await RestartAsync();
        var log = (await _log.UpToMarkerAsync(second))[firstRunLogged..].Split('\n')
            .Where(line => line.Contains("\"EventId\":7406", StringComparison.Ordinal)).ToList();

        // Assert
        Assert.Equal(3, log.Count);
        Assert.Contains(log, line => line.Contains(
            $"TLS: no certificate served names the host a.b.apps.test of route two-labels; its clients get the default certificate (from {CertFile}) and will refuse it",
            StringComparison.Ordinal));
        Assert.Contains(log, line => line.Contains("the host other.test of route other;", StringComparison.Ordinal));
        Assert.Contains(log, line => line.Contains("the host *.other.test of route other-wildcard;", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_NewCertificateNoLongerNamesARouteHost_WarnsNamingTheHost()
    {
        // Arrange
        WriteServerCertificate("api.test");
        await using var gateway = await StartAsync();
        await gateway.AddRouteAsync(new RouteInput { Name = "api", HostPattern = "api.test", Path = "/api/*", Upstream = "backend" });

        // Act
        WriteServerCertificate("renamed.test");

        // Assert
        await Poll.UntilAsync(
            () => _log.Text.Contains("no certificate served names the host api.test of route api;", StringComparison.Ordinal), () => _log.Text);
    }

    [Fact]
    public async Task RouteAddedWhileServing_HostNoCertificateNames_WarnedAtTheNextPeriodicCheckOnce()
    {
        // Arrange: a certificate for api.test, checked every 200 ms (its files unchanged)
        WriteServerCertificate("api.test");
        await using var gateway = await StartAsync();

        // Act: a route for a host it does not name, added through the admin API while the gateway serves
        await gateway.AddRouteAsync(new RouteInput { Name = "shop", HostPattern = "shop.test", Path = "/shop/*", Upstream = "backend" });
        const string warning = "no certificate served names the host shop.test of route shop;";
        await Poll.UntilAsync(() => _log.Text.Contains(warning, StringComparison.Ordinal), () => _log.Text);
        await gateway.AddRouteAsync(new RouteInput { Name = "blog", HostPattern = "blog.test", Path = "/blog/*", Upstream = "backend" });
        await Poll.UntilAsync(() => _log.Text.Contains("the host blog.test of route blog;", StringComparison.Ordinal), () => _log.Text);

        // Assert: the check that named the second host looked at the first again, and did not name it twice
        Assert.Equal(1, _log.Text.Split(warning).Length - 1);
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead, "640")]
    [InlineData(UnixFileMode.OtherRead, "604")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // Unix mode bits
    public async Task Start_PrivateKeyFileReadableByGroupOrOthers_WarnsNamingTheFileAndItsMode(UnixFileMode extra, string mode)
    {
        // Arrange
        WriteServerCertificate();
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);

        // Act
        await using var gateway = await StartAsync();
        var log = await _log.UpToMarkerAsync(gateway);

        // Assert
        Assert.Contains(
            $"TLS: the private key file {KeyFile} can be read by its group or by others (mode {mode}); make it readable by its owner only (chmod 600)",
            log, StringComparison.Ordinal);
        Assert.DoesNotContain("BEGIN", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PrivateKeyFileReadableByItsOwnerOnly_NoWarning()
    {
        // Arrange: mode 600
        WriteServerCertificate();

        // Act
        await using var gateway = await StartAsync();
        var log = await _log.UpToMarkerAsync(gateway);

        // Assert
        Assert.DoesNotContain("\"EventId\":7405", log, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_FilesUnchangedWhileTheCertificateNearsAndPassesItsExpiry_WarnsOnceForEach()
    {
        // Arrange: a certificate with 30 days left, on a clock the test moves; the files are never touched
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _ca.Write(_ca.Issue(["api.test"], time.GetUtcNow().AddDays(-1), time.GetUtcNow().AddDays(30)), CertFile, KeyFile);
        var certificates = new TlsCertificates(new TlsSources(CertFile, KeyFile, ""), time, []);
        var logger = new RecordingLogger<TlsCertificateWatcher>();
        using var watcher = new TlsCertificateWatcher(certificates, new GatewayOptions(), time, logger);

        // Act: the periodic check, today, 20 days on (twice), and 31 days on
        watcher.Check();
        var today = logger.Count(7403);
        time.Advance(TimeSpan.FromDays(20));
        watcher.Check();
        watcher.Check();
        var nearExpiry = logger.Messages.ToList();
        time.Advance(TimeSpan.FromDays(11));
        watcher.Check();

        // Assert
        Assert.Equal(0, today);
        Assert.Equal([$"TLS: the certificate from {CertFile} (CN=api.test) expires at {certificates.Current.Default.NotAfter:u}"], nearExpiry);
        Assert.Equal($"TLS: the certificate from {CertFile} (CN=api.test) expired at {certificates.Current.Default.NotAfter:u}; clients will refuse it", logger.Messages[^1]);
        Assert.Equal(2, logger.Count(7403));
    }

    [Fact]
    public async Task Start_MissingCertificateFile_RefusedNamingTheSetting()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync());

        Assert.Contains($"tls.cert_file (APIGATE_TLS_CERT_FILE): cannot read the certificate file '{CertFile}': no such file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CertificateFileInPkcs12_RefusedNamingTheSettingAndHowToConvert()
    {
        // Arrange: a .pfx where the PEM certificate belongs, its password never given
        var leaf = WriteServerCertificate();
        File.WriteAllBytes(CertFile, leaf.Export(X509ContentType.Pkcs12, "not-printed"));

        // Act
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync());

        // Assert
        Assert.StartsWith(
            $"invalid configuration: tls.cert_file (APIGATE_TLS_CERT_FILE): '{CertFile}' is a binary file (DER, or PKCS#12 .pfx/.p12), not PEM; convert it: openssl pkcs12 -in FILE.pfx -nokeys",
            error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-printed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_KeyOfAnotherCertificate_RefusedNamingTheKeySetting()
    {
        var leaf = _ca.Issue(["api.test"]);
        var other = _ca.Issue(["other.test"]);
        _ca.Write(leaf, CertFile, Path.Combine(_directory, "unused.key"));
        _ca.Write(other, Path.Combine(_directory, "other.crt"), KeyFile);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync());

        Assert.Contains($"tls.key_file (APIGATE_TLS_KEY_FILE): the private key in '{KeyFile}' does not belong to the certificate in '{CertFile}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CertificateFileWithTheIntermediateFirst_RefusedNamingTheCertificateSettingAndTheOrder()
    {
        // Arrange: the chain as some CAs hand it out, intermediate before the server's certificate
        var leaf = _ca.Issue(["api.test"]);
        _ca.Write(leaf, Path.Combine(_directory, "ordered.crt"), KeyFile);
        File.WriteAllText(CertFile, _ca.Certificate.ExportCertificatePem() + "\n" + leaf.ExportCertificatePem() + "\n");

        // Act
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync());

        // Assert
        Assert.Equal(
            $"invalid configuration: tls.cert_file (APIGATE_TLS_CERT_FILE): '{CertFile}' does not start with the server's certificate: " +
            $"the private key in '{KeyFile}' belongs to certificate 2 of 2 (CN=api.test); put that one first, then its intermediates",
            error.Message);
    }

    [Fact]
    public async Task Start_RsaKeyOf1024Bits_RefusedSayingItIsTooWeak()
    {
        // Arrange: it used to pass every check, and then every handshake failed with a "protocol version" alert, the
        // system's TLS library refusing the key, with nothing in the gateway's log
        using var rsa = RSA.Create(1024);
        var request = new CertificateRequest("CN=api.test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("api.test");
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var caKey = _ca.Certificate.GetECDsaPrivateKey()!;
        using var issued = request.Create(_ca.Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), now.AddDays(-1), now.AddDays(30), [5, 6, 7, 8]);
        File.WriteAllText(CertFile, issued.ExportCertificatePem() + "\n");
        File.WriteAllText(KeyFile, rsa.ExportPkcs8PrivateKeyPem() + "\n");

        // Act
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync());

        // Assert
        Assert.Contains(
            $"tls.cert_file (APIGATE_TLS_CERT_FILE): the certificate in '{CertFile}' has a 1024-bit RSA key, which TLS libraries refuse as too weak (every handshake would fail); use a key of at least 2048 bits",
            error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DSA")]
    [InlineData("Ed25519")]
    public async Task Start_CertificateWithAKeyTypeTheGatewayCannotServe_RefusedNamingTheType(string type)
    {
        // Arrange: a certificate and its own key, of a type TLS termination here cannot use (DSA stopped the gateway with
        // an unhandled exception; Ed25519 was said to be a key that does not belong to its certificate)
        WriteUnservable(type);

        // Act
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync());

        // Assert
        Assert.Contains(
            $"tls.cert_file (APIGATE_TLS_CERT_FILE): the certificate in '{CertFile}' has a key of type {type}, which the gateway cannot serve; use an RSA or ECDSA certificate and key",
            error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_FilesReplacedByADsaPair_KeepsServingTheOldCertificateAndWarns()
    {
        // Arrange
        var old = WriteServerCertificate();
        var gateway = await StartAsync(o => (o.TlsReloadInterval, o.LogFormat) = (TimeSpan.FromHours(1), "console"));
        var watcher = gateway.Service<TlsCertificateWatcher>();
        var port = Port(gateway.Url);

        // Act: the check runs on a timer, where the exception this pair raised ended the process
        WriteUnservable("DSA");
        watcher.Check();
        var served = await ServedSerialAsync(port, "api.test");
        using var client = _ca.Client();
        using var response = await client.GetAsync($"https://api.test:{port}/echo/after-rotation");
        await gateway.DisposeAsync();

        // Assert
        Assert.Equal(old.SerialNumber, served);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains($"the previous certificates stay in use: tls.cert_file: the certificate in '{CertFile}' has a key of type DSA", _log.Text, StringComparison.Ordinal);
    }

    /// <summary>Writes a certificate for api.test with its own key, of a <paramref name="type"/> the gateway does not serve.</summary>
    private void WriteUnservable(string type)
    {
        if (type == "DSA")
        {
            using var dsa = DSA.Create(2048);
            var request = new CertificateRequest(new X500DistinguishedName("CN=api.test"), new PublicKey(dsa), HashAlgorithmName.SHA256);
            var now = DateTimeOffset.UtcNow;
            using var caKey = _ca.Certificate.GetECDsaPrivateKey()!;
            using var issued = request.Create(_ca.Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), now.AddDays(-1), now.AddDays(30), [1, 2, 3, 4]);
            File.WriteAllText(CertFile, issued.ExportCertificatePem() + "\n");
            File.WriteAllText(KeyFile, dsa.ExportPkcs8PrivateKeyPem() + "\n");
            return;
        }

        // Ed25519, which the runtime cannot make: a self-signed pair made with openssl req -x509 -newkey ed25519.
        File.WriteAllText(CertFile, """
            -----BEGIN CERTIFICATE-----
            MIIBXjCCARCgAwIBAgIUBrr0QZfX5GjtEvr3bHlW/aGay3cwBQYDK2VwMBcxFTAT
            BgNVBAMMDGVkMjU1MTkudGVzdDAgFw0yNjEyMDYxMzIyNTJaGA8yMTI2MTExMjEz
            MjI1MlowFzEVMBMGA1UEAwwMZWQyNTUxOS50ZXN0MCowBQYDK2VwAyEAZwZH3fig
            5wP77ZhL+wxPOzJxyDGnZb7FEpzvF3XXT6OjbDBqMB0GA1UdDgQWBBRsRbfSKyjc
            37YNTyhk0nyQ+fDXpzAfBgNVHSMEGDAWgBRsRbfSKyjc37YNTyhk0nyQ+fDXpzAP
            BgNVHRMBAf8EBTADAQH/MBcGA1UdEQQQMA6CDGVkMjU1MTkudGVzdDAFBgMrZXAD
            QQC9ToRqRjkGXNBrC3czPNjcAIsSgV6EYpjxIwWlZKmB1ENI+MjsCmLmj5QlzkZP
            awDyjyUo+gnHiies75o+aQYE
            -----END CERTIFICATE-----

            """);
        File.WriteAllText(KeyFile, """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEILNheYsVwy1mjfptll+C8Mw7PyCgVKnA+rOiSi560BJJ
            -----END PRIVATE KEY-----

            """);
    }

    [Theory]
    [InlineData("", "tls.key_file (APIGATE_TLS_KEY_FILE): is not set; tls.cert_file needs the private key that belongs to it")]
    [InlineData("cert-as-key", "tls.key_file (APIGATE_TLS_KEY_FILE): '{key}' holds no PEM private key")]
    [InlineData("encrypted", "tls.key_file (APIGATE_TLS_KEY_FILE): '{key}' holds an encrypted private key")]
    [InlineData("encrypted-traditional", "tls.key_file (APIGATE_TLS_KEY_FILE): '{key}' holds an encrypted private key")]
    [InlineData("pfx", "tls.key_file (APIGATE_TLS_KEY_FILE): '{key}' is a binary file (DER, or PKCS#12 .pfx/.p12), not PEM; convert it: openssl pkcs12")]
    [InlineData("directory", "tls.key_file (APIGATE_TLS_KEY_FILE): cannot read the private key file '{key}': it is a directory; name the private key file in it")]
    public async Task Start_UnusableKeySetting_RefusedSayingWhy(string key, string expected)
    {
        var leaf = WriteServerCertificate();
        if (key == "cert-as-key")
        {
            File.Copy(CertFile, KeyFile, overwrite: true);
        }
        else if (key == "encrypted")
        {
            File.WriteAllText(KeyFile, leaf.GetECDsaPrivateKey()!.ExportEncryptedPkcs8PrivateKeyPem(
                "secret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000)));
        }
        else if (key == "pfx")
        {
            File.WriteAllBytes(KeyFile, leaf.Export(X509ContentType.Pkcs12, "not-printed"));
        }
        else if (key == "encrypted-traditional")
        {
            // What `openssl genrsa -aes256` writes: encryption headers inside the block, the key's bytes encrypted.
            File.WriteAllText(KeyFile,
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC," + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)) +
                "\n\n" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(128), Base64FormattingOptions.InsertLineBreaks) + "\n-----END EC PRIVATE KEY-----\n");
        }

        var keySetting = key switch
        {
            "" => "",
            "directory" => _directory, // e.g. certbot's live/NAME instead of live/NAME/privkey.pem
            _ => KeyFile,
        };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => o.TlsKeyFile = keySetting));

        Assert.Contains(expected.Replace("{key}", keySetting, StringComparison.Ordinal), error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("missing", "cannot read the directory '{dir}': no such directory")]
    [InlineData("file", "cannot read the directory '{dir}': it is a file; name the directory that holds the certificates, or set tls.cert_file and tls.key_file to a single pair")]
    public async Task Start_CertificateDirectoryNotADirectory_RefusedSayingWhy(string kind, string expected)
    {
        // Arrange: the setting pointing at nothing, or at a certificate file instead of its directory
        WriteServerCertificate();
        var certDir = kind == "file" ? CertFile : Path.Combine(_directory, "no-such-dir");

        // Act
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsCertDir) = ("", "", certDir)));

        // Assert
        Assert.Equal($"invalid configuration: tls.cert_dir (APIGATE_TLS_CERT_DIR): {expected.Replace("{dir}", certDir, StringComparison.Ordinal)}", error.Message);
    }

    [Fact]
    public async Task Start_CertificateDirectoryIsOneCertbotCertificatesFolder_RefusedNamingItsParentAndTheFilePair()
    {
        // Arrange: APIGATE_TLS_CERT_DIR=/etc/letsencrypt/live/api.test instead of /etc/letsencrypt/live
        var live = Path.Combine(_directory, "live");
        var domain = Path.Combine(live, "api.test");
        Directory.CreateDirectory(domain);
        var leaf = _ca.Issue(["api.test"]);
        _ca.Write(leaf, Path.Combine(domain, "fullchain.pem"), Path.Combine(domain, "privkey.pem"));
        File.WriteAllText(Path.Combine(domain, "cert.pem"), leaf.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(domain, "chain.pem"), _ca.Certificate.ExportCertificatePem() + "\n");

        // Act
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsCertDir) = ("", "", domain)));

        // Assert: it used to say that cert.pem holds no private key
        Assert.Equal(
            $"invalid configuration: tls.cert_dir (APIGATE_TLS_CERT_DIR): '{domain}' is the folder of one certificate in certbot's layout (fullchain.pem + privkey.pem); "
            + $"set tls.cert_dir to the folder that holds such folders ('{live}'), or tls.cert_file and tls.key_file to those two files",
            error.Message);
    }

    [Fact]
    public async Task Start_RedirectWithoutTls_RefusedNamingTheSetting()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => (o.TlsCertFile, o.TlsKeyFile, o.TlsRedirectListen) = ("", "", "127.0.0.1:0")));

        Assert.Contains("tls.redirect_listen (APIGATE_TLS_REDIRECT_LISTEN): is set but TLS is not", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RedirectPortWithoutRedirectListen_RefusedNamingBothSettings()
    {
        WriteServerCertificate();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => o.TlsRedirectPort = 443));

        Assert.Equal(
            "invalid configuration: tls.redirect_port (APIGATE_TLS_REDIRECT_PORT): is set but tls.redirect_listen is not: it is the port that listener's redirects name",
            error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65536)]
    public async Task Start_RedirectPortOutOfRange_RefusedNamingTheSetting(int redirectPort)
    {
        WriteServerCertificate();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => (o.TlsRedirectListen, o.TlsRedirectPort) = ("127.0.0.1:0", redirectPort)));

        Assert.Equal($"invalid configuration: tls.redirect_port (APIGATE_TLS_REDIRECT_PORT): {redirectPort} is out of range (1-65535)", error.Message);
    }

    [Fact]
    public async Task Start_RedirectOnTheH2cPortOfAnotherAddress_RefusedNamingTheSetting()
    {
        // The listeners are told apart by port number: every request to the h2c port would be answered with a redirect.
        WriteServerCertificate();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(o => (o.H2cPort, o.TlsRedirectListen) = (19299, "127.0.0.2:19299")));

        Assert.Contains("tls.redirect_listen (APIGATE_TLS_REDIRECT_LISTEN): port 19299 is the cleartext HTTP/2 port (server.h2c_port)", error.Message, StringComparison.Ordinal);
    }

    private async Task<string> ServedSerialAsync(int port, string? serverName)
    {
        await using var ssl = await _ca.HandshakeAsync(port, serverName);
        return ssl.RemoteCertificate!.GetSerialNumberString();
    }

    private static async Task<(byte Type, byte Description)> FirstRecordAsync(int port, byte[] hello)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(hello);
        var header = new byte[7];
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (read < header.Length)
        {
            var n = await stream.ReadAsync(header.AsMemory(read), timeout.Token);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        Assert.True(read >= 7, $"the server closed after {read} bytes");
        return (header[0], header[6]); // record type; for an alert, its description
    }
}
