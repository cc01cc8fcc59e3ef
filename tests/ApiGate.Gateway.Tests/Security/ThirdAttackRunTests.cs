using System.Net;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// What a third attack run found, kept so it cannot come back: an entitlement or upstream credential header named like
/// a header the gateway sets or one that frames the message, the "httpoxy" <c>Proxy</c> header and path-override
/// headers reaching the backend, and client-address and forwarding headers other than <c>X-Forwarded-For</c> passed
/// through from clients that are not trusted proxies.
/// </summary>
public sealed class ThirdAttackRunTests : GatewayTestBase
{
    private string _key = "";
    private string _userId = "";

    private protected override void Configure(GatewayOptions options) => options.TrustedProxies = "10.0.0.0/8"; // the test client is not one

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "pub", Path = "/pub/*", Upstream = "backend" }, reload: false);
        var created = await Gateway.CreateKeyAsync("owner@example.com");
        (_key, _userId) = (created.Key, created.User.Id);
    }

    [Theory]
    [InlineData("X-User-ID")]
    [InlineData("x_user_id")]
    [InlineData("X-Plan-ID")]
    [InlineData("X-Forwarded-For")]
    [InlineData("Host")]
    [InlineData("Content-Length")]
    [InlineData("Transfer-Encoding")]
    [InlineData("Connection")]
    [InlineData("Authorization")]
    [InlineData("X-API-Key")]
    [InlineData("Content-Language")] // fields of the body: the outgoing request's header collection throws for them
    [InlineData("expires")]
    [InlineData("Last_Modified")]
    public async Task EntitlementHeaderName_ReservedName_RefusedNamingTheField(string name)
    {
        // Act
        var result = await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String, DefaultValue = "gold", HeaderName = name }, CancellationToken.None);

        // Assert
        Assert.False(result.Ok);
        Assert.Equal((ManagementErrorKind.Validation, "header_name"), (result.Error!.Kind, result.Error.Field));
        Assert.Contains($"'{name}'", result.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X-User-ID", false)]
    [InlineData("Content-Length", false)]
    [InlineData("Host", false)]
    [InlineData("X_Forwarded_Host", false)]
    [InlineData("Content-Disposition", false)]
    [InlineData("Expires", false)]
    [InlineData("Authorization", true)]
    [InlineData("X-API-Key", true)]
    [InlineData("X-Backend-Token", true)]
    public async Task UpstreamAuthHeader_ReservedNameRefused_CredentialHeadersAllowed(string name, bool allowed)
    {
        // Act
        var result = await Gateway.Upstreams.CreateAsync(new UpstreamChanges
        {
            Name = "auth-" + name.ToLowerInvariant().Replace('_', '-'), Url = new Uri(Upstream.Url),
            AuthType = UpstreamAuthType.Header, AuthHeader = name, AuthValue = "s3cret-value",
        }, CancellationToken.None);

        // Assert
        Assert.Equal(allowed, result.Ok);
        if (!allowed)
        {
            Assert.Equal("auth_header", result.Error!.Field);
            Assert.DoesNotContain("s3cret-value", result.Error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EntitlementStoredWithABodyFieldName_LeftOutAndTheRequestForwarded()
    {
        // Act: an entitlement header a request cannot carry apart from its body
        var response = await RequestWithStoredEntitlementAsync("Content-Language", "de");

        // Assert: forwarded (it was a 502 for every request of the plan), without the field
        Assert.Equal(200, response.Status);
        Assert.False(Assert.Single(Upstream.Received).Headers.ContainsKey("Content-Language"));
    }

    [Fact]
    public async Task EntitlementStoredWithAReservedName_NeverReplacesTheGatewaysIdentityHeader()
    {
        // Act
        var response = await RequestWithStoredEntitlementAsync("X-User-ID", "usr_forged");

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal([_userId], Assert.Single(Upstream.Received).Headers["X-User-ID"]);
    }

    /// <summary>
    /// Writes an entitlement with <paramref name="headerName"/> straight to the store, as a store from before the
    /// reserved-name rule would hold it, reloads, and sends one authenticated request.
    /// </summary>
    private async Task<RawResponse> RequestWithStoredEntitlementAsync(string headerName, string value)
    {
        await Gateway.Store.CreateEntitlementAsync(new EntitlementDefinition
        {
            Id = "ent_legacy", Name = "legacy", ValueType = EntitlementValueType.String, DefaultValue = value, HeaderName = headerName, Enabled = true,
        }, "header_name", CancellationToken.None);
        await Gateway.ReloadAsync();
        return await RawHttp.GetAsync(Gateway.Url, "/priv/x", "X-API-Key: " + _key);
    }

    [Theory]
    [InlineData("/pub/x")]
    [InlineData("/priv/x")]
    public async Task ProxyAndPathOverrideAndClientAddressHeaders_FromAnUntrustedClient_NeverReachTheBackend(string path)
    {
        // Arrange
        string[] sent =
        [
            "Proxy: http://127.0.0.1:9/", "X-Original-URL: /admin", "X-Rewrite-URL: /admin", "X-Forwarded-Port: 443",
            "X-Forwarded-Prefix: /evil", "X-Forwarded-Server: evil.example", "X-Forwarded-Ssl: on", "Front-End-Https: on",
            "True-Client-IP: 192.0.2.1", "X-Client-IP: 192.0.2.2", "Client-IP: 192.0.2.3", "CF-Connecting-IP: 192.0.2.4",
            "Fastly-Client-IP: 192.0.2.5", "X-Cluster-Client-IP: 192.0.2.6", "X-Original-Forwarded-For: 192.0.2.7", "X-Kept: yes",
        ];

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, path, [.. sent, "X-API-Key: " + _key]);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received).Headers;
        Assert.Equal(["yes"], received["X-Kept"]);
        foreach (var line in sent[..^1])
        {
            var name = line[..line.IndexOf(':', StringComparison.Ordinal)];
            Assert.False(received.ContainsKey(name), $"{name} reached the backend");
        }
    }

    [Fact]
    public async Task UpstreamResponse_HeadersItsConnectionHeaderNames_AreNotPassedToTheClient()
    {
        // Arrange: a backend that marks X-Hop hop-by-hop (RFC 9110 §7.6.1): it is for the next hop only. Written raw,
        // since Kestrel rewrites a Connection header with other tokens.
        await using var backend = await ScriptedBackend.StartAsync(
            "HTTP/1.1 200 OK\r\nConnection: X-Hop, close\r\nX-Hop: for the gateway\r\nX-Kept: for the client\r\nContent-Length: 3\r\n\r\nhop");
        await Gateway.AddUpstreamAsync("raw", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "raw", Path = "/raw/*", Upstream = "raw" });

        // Act
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/raw/x");

        // Assert: the nominated header stays at the gateway, the others arrive.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Hop"));
        Assert.Equal("for the client", Assert.Single(response.Headers.GetValues("X-Kept")));
        Assert.Equal("hop", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n")]
    [InlineData("CONNECT gw:80 HTTP/1.1\r\nHost: gw:80\r\n")]
    public async Task Connect_Returns405BeforeAnyRouteAndIsNotForwarded(string head)
    {
        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(head + "Connection: close\r\n\r\n"));

        // Assert
        Assert.Equal(405, response.Status);
        Assert.Equal("method_not_allowed", response.ErrorCode);
        Assert.Contains("CONNECT is not forwarded", response.Body, StringComparison.Ordinal);
        Assert.Contains("GET", response.Headers["Allow"], StringComparison.Ordinal);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("long-target", 414)]
    [InlineData("many-headers", 431)]
    [InlineData("large-headers", 431)]
    public async Task OversizedRequestHead_RefusedByTheServerAndNotForwarded(string shape, int expected)
    {
        // Arrange: the limits docs/forwarding.md states (request line 8 KiB; 100 headers; 32 KiB of headers).
        var head = shape switch
        {
            "long-target" => $"GET /pub/{new string('a', 9 * 1024)} HTTP/1.1\r\nHost: gw\r\n",
            "many-headers" => "GET /pub/x HTTP/1.1\r\nHost: gw\r\n" + string.Concat(Enumerable.Range(0, 101).Select(i => $"X-H{i}: v\r\n")),
            _ => "GET /pub/x HTTP/1.1\r\nHost: gw\r\n" + string.Concat(Enumerable.Range(0, 5).Select(i => $"X-Big{i}: {new string('v', 7 * 1024)}\r\n")),
        };

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(head + "Connection: close\r\n\r\n"));

        // Assert
        Assert.Equal(expected, response.Status);
        Assert.Empty(Upstream.Received);
    }
}
