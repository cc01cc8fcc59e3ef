using System.Net;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// Headers and credentials from a hostile client: identity headers smuggled with underscores to a real WSGI backend,
/// API keys on public routes and in expressions, two different keys, TRACE, bare-LF line endings.
/// </summary>
public sealed class HeaderSecurityTests : IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private WsgiUpstream _wsgi = null!;
    private TestGateway _gateway = null!;
    private string _key = "";
    private string _userId = "";

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _wsgi = await WsgiUpstream.StartAsync();
        _gateway = await StartGatewayAsync(allowUnderscores: false);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _wsgi.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<TestGateway> StartGatewayAsync(bool allowUnderscores)
    {
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.AuthAllowQueryKey = true;
            o.AllowUnderscoreHeaders = allowUnderscores;
        });
        await gateway.AddUpstreamAsync("echo", _upstream.Url);
        await gateway.AddUpstreamAsync("wsgi", _wsgi.Url, new UpstreamInput { AuthType = "header", AuthHeader = "X-Backend-Secret", AuthValue = "s3cret" });
        await gateway.AddRouteAsync(new RouteInput { Name = "wsgi", Path = "/wsgi/*", Upstream = "wsgi", AuthRequired = true }, reload: false);
        await gateway.AddRouteAsync(new RouteInput { Name = "pub", Path = "/pub/*", Upstream = "echo" }, reload: false);
        await gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "echo", AuthRequired = true }, reload: false);
        await gateway.AddRouteAsync(new RouteInput
        {
            Name = "seen",
            Path = "/seen/*",
            Upstream = "echo",
            PathRewrite = "'/seen/' + (headers['x-api-key'] || 'none') + '/' + (headers['authorization'] || 'none') + '/' + (query.api_key || 'none')",
        }, reload: false);
        var created = await gateway.CreateKeyAsync("caller@example.com");
        (_key, _userId) = (created.Key, created.User.Id);
        return gateway;
    }

    private async Task<JsonElement> WsgiAsync(params string[] headers)
    {
        var response = await RawHttp.GetAsync(_gateway.Url, "/wsgi/x", ["Authorization: Bearer " + _key, .. headers]);
        Assert.Equal(200, response.Status);
        return JsonDocument.Parse(response.Body).RootElement.Clone();
    }

    [Fact]
    public async Task UnderscoreIdentityHeaders_NeverReachACgiBackend()
    {
        // Act
        var seen = await WsgiAsync("X_User_ID: spoofed", "x_plan_id: enterprise", "X_Entitlement_Foo: on", "X_API_Key: ak_stolen",
            "X_Backend_Secret: forged", "X_Custom: 1");

        // Assert: the backend sees the gateway's values only, and no underscore header at all by default.
        Assert.Equal(_userId, seen.GetProperty("HTTP_X_USER_ID").GetString());
        Assert.Equal("free", seen.GetProperty("HTTP_X_PLAN_ID").GetString());
        Assert.Equal("s3cret", seen.GetProperty("HTTP_X_BACKEND_SECRET").GetString());
        Assert.False(seen.TryGetProperty("HTTP_X_ENTITLEMENT_FOO", out _));
        Assert.False(seen.TryGetProperty("HTTP_X_API_KEY", out _));
        Assert.False(seen.TryGetProperty("HTTP_X_CUSTOM", out _));
        Assert.False(seen.TryGetProperty("HTTP_AUTHORIZATION", out _));
    }

    [Fact]
    public async Task UnderscoreHeadersAllowed_OrdinaryOnesPassButProtectedNamesStillDropped()
    {
        // Arrange
        await _gateway.DisposeAsync();
        _gateway = await StartGatewayAsync(allowUnderscores: true);

        // Act
        var seen = await WsgiAsync("X_User_ID: spoofed", "X_Plan_Id: enterprise", "X_Entitlement_Foo: on", "X_API_Key: ak_stolen",
            "X_Backend_Secret: forged", "X_Forwarded_For: 10.9.9.9", "X_Custom: 1");

        // Assert
        Assert.Equal("1", seen.GetProperty("HTTP_X_CUSTOM").GetString());
        Assert.Equal(_userId, seen.GetProperty("HTTP_X_USER_ID").GetString());
        Assert.Equal("free", seen.GetProperty("HTTP_X_PLAN_ID").GetString());
        Assert.Equal("s3cret", seen.GetProperty("HTTP_X_BACKEND_SECRET").GetString());
        Assert.Equal("127.0.0.1", seen.GetProperty("HTTP_X_FORWARDED_FOR").GetString());
        Assert.False(seen.TryGetProperty("HTTP_X_ENTITLEMENT_FOO", out _));
        Assert.False(seen.TryGetProperty("HTTP_X_API_KEY", out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EntitlementHeaderNamedWithUnderscores_ClientSendsTheDashedName_CgiBackendSeesOnlyTheGatewaysValue(bool allowUnderscores)
    {
        // Arrange: the backend reads X_Tier and X-Tier as one variable, HTTP_X_TIER
        if (allowUnderscores)
        {
            await _gateway.DisposeAsync();
            _gateway = await StartGatewayAsync(allowUnderscores: true);
        }

        Assert.True((await _gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String, DefaultValue = "basic", HeaderName = "X_Tier" }, CancellationToken.None)).Ok);
        await _gateway.ReloadAsync();

        // Act
        var seen = await WsgiAsync("X-Tier: platinum", "x-TIER: platinum");
        var pub = await RawHttp.GetAsync(_gateway.Url, "/pub/x", "X-Tier: platinum");

        // Assert: the client's copies are dropped on the authenticated route and on the public one
        Assert.Equal("basic", seen.GetProperty("HTTP_X_TIER").GetString());
        Assert.Equal(200, pub.Status);
        Assert.False(Assert.Single(_upstream.Received).Headers.ContainsKey("X-Tier"));
    }

    [Theory]
    [InlineData("x_TIER: platinum", "/pub/x", false)]
    [InlineData("X_beta: true", "/pub/x", false)]
    [InlineData("x-BETA: true", "/pub/x", false)]
    [InlineData("x_tier: platinum", "/priv/x", true)]
    public async Task CustomEntitlementHeaderInOtherCaseOrWithUnderscores_UnderscoresAllowed_ClientCopyNeverForwarded(string sent, string path, bool withKey)
    {
        // Arrange: X-Tier is enabled, X-Beta disabled; both names are the gateway's on every route.
        _gateway = await RestartWithUnderscoresAsync();
        Assert.True((await _gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String, DefaultValue = "basic", HeaderName = "X-Tier" }, CancellationToken.None)).Ok);
        Assert.True((await _gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "beta", ValueType = EntitlementValueType.Boolean, DefaultValue = "false", HeaderName = "X-Beta", Enabled = false }, CancellationToken.None)).Ok);
        await _gateway.ReloadAsync();

        // Act
        var response = withKey
            ? await RawHttp.GetAsync(_gateway.Url, path, sent, "X-API-Key: " + _key)
            : await RawHttp.GetAsync(_gateway.Url, path, sent);

        // Assert: no spelling of the client's header reaches the backend; an authenticated route carries the plan's value.
        Assert.Equal(200, response.Status);
        var received = Assert.Single(_upstream.Received).Headers;
        var sentName = sent[..sent.IndexOf(':', StringComparison.Ordinal)];
        Assert.False(received.ContainsKey(sentName), $"{sentName} was forwarded");
        Assert.False(received.ContainsKey("X-Beta"));
        if (withKey)
        {
            Assert.Equal(["basic"], received["X-Tier"]);
        }
        else
        {
            Assert.False(received.ContainsKey("X-Tier"));
        }
    }

    private async Task<TestGateway> RestartWithUnderscoresAsync()
    {
        await _gateway.DisposeAsync();
        return await StartGatewayAsync(allowUnderscores: true);
    }

    [Theory]
    [InlineData(false, "X-Backend-Secret: forged")]
    [InlineData(true, "X-Backend-Secret: forged")]
    public async Task UpstreamCredentialHeaderNamedWithUnderscores_ClientSendsItSpeltOtherwise_CgiBackendSeesOnlyTheCredential(bool allowUnderscores, string sent)
    {
        // Arrange: the backend reads X_Backend_Secret and X-Backend-Secret as one variable, HTTP_X_BACKEND_SECRET
        if (allowUnderscores)
        {
            await _gateway.DisposeAsync();
            _gateway = await StartGatewayAsync(allowUnderscores: true);
        }

        await _gateway.AddUpstreamAsync("wsgi-underscore", _wsgi.Url, new UpstreamInput { AuthType = "header", AuthHeader = "X_Backend_Secret", AuthValue = "s3cret" });
        await _gateway.AddRouteAsync(new RouteInput { Name = "wsgi-underscore", Path = "/wsgi-underscore/*", Upstream = "wsgi-underscore" });

        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/wsgi-underscore/x", sent);

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal("s3cret", JsonDocument.Parse(response.Body).RootElement.GetProperty("HTTP_X_BACKEND_SECRET").GetString());
    }

    [Fact]
    public async Task HeaderNamesWithOtherPunctuation_DroppedByDefault()
    {
        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/pub/x", "X.User.ID: spoofed", "X~Plan~ID: gold", "X.Custom: 1", "X-Plain: 2");

        // Assert
        Assert.Equal(200, response.Status);
        var headers = Assert.Single(_upstream.Received).Headers;
        Assert.False(headers.ContainsKey("X.User.ID"));
        Assert.False(headers.ContainsKey("X~Plan~ID"));
        Assert.False(headers.ContainsKey("X.Custom"));
        Assert.Equal("2", headers["X-Plain"][0]);
    }

    [Fact]
    public async Task HeaderNamesWithOtherPunctuation_Allowed_OnlyProtectedLookalikesDropped()
    {
        // Arrange
        await _gateway.DisposeAsync();
        _gateway = await StartGatewayAsync(allowUnderscores: true);

        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/pub/x", "X.User.ID: spoofed", "X.Custom: 1");

        // Assert
        Assert.Equal(200, response.Status);
        var headers = Assert.Single(_upstream.Received).Headers;
        Assert.False(headers.ContainsKey("X.User.ID"));
        Assert.Equal("1", headers["X.Custom"][0]);
    }

    [Fact]
    public async Task MethodOverrideHeaders_OnMethodRestrictedRoute_AreRemoved()
    {
        // Arrange
        await _gateway.AddRouteAsync(new RouteInput { Name = "getonly", Path = "/getonly/*", Upstream = "echo", Methods = "GET" });

        // Act
        var restricted = await RawHttp.GetAsync(_gateway.Url, "/getonly/x", "X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: DELETE");
        var open = await RawHttp.GetAsync(_gateway.Url, "/pub/x", "X-HTTP-Method-Override: DELETE");

        // Assert
        Assert.Equal(200, restricted.Status);
        Assert.Equal(200, open.Status);
        var received = _upstream.Received.ToArray();
        Assert.Equal(2, received.Length);
        Assert.DoesNotContain(received[0].Headers.Keys, k => k.Contains("Method", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("DELETE", received[1].Headers["X-HTTP-Method-Override"][0]);
    }

    [Theory]
    [InlineData("Authorization: Bearer {key}", "")]
    [InlineData("X-API-Key: {key}", "")]
    [InlineData("", "?api_key={key}&q=1")]
    [InlineData("", "?API_KEY={key}&q=1")]
    [InlineData("", "?api%5Fkey={key}&q=1")]
    [InlineData("Authorization: {key}", "")] // no scheme
    [InlineData("Authorization: Token {key}", "")] // another scheme
    [InlineData("Authorization: Bearer {KEY}", "")] // the key in capitals
    [InlineData("Authorization: ApiKey  {KEY}", "")]
    public async Task KeyOnPublicRoute_IsNotForwarded(string header, string query)
    {
        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/pub/x" + query.Replace("{key}", _key, StringComparison.Ordinal),
            header.Length == 0 ? [] : [header.Replace("{key}", _key, StringComparison.Ordinal).Replace("{KEY}", _key.ToUpperInvariant(), StringComparison.Ordinal)]);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(_upstream.Received);
        Assert.DoesNotContain(_key, received.RawTarget, StringComparison.Ordinal);
        Assert.DoesNotContain(received.Headers, h => h.Value.Any(v => v.Contains(_key, StringComparison.Ordinal)));
        Assert.False(received.Headers.ContainsKey("Authorization"));
        if (query.Length > 0)
        {
            Assert.Equal("?q=1", received.Query);
        }
    }

    [Theory]
    [InlineData("Bearer backend-token-123")]
    [InlineData("Token ak_backend-token")] // the key prefix under another scheme, but not a key
    [InlineData("Basic YWtfOnBhc3M=")]
    public async Task OtherTokenOnPublicRoute_IsForwarded(string authorization)
    {
        // Act: a backend's own token is not an API key and is none of the gateway's business.
        var response = await RawHttp.GetAsync(_gateway.Url, "/pub/x", "Authorization: " + authorization);

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal(authorization, Assert.Single(_upstream.Received).Headers["Authorization"][0]);
    }

    [Theory]
    [InlineData("Authorization: Bearer {key}", "X-API-Key: {other}", "")]
    [InlineData("X-API-Key: {key}", "X-API-Key: {other}", "")]
    [InlineData("X-API-Key: {key}", "", "?api_key={other}")]
    [InlineData("Authorization: Bearer {key}", "Authorization: Bearer {other}", "")]
    public async Task TwoDifferentKeys_Returns400AmbiguousCredentials(string first, string second, string query)
    {
        // Arrange
        var other = (await _gateway.CreateKeyAsync("second@example.com")).Key;
        string Fill(string text) => text.Replace("{key}", _key, StringComparison.Ordinal).Replace("{other}", other, StringComparison.Ordinal);
        string[] headers = second.Length == 0 ? [Fill(first)] : [Fill(first), Fill(second)];

        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/priv/x" + Fill(query), headers);

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("ambiguous_credentials", response.ErrorCode);
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task SameKeyInTwoPlaces_IsAccepted()
    {
        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/priv/x?api_key=" + _key, "Authorization: Bearer " + _key, "X-API-Key: " + _key);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(_upstream.Received);
        Assert.Equal(_userId, received.Headers["X-User-ID"][0]);
        Assert.DoesNotContain(_key, received.RawTarget, StringComparison.Ordinal);
        Assert.False(received.Headers.ContainsKey("X-API-Key"));
        Assert.False(received.Headers.ContainsKey("Authorization"));
    }

    [Theory]
    [InlineData("Authorization: Bearer {key}", "")]
    [InlineData("X-API-Key: {key}", "")]
    [InlineData("", "?api_key={key}")]
    public async Task Expressions_DoNotSeeTheKey(string header, string query)
    {
        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/seen/x" + query.Replace("{key}", _key, StringComparison.Ordinal),
            header.Length == 0 ? [] : [header.Replace("{key}", _key, StringComparison.Ordinal)]);

        // Assert: the rewrite read headers and query; every credential slot was empty to it.
        Assert.Equal(200, response.Status);
        Assert.Equal("/seen/none/none/none", Assert.Single(_upstream.Received).Path);
    }

    [Theory]
    [InlineData("TRACE")]
    [InlineData("TRACK")]
    public async Task TraceAndTrack_Return405AndAreNotForwarded(string method)
    {
        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, Encoding.ASCII.GetBytes($"{method} /pub/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"));

        // Assert
        Assert.Equal(405, response.Status);
        Assert.Equal("method_not_allowed", response.ErrorCode);
        Assert.Contains("GET", response.Headers["Allow"], StringComparison.Ordinal);
        Assert.Empty(_upstream.Received);
    }

    [Theory]
    [InlineData("GET /pub/x HTTP/1.1\r\nHost: gw\nX-Injected: 1\r\nConnection: close\r\n\r\n")]
    [InlineData("GET /pub/x HTTP/1.1\nHost: gw\nConnection: close\n\n")]
    public async Task BareLineFeedTerminator_Returns400(string request)
    {
        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, Encoding.ASCII.GetBytes(request));

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task ContentLengthAndChunkedTogether_SmuggledRequestIsAuthenticatedOnItsOwn()
    {
        // Arrange: a public request whose body, read by Content-Length, would hide a second, key-less request.
        var smuggled = "GET /priv/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
        var request = "POST /pub/x HTTP/1.1\r\nHost: gw\r\nContent-Length: " + (5 + smuggled.Length) + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled;

        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, Encoding.ASCII.GetBytes(request), holdOpen: TimeSpan.FromMilliseconds(300));

        // Assert: whatever the server made of it, no key-less request reached the protected path.
        Assert.True(response.Status is 200 or 400, $"status {response.Status}");
        Assert.DoesNotContain(_upstream.Received, r => r.Path.StartsWith("/priv", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DuplicatedHost_Returns400()
    {
        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, Encoding.ASCII.GetBytes("GET /pub/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"));

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task CrlfRequest_StillServed()
    {
        // Act: the control for the bare-LF cases above.
        var response = await RawHttp.GetAsync(_gateway.Url, "/pub/x");

        // Assert
        Assert.Equal((int)HttpStatusCode.OK, response.Status);
        Assert.Single(_upstream.Received);
    }
}
