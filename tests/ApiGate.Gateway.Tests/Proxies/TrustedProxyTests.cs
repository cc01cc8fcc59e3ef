using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Observability;

namespace ApiGate.Gateway.Tests.Proxies;

/// <summary>
/// <c>APIGATE_TRUSTED_PROXIES</c> end to end. The test client connects from 127.0.0.1: trusting 127.0.0.1 makes it a
/// proxy, trusting only 10.0.0.0/8 makes it an untrusted client.
/// </summary>
public sealed class TrustedProxyTests : IAsyncLifetime
{
    private readonly CapturedLog _log = new();
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private async Task<TestGateway> StartAsync(string trustedProxies)
    {
        var gateway = await TestGateway.StartAsync(options =>
        {
            options.TrustedProxies = trustedProxies;
            _log.TakeJsonFrom(options);
            options.UsageRawEvents = "all"; // a raw row for the public route's requests too: the recorded client_ip is checked
        });
        await gateway.AddUpstreamAsync("backend", _upstream.Url);
        await gateway.AddRouteAsync(new RouteInput
        {
            Name = "echo", Path = "/echo/*", Upstream = "backend",
            RequestTransform = """{"headers":{"add":{"X-Seen-Client":"${client_ip}"}}}""",
        });
        return gateway;
    }

    private static HttpRequestMessage Spoofed(TestGateway gateway, string requestId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/x");
        request.Headers.Add("X-Forwarded-For", "198.51.100.9, 203.0.113.7");
        request.Headers.Add("Forwarded", "for=192.0.2.1");
        request.Headers.Add("X-Real-IP", "192.0.2.2");
        request.Headers.Add("X-Request-ID", requestId);
        return request;
    }

    [Fact]
    public async Task Request_UntrustedPeerWithSpoofedHeaders_PeerIsClientEverywhere()
    {
        // Arrange: loopback is not a trusted proxy
        await using var gateway = await StartAsync("10.0.0.0/8");
        using var request = Spoofed(gateway, "req-untrusted");

        // Act
        using var response = await gateway.Client.SendAsync(request);
        await gateway.StopAsync();

        // Assert: upstream view, ${client_ip}, usage event and access log all say 127.0.0.1
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.Equal(["127.0.0.1"], received.Headers["X-Forwarded-For"]);
        Assert.False(received.Headers.ContainsKey("Forwarded"));
        Assert.False(received.Headers.ContainsKey("X-Real-IP"));
        Assert.Equal(["127.0.0.1"], received.Headers["X-Seen-Client"]);
        Assert.Equal("127.0.0.1", Assert.Single(await EventsAsync(gateway)).ClientIp);
        Assert.Equal("127.0.0.1", AccessLine("req-untrusted").GetProperty("ClientIp").GetString());
    }

    [Fact]
    public async Task Request_ForwardedProtoAndHost_AppendedFromATrustedProxyReplacedFromAnyoneElse()
    {
        // Arrange: the same request through a gateway that trusts loopback and one that does not
        await using var trusting = await StartAsync("127.0.0.1");
        await using var untrusting = await StartAsync("10.0.0.0/8");

        // Act
        foreach (var gateway in new[] { trusting, untrusting })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/x");
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-Host", "api.example.com");
            request.Headers.Host = "gateway.internal";
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Assert: the proxy's values kept with the gateway's own appended; the client's replaced
        var received = _upstream.Received.ToArray();
        var (fromProxy, fromClient) = (received[^2], received[^1]);
        Assert.Equal("https, http", string.Join(", ", fromProxy.Headers["X-Forwarded-Proto"]));
        Assert.Equal("api.example.com, gateway.internal", string.Join(", ", fromProxy.Headers["X-Forwarded-Host"]));
        Assert.Equal(["http"], fromClient.Headers["X-Forwarded-Proto"]);
        Assert.Equal(["gateway.internal"], fromClient.Headers["X-Forwarded-Host"]);
    }

    [Fact]
    public async Task Request_ThroughTrustedProxies_RightMostUntrustedHopIsClientEverywhere()
    {
        // Arrange: loopback and 10/8 are proxies; 203.0.113.7 is the first untrusted hop from the right
        await using var gateway = await StartAsync("127.0.0.1, 10.0.0.0/8");
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/x");
        request.Headers.Add("X-Forwarded-For", "198.51.100.9, 203.0.113.7, 10.1.2.3");
        request.Headers.Add("X-Request-ID", "req-chain");

        // Act
        using var response = await gateway.Client.SendAsync(request);
        await gateway.StopAsync();

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.Equal(["203.0.113.7, 10.1.2.3, 127.0.0.1"], received.Headers["X-Forwarded-For"]);
        Assert.Equal(["203.0.113.7"], received.Headers["X-Seen-Client"]);
        Assert.Equal("203.0.113.7", Assert.Single(await EventsAsync(gateway)).ClientIp);
        Assert.Equal("203.0.113.7", AccessLine("req-chain").GetProperty("ClientIp").GetString());
    }

