using System.Net;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Proxying;

public sealed class ForwardingTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("Users API", Upstream.Url + "/v2");
        await Gateway.AddRouteAsync(new RouteInput { Name = "users", Path = "/users/*", Upstream = "users-api" });
    }

    [Fact]
    public async Task Forward_PathAndQuery_KeepsUpstreamBasePathAndQuery()
    {
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/users/42?expand=orders&x=%20y");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("/v2/users/42", echo.GetProperty("path").GetString());
        Assert.Equal("?expand=orders&x=%20y", echo.GetProperty("query").GetString());
    }

    [Fact]
    public async Task Forward_PostBody_ReachesUpstreamWhole()
    {
        var body = new string('x', 100_000);

        var response = await Gateway.Client.PostAsync(Gateway.Url + "/users", new StringContent(body, Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("POST", echo.GetProperty("method").GetString());
        Assert.Equal(100_000, echo.GetProperty("body_length").GetInt64());
    }

    [Fact]
    public async Task Forward_SpoofedIdentityHeaders_AreStrippedOnPublicRoutes()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/1");
        request.Headers.Add("X-User-ID", "admin");
        request.Headers.Add("X-Key-ID", "key_1");
        request.Headers.Add("X-Plan-ID", "enterprise");
        request.Headers.Add("X-Entitlement-Webhooks", "true");
        request.Headers.Add("x-entitlement-max-api-keys", "1000");
        request.Headers.Add("X-Keep-Me", "yes");

        using var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // forwarded, so the upstream's view below is this request's
        var received = Upstream.Received.Last();
        Assert.False(received.Headers.ContainsKey("X-User-ID"));
        Assert.False(received.Headers.ContainsKey("X-Key-ID"));
        Assert.False(received.Headers.ContainsKey("X-Plan-ID"));
        Assert.DoesNotContain(received.Headers.Keys, k => k.StartsWith("X-Entitlement-", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["yes"], received.Headers["X-Keep-Me"]);
    }

    [Fact]
    public async Task Forward_ForwardedHeadersFromAClient_ReplacedByWhatTheGatewayReceived()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/1");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Host = "api.example.com";

        using var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Upstream.Received.Last();
        Assert.Equal("127.0.0.1", string.Join(",", received.Headers["X-Forwarded-For"])); // no trusted proxy: the client's value is not passed on
        Assert.Equal(["http"], received.Headers["X-Forwarded-Proto"]); // not the client's "https": it came over plain HTTP
        Assert.Equal(["api.example.com"], received.Headers["X-Forwarded-Host"]);
        Assert.StartsWith("127.0.0.1:", received.Headers["Host"][0]); // the upstream's own authority
    }

    [Fact]
    public async Task Forward_SaneClientRequestId_IsKeptAndEchoed()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/1");
        request.Headers.Add("X-Request-ID", "trace-abc-123");

        var response = await Gateway.Client.SendAsync(request);

        Assert.Equal("trace-abc-123", response.Headers.GetValues("X-Request-ID").Single());
        Assert.Equal(["trace-abc-123"], Upstream.Received.Last().Headers["X-Request-ID"]);
    }

    [Theory]
    [InlineData(129)]
    [InlineData(0)]
    public async Task Forward_InsaneClientRequestId_IsReplaced(int length)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/1");
        request.Headers.TryAddWithoutValidation("X-Request-ID", length == 0 ? "has space" : new string('a', length));

        var response = await Gateway.Client.SendAsync(request);

        var id = response.Headers.GetValues("X-Request-ID").Single();
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.Equal([id], Upstream.Received.Last().Headers["X-Request-ID"]);
    }

    [Theory]
    [InlineData("X-Forwarded-Proto: https", "X-Forwarded-Proto: https")] // sent twice
    [InlineData("X_Forwarded_Proto: https", "X-Forwarded-Host: evil.example")] // underscore spelling, read as the same by CGI
    [InlineData("X-Forwarded-Proto: h\u00e9ttps", "X-Forwarded-Host: \u00e9vil.example")] // non-ASCII
    public async Task Forward_ClientForwardedProtoAndHostAttacks_OnlyTheGatewaysOwnValuesArrive(string first, string second)
    {
        // Arrange: raw request lines, so nothing in the client library normalises them
        var lines = new[] { first, second }.Select(l => System.Text.RegularExpressions.Regex.Unescape(l)).ToArray();

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/users/1", lines);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last();
        Assert.Equal(["http"], received.Headers["X-Forwarded-Proto"]);
        Assert.Single(received.Headers["X-Forwarded-Host"]);
        Assert.StartsWith("127.0.0.1:", received.Headers["X-Forwarded-Host"][0]);
        Assert.DoesNotContain(received.Headers.Keys, k => k.Contains('_'));
    }

    [Fact]
    public async Task Forward_MultiValuedHeaders_PassIntactBothWays()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/cookies");
        request.Headers.TryAddWithoutValidation("X-Multi", ["one", "two"]);

        var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(["a=1; Path=/", "b=2; Path=/"], response.Headers.GetValues("Set-Cookie"));
        Assert.Equal("one, two", string.Join(", ", Upstream.Received.Last().Headers["X-Multi"]));
    }

    [Fact]
    public async Task Forward_HopByHopHeaders_AreNotForwarded()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/1");
        request.Headers.TryAddWithoutValidation("Connection", "X-Hop");
        request.Headers.TryAddWithoutValidation("X-Hop", "secret-hop");
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        request.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic Zm9vOmJhcg==");

        using var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // forwarded, so the upstream's view below is this request's
        var received = Upstream.Received.Last();
        Assert.False(received.Headers.ContainsKey("X-Hop"));
        Assert.False(received.Headers.ContainsKey("Keep-Alive"));
        Assert.False(received.Headers.ContainsKey("Proxy-Authorization"));
    }

    [Fact]
    public async Task Forward_UpstreamErrorStatus_IsPassedThroughUntouched()
    {
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/users/status?code=418");

        Assert.Equal((HttpStatusCode)418, response.StatusCode);
        Assert.Equal("upstream says 418", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("bearer", "", "tok3n", "Authorization", "Bearer tok3n")]
    [InlineData("basic", "", "user:pass", "Authorization", "Basic dXNlcjpwYXNz")]
    [InlineData("header", "X-Api-Secret", "s3cr3t", "X-Api-Secret", "s3cr3t")]
    public async Task Forward_UpstreamAuth_IsInjected(string type, string header, string value, string expectedHeader, string expectedValue)
    {
        await Gateway.AddUpstreamAsync("Secured", Upstream.Url, new UpstreamInput { AuthType = type, AuthHeader = header, AuthValue = value });
        await Gateway.AddRouteAsync(new RouteInput { Name = "secured", Path = "/secured/*", Upstream = "secured" });
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/secured/x");
        request.Headers.TryAddWithoutValidation(expectedHeader, "client-value");

        using var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([expectedValue], Upstream.Received.Last().Headers[expectedHeader]);
    }

    [Fact]
    public async Task Forward_NoRouteMatches_Returns404JsonApiError()
    {
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/nothing/here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/vnd.api+json", response.Content.Headers.ContentType!.MediaType);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal("404", error.GetProperty("status").GetString());
        Assert.Equal("route_not_found", error.GetProperty("code").GetString());
        Assert.True(response.Headers.Contains("X-Request-ID"));
    }

    [Fact]
    public async Task Forward_UpstreamRefusesConnection_Returns502UpstreamError()
    {
        var closedPort = FreePort();
        await Gateway.AddUpstreamAsync("Dead", $"http://127.0.0.1:{closedPort}");
        await Gateway.AddRouteAsync(new RouteInput { Name = "dead", Path = "/dead/*", Upstream = "dead" });

        var response = await Gateway.Client.GetAsync(Gateway.Url + "/dead/x");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("upstream_error", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_DisabledUpstream_Returns503()
    {
        await Gateway.AddUpstreamAsync("Off", Upstream.Url, new UpstreamInput { Enabled = false });
        await Gateway.AddRouteAsync(new RouteInput { Name = "off", Path = "/off/*", Upstream = "off" });

        var response = await Gateway.Client.GetAsync(Gateway.Url + "/off/x");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("upstream_unavailable", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_MethodOverride_ChangesForwardedMethod()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "override", Path = "/override/*", Upstream = "users-api", MethodOverride = "PUT" });

        await Gateway.Client.PostAsync(Gateway.Url + "/override/x", new StringContent("{}"));

        Assert.Equal("PUT", Upstream.Received.Last().Method);
    }

    internal static int FreePort() => Infrastructure.Ports.Free();

    [Fact]
    public async Task Redirect_ToTheTargetsOwnAddress_IsMadeRelative()
    {
        // Act: the backend redirects to http://127.0.0.1:<its port>/landing?x=1.
        var response = await RawHttp.GetAsync(Gateway.Url, "/users/redirect");

        // Assert: the client is not sent past the gateway, nor told the backend's address.
        Assert.Equal(302, response.Status);
        Assert.Equal("/landing?x=1", response.Headers["Location"]);
    }

    [Theory]
    [InlineData("https://example.com/elsewhere")]
    [InlineData("/already/relative")]
    public async Task Redirect_Elsewhere_IsPassedAsWritten(string location)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/users/redirect?to=" + Uri.EscapeDataString(location));

        // Assert
        Assert.Equal(302, response.Status);
        Assert.Equal(location, response.Headers["Location"]);
    }

    [Theory]
    [InlineData("http://10.0.0.5:8080/a?b=1", "/a?b=1")]
    [InlineData("HTTP://10.0.0.5:8080", "/")]
    [InlineData("http://10.0.0.5:8080?q", "/?q")]
    [InlineData("http://10.0.0.5:8080#top", "/#top")]
    [InlineData("http://10.0.0.5:80801/a", null)]
    [InlineData("http://10.0.0.5:8080.example/a", null)]
    [InlineData("http://10.0.0.5:8080//evil.example/a", "/.//evil.example/a")]
    [InlineData("http://10.0.0.5:8080/\\evil.example/a", "/./\\evil.example/a")]
    [InlineData("https://10.0.0.5:8080/a", null)]
    [InlineData("/a", null)]
    public void ToRelative_OnlyTheTargetsOwnOrigin_AndNeverAnotherHost(string location, string? expected)
    {
        Assert.Equal(expected, ApiGate.Gateway.Forwarding.ForwardingTransformer.ToRelative(location, "http://10.0.0.5:8080"));
    }

    [Theory]
    [InlineData("http://10.0.0.5:80/a?b=1", "http://10.0.0.5", "/a?b=1")] // the default port written out
    [InlineData("HTTP://10.0.0.5:80", "http://10.0.0.5", "/")]
    [InlineData("https://api.internal:443/x#f", "https://api.internal", "/x#f")]
    [InlineData("http://10.0.0.5/a", "http://svc:s3cret@10.0.0.5", "/a")] // a target whose URL carries user info
    [InlineData("http://svc:s3cret@10.0.0.5:80/a", "http://10.0.0.5", "/a")] // a redirect that does
    [InlineData("http://10.0.0.5:80//evil.example/a", "http://10.0.0.5", "/.//evil.example/a")]
    [InlineData("http://10.0.0.5:80\\evil.example/a", "http://10.0.0.5", null)]
    [InlineData("http://10.0.0.5:8080/a", "http://10.0.0.5", null)] // another port
    [InlineData("https://10.0.0.5:80/a", "http://10.0.0.5", null)] // another scheme
    [InlineData("http://10.0.0.6:80/a", "http://10.0.0.5", null)]
    [InlineData("http://10.0.0.5:80/a", "not a url", null)]
    public void ToRelative_TheTargetsOriginInAnotherSpelling_MadeRelativeToo(string location, string origin, string? expected)
    {
        Assert.Equal(expected, ApiGate.Gateway.Forwarding.ForwardingTransformer.ToRelative(location, origin));
    }

    [Fact]
    public async Task GatewayCookies_NeverSentUpstreamNorSetByIt()
    {
        // Arrange: a browser signed in to the console and the portal also calls a proxied route.
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/set-gateway-cookie");
        request.Headers.TryAddWithoutValidation("Cookie", "a=1; apigate_ui_session=operator-session; apigate_af=token; b=2; APIGATE_portal_session=x");
        using var alone = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/alone");
        alone.Headers.TryAddWithoutValidation("Cookie", "apigate_portal_session=customer-session");

        // Act
        using var response = await Gateway.Client.SendAsync(request);
        using var second = await Gateway.Client.SendAsync(alone);

        // Assert: the upstream sees only its own cookies, and cannot set the gateway's.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["a=1; b=2"], Upstream.Received.Single(r => r.Path.EndsWith("/set-gateway-cookie", StringComparison.Ordinal)).Headers["Cookie"]);
        Assert.False(Upstream.Received.Single(r => r.Path.EndsWith("/alone", StringComparison.Ordinal)).Headers.ContainsKey("Cookie"));
        Assert.Equal(["own=1; Path=/"], response.Headers.GetValues("Set-Cookie"));
    }

    [Fact]
    public async Task GatewayCookies_HostPrefixedNames_NeverSentUpstreamNorSetByIt()
    {
        // Arrange: a browser signed in to the portal over TLS (its session cookie is __Host-prefixed, at Path=/, so it is
        // sent with every request to the host) calls a proxied route.
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/users/set-host-gateway-cookie");
        request.Headers.TryAddWithoutValidation("Cookie", "__Host-apigate_portal_session=customer-session; theirs=1");

        // Act
        using var response = await Gateway.Client.SendAsync(request);

        // Assert: the upstream sees only its own cookie, and cannot set the console's session.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["theirs=1"], Upstream.Received.Single(r => r.Path.EndsWith("/set-host-gateway-cookie", StringComparison.Ordinal)).Headers["Cookie"]);
        Assert.Equal(["own=1; Path=/"], response.Headers.GetValues("Set-Cookie"));
    }
}