    [Fact]
    public async Task Request_FromTrustedProxy_ItsPortPrefixAndClientAddressHeadersPassButNeverProxyOrPathOverrides()
    {
        // Arrange
        await using var gateway = await StartAsync("127.0.0.1");
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/x");
        request.Headers.Add("X-Forwarded-Port", "443");
        request.Headers.Add("X-Forwarded-Prefix", "/api");
        request.Headers.Add("True-Client-IP", "203.0.113.7");
        request.Headers.Add("Proxy", "http://127.0.0.1:9/");
        request.Headers.Add("X-Original-URL", "/admin");

        // Act
        using var response = await gateway.Client.SendAsync(request);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last().Headers;
        Assert.Equal(["443"], received["X-Forwarded-Port"]);
        Assert.Equal(["/api"], received["X-Forwarded-Prefix"]);
        Assert.Equal(["203.0.113.7"], received["True-Client-IP"]);
        Assert.False(received.ContainsKey("Proxy"));
        Assert.False(received.ContainsKey("X-Original-URL"));
    }

    [Fact]
    public async Task Request_KeptAliveConnectionFromProxy_EachRequestResolvedOnItsOwn()
    {
        // Arrange: one keep-alive connection carrying two requests, only the first with a chain
        await using var gateway = await StartAsync("127.0.0.1");
        using var first = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/1");
        first.Headers.Add("X-Forwarded-For", "203.0.113.7");
        using var second = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/2");

        // Act
        using var firstResponse = await gateway.Client.SendAsync(first);
        using var secondResponse = await gateway.Client.SendAsync(second);

        // Assert: the second request is the proxy's own, not the previous request's client
        var received = _upstream.Received.ToArray();
        Assert.Equal(HttpStatusCode.OK, secondResponse.StatusCode);
        Assert.Equal(["203.0.113.7"], received[^2].Headers["X-Seen-Client"]);
        Assert.Equal(["127.0.0.1"], received[^1].Headers["X-Seen-Client"]);
        Assert.Equal(["127.0.0.1"], received[^1].Headers["X-Forwarded-For"]);
    }

    [Fact]
    public async Task Request_TrustedProxyWithGarbageHop_StopsAtLastTrustedHop()
    {
        await using var gateway = await StartAsync("127.0.0.1, 10.0.0.0/8");
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/x");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.7, <script>, 10.1.2.3");

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.Equal(["10.1.2.3, 127.0.0.1"], received.Headers["X-Forwarded-For"]);
        Assert.Equal(["10.1.2.3"], received.Headers["X-Seen-Client"]);
    }

    [Fact]
    public async Task Request_TrustedProxyForwardedHeader_ForNodeIsClient()
    {
        await using var gateway = await StartAsync("127.0.0.1");
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/echo/x");
        request.Headers.TryAddWithoutValidation("Forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https");

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.Equal(["2001:db8:cafe::17, 127.0.0.1"], received.Headers["X-Forwarded-For"]);
        Assert.False(received.Headers.ContainsKey("Forwarded"));
        Assert.Equal(["2001:db8:cafe::17"], received.Headers["X-Seen-Client"]);
    }

    [Fact]
    public async Task HashByClientIp_ClientsBehindOneProxy_SpreadByResolvedAddress()
    {
        // Arrange: three backends hashed on client_ip; every request comes from the one proxy (127.0.0.1)
        await using var b1 = await TestUpstream.StartAsync();
        await using var b2 = await TestUpstream.StartAsync();
        await using var gateway = await StartAsync("127.0.0.1");
        var created = await gateway.Upstreams.CreateAsync((new UpstreamInput
        {
            Name = "by-ip", LbPolicy = "hash", HashOn = "client_ip",
            Targets = [new TargetInput { Url = _upstream.Url }, new TargetInput { Url = b1.Url }, new TargetInput { Url = b2.Url }],
        }).Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await gateway.AddRouteAsync(new RouteInput { Name = "by-ip", Path = "/by-ip/*", Upstream = "by-ip" });

        // Act: 20 clients, 3 requests each
        var portsPerClient = new List<HashSet<int>>();
        for (var client = 1; client <= 20; client++)
        {
            var ports = new HashSet<int>();
            for (var repeat = 0; repeat < 3; repeat++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/by-ip/x");
                request.Headers.Add("X-Forwarded-For", "203.0.113." + client);
                using var response = await gateway.Client.SendAsync(request);
                ports.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("port").GetInt32());
            }

            portsPerClient.Add(ports);
        }

        // Assert: each client sticks to one backend, and the clients are not all on one (the proxy's address is not the key)
        Assert.All(portsPerClient, ports => Assert.Single(ports));
        Assert.True(portsPerClient.Select(p => p.Single()).Distinct().Count() > 1);
    }

    [Fact]
    public async Task Request_NoTrustedProxies_ClientForwardedForReplacedByPeer()
    {
        await using var gateway = await StartAsync("");
        using var request = Spoofed(gateway, "req-none");

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.Equal(["127.0.0.1"], received.Headers["X-Forwarded-For"]);
        Assert.Equal(["127.0.0.1"], received.Headers["X-Seen-Client"]);
    }

    [Fact]
    public async Task Start_BadTrustedProxyEntry_RefusedNamingTheSetting()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => TestGateway.StartAsync(o => o.TrustedProxies = "10.0.0.0/8, proxy.internal"));

        Assert.Contains("server.trusted_proxies (APIGATE_TRUSTED_PROXIES): 'proxy.internal' is not an IP address or CIDR", error.Message, StringComparison.Ordinal);
    }

    private JsonElement AccessLine(string requestId) =>
        AccessLogTests.AccessLines(_log.Text).Single(a => a.GetProperty("RequestId").GetString() == requestId);

    private static async Task<IReadOnlyList<UsageEvent>> EventsAsync(TestGateway gateway)
    {
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None);
    }
}
