using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Proxying;

public sealed class RoutingTests : IAsyncLifetime
{
    private TestUpstream _a = null!;
    private TestUpstream _b = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _a = await TestUpstream.StartAsync();
        _b = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync();
        await _gateway.AddUpstreamAsync("a", _a.Url);
        await _gateway.AddUpstreamAsync("b", _b.Url);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task ReservedPaths_AreServedByGatewayUnderCatchAll()
    {
        await _gateway.AddRouteAsync(new RouteInput { Name = "catch-all", Path = "/*", Upstream = "a" });

        var health = await _gateway.Client.GetAsync(_gateway.Url + "/health");
        var ready = await _gateway.Client.GetAsync(_gateway.Url + "/health/ready");
        var version = await _gateway.Client.GetAsync(_gateway.Url + "/version");
        var proxied = await _gateway.Client.GetAsync(_gateway.Url + "/healthz");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, version.StatusCode);
        Assert.True(JsonDocument.Parse(await version.Content.ReadAsStringAsync()).RootElement.TryGetProperty("version", out _));
        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        Assert.Equal("/healthz", _a.Received.Single().Path); // only /healthz reached the upstream
    }

    [Fact]
    public async Task Hosts_ExactWildcardAndAny_RouteToTheRightUpstream()
    {
        await _gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "api.example.com", Path = "/*", Upstream = "a" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "wild", HostPattern = "*.example.com", Path = "/*", Upstream = "b" });

        Assert.Equal(HttpStatusCode.OK, (await GetWithHostAsync("API.Example.com:8443", "/x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetWithHostAsync("shop.example.com.", "/y")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await GetWithHostAsync("a.b.example.com", "/z")).StatusCode);

        Assert.Equal("/x", _a.Received.Single().Path);
        Assert.Equal("/y", _b.Received.Single().Path);
    }

    [Fact]
    public async Task Hosts_PunycodeHost_MatchesTheRouteWrittenInPunycodeAndIsForwardedAsSent()
    {
        // A host pattern can only be written in ASCII, so an internationalised name is written as punycode; routing saw the
        // Host converted to Unicode (bücher.example), which no route could name, and forwarded that form upstream.
        await _gateway.AddRouteAsync(new RouteInput { Name = "idn", HostPattern = "xn--bcher-kva.example", Path = "/*", Upstream = "a", PathRewrite = "/h/${host}/$1" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "idn-wild", HostPattern = "*.xn--bcher-kva.example", Path = "/*", Upstream = "b" });

        var exact = await GetWithHostAsync("xn--bcher-kva.example:8443", "/x");
        var wild = await GetWithHostAsync("xn--caf-dma.xn--bcher-kva.example", "/y");

        Assert.Equal(HttpStatusCode.OK, exact.StatusCode);
        Assert.Equal(HttpStatusCode.OK, wild.StatusCode);
        var atA = _a.Received.Single();
        Assert.Equal("/h/xn--bcher-kva.example/x", atA.Path);
        Assert.Equal(["xn--bcher-kva.example:8443"], atA.Headers["X-Forwarded-Host"]);
        Assert.Equal(["xn--caf-dma.xn--bcher-kva.example"], _b.Received.Single().Headers["X-Forwarded-Host"]);
    }

    [Theory]
    [InlineData("xn--zz.example")]
    [InlineData("xn--bcher-.example")]
    [InlineData("a.xn--.example:8080")]
    public async Task Hosts_MalformedPunycodeHost_IsRoutedNotAnInternalError(string host)
    {
        // Converting such a Host to Unicode throws: every request carrying one was answered 500 and logged as a gateway failure.
        await _gateway.AddRouteAsync(new RouteInput { Name = "any", Path = "/any/*", Upstream = "a" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "api.example.com", Path = "/only/*", Upstream = "b" });

        var routed = await GetWithHostAsync(host, "/any/x");
        var unrouted = await GetWithHostAsync(host, "/only/x");

        Assert.Equal(HttpStatusCode.OK, routed.StatusCode);
        Assert.Equal([host], _a.Received.Single().Headers["X-Forwarded-Host"]);
        Assert.Equal(HttpStatusCode.NotFound, unrouted.StatusCode);
        Assert.Contains("route_not_found", await unrouted.Content.ReadAsStringAsync());
        Assert.Empty(_b.Received);
    }

    [Fact]
    public async Task Precedence_PriorityThenSpecificity_PicksTheRightRoute()
    {
        await _gateway.AddRouteAsync(new RouteInput { Name = "broad", Path = "/api/*", Upstream = "a" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "narrow", Path = "/api/v1/orders", MatchType = "exact", Upstream = "b" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "urgent", Path = "^/api/v1/urgent.*$", MatchType = "regex", Priority = 10, Upstream = "b" });

        await _gateway.Client.GetAsync(_gateway.Url + "/api/v1/orders");
        await _gateway.Client.GetAsync(_gateway.Url + "/api/v1/orders/7");
        await _gateway.Client.GetAsync(_gateway.Url + "/api/v1/urgent-thing");

        Assert.Equal(["/api/v1/orders/7"], _a.Received.Select(r => r.Path));
        Assert.Equal(["/api/v1/orders", "/api/v1/urgent-thing"], _b.Received.Select(r => r.Path));
    }

    [Fact]
    public async Task MethodsAndHeaders_MustAllMatch()
    {
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "beta-writes", Path = "/items/*", Methods = "POST,PUT", Headers = ["X-Channel=beta"], Upstream = "b", Priority = 1,
        }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "a" });

        using var beta = new HttpRequestMessage(HttpMethod.Post, _gateway.Url + "/items/1") { Content = new StringContent("x") };
        beta.Headers.Add("X-Channel", "beta");
        await _gateway.Client.SendAsync(beta);
        await _gateway.Client.PostAsync(_gateway.Url + "/items/2", new StringContent("x"));
        using var get = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/items/3");
        get.Headers.Add("X-Channel", "beta");
        await _gateway.Client.SendAsync(get);

        Assert.Equal(["/items/1"], _b.Received.Select(r => r.Path));
        Assert.Equal(["/items/2", "/items/3"], _a.Received.Select(r => r.Path));
    }

    [Fact]
    public async Task Rewrite_TemplateAndExpression_ReachUpstream()
    {
        await _gateway.AddRouteAsync(new RouteInput { Name = "tpl", Path = "/api/v1/*", Upstream = "a", PathRewrite = "/internal/$1" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "expr", Path = "/v2/users/{id}", MatchType = "exact", Upstream = "b", PathRewrite = "'/users/' + pathParams.id + '/' + method.toLowerCase()",
        });

        await _gateway.Client.GetAsync(_gateway.Url + "/api/v1/orders/123?x=1");
        await _gateway.Client.DeleteAsync(_gateway.Url + "/v2/users/42");

        var rewritten = _a.Received.Single();
        Assert.Equal("/internal/orders/123", rewritten.Path);
        Assert.Equal("?x=1", rewritten.Query);
        Assert.Equal("/users/42/delete", _b.Received.Single().Path);
    }

    [Fact]
    public async Task Rewrite_EscapingWithDotDot_Returns500TransformErrorAndForwardsNothing()
    {
        // Built so the write-time check (no literal '..' segment) lets it through: the rewrite's output is checked again per request.
        await _gateway.AddRouteAsync(new RouteInput { Name = "escape", Path = "/files/{name}", Upstream = "a", PathRewrite = "'/data/' + '..' + '/' + '..' + '/' + pathParams.name" });

        var response = await _gateway.Client.GetAsync(_gateway.Url + "/files/secret");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("transform_error", await response.Content.ReadAsStringAsync());
        Assert.Empty(_a.Received);
    }

    [Fact]
    public async Task RouteCreate_TemplateWithLiteralQuestionMark_RefusedAndNothingWritten()
    {
        var created = await _gateway.CliAsync("routes", "create", "--name", "query-in-template", "--path", "/q/*", "--upstream", "a",
            "--rewrite", "/internal/$1?v=2");
        var listed = await _gateway.CliAsync("--json", "routes", "list");

        Assert.Equal(2, created.ExitCode);
        Assert.Contains("error: --rewrite: the template has a '?'", created.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("query-in-template", listed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rewrite_StoredTemplateWithLiteralQuestionMark_Returns500TransformErrorNot400()
    {
        // Written straight into the store, as one saved before the write-time rule would be.
        var upstream = (await _gateway.Store.FindUpstreamAsync("a", CancellationToken.None))!;
        await _gateway.Store.CreateRouteAsync(new Core.Routing.RouteDefinition
        {
            Id = "rt_query_tpl", Name = "query-tpl", Slug = "query-tpl", PathPattern = "/q/*", UpstreamId = upstream.Id,
            PathRewrite = "/internal/$1?v=2", AuthRequired = false, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);
        await _gateway.ReloadAsync();

        var response = await _gateway.Client.GetAsync(_gateway.Url + "/q/orders?x=1");
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("transform_error", error.GetProperty("code").GetString());
        Assert.Empty(_a.Received);
    }

    [Theory]
    [InlineData("/internal/${nope}/$1", "nope")]
    [InlineData("/internal/${user}/$1", "user")]
    [InlineData("/internal/${query.}/$1", "query.")]
    public async Task RouteCreate_TemplateWithAnUnknownVariable_Exit2NamingTheRewriteFlag_NothingWritten(string template, string variable)
    {
        // Act: such a variable would be empty on every request, sending them all to one path
        var created = await _gateway.CliAsync("routes", "create", "--name", "unknown-var", "--path", "/q/*", "--upstream", "a", "--rewrite", template);

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.Contains($"error: --rewrite: the template uses ${{{variable}}}, which is no variable: a path rewrite has ${{uuid}}, ", created.Diagnostics, StringComparison.Ordinal);
        Assert.Null(await _gateway.Store.FindRouteAsync("unknown-var", CancellationToken.None));
    }

    [Fact]
    public async Task Rewrite_ExpressionFailingAtRunTime_Returns500TransformErrorNamingTheReason()
    {
        // Arrange: passes the write-time checks (pathParams is in its context), fails on every request that has no {id}
        await _gateway.AddRouteAsync(new RouteInput { Name = "throws", Path = "/throws/*", Upstream = "a", PathRewrite = "'/x/' + pathParams.id.toUpperCase()" });

        // Act
        var response = await _gateway.Client.GetAsync(_gateway.Url + "/throws/orders");

        // Assert
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/vnd.api+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("transform_error", error.GetProperty("code").GetString());
        Assert.Equal("Path rewrite failed: expression failed: Cannot read property 'toUpperCase' of undefined", error.GetProperty("detail").GetString());
        Assert.Empty(_a.Received);
    }

    [Fact]
    public async Task DefaultUpstream_ReceivesUnmatchedRequests()
    {
        var upstream = await TestUpstream.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.UpstreamUrl = upstream.Url + "/base");

        var (key, _, _) = await gateway.CreateKeyAsync("default-upstream@example.com");
        var anonymous = await gateway.Client.GetAsync(gateway.Url + "/anything/at/all?q=1");
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/anything/at/all?q=1");
        request.Headers.Add("X-API-Key", key);
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode); // the default upstream is authenticated (SPEC §6.1)
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/base/anything/at/all", upstream.Received.Single().Path);
        await upstream.DisposeAsync();
    }

    [Theory]
    [InlineData("a.test:80", 200)]
    [InlineData("A.Test.:8443", 200)]
    [InlineData("a.test:", 400)] // an empty port: Kestrel refuses it before the gateway sees the request
    [InlineData("[::1]:", 400)]
    [InlineData("a.test:x", 400)]
    public async Task Hosts_PortInTheHostHeader_MatchedWithoutItOrRefusedByKestrelWithAnEmpty400(string host, int expected)
    {
        await _gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "a.test", Path = "/*", Upstream = "a" });

        var response = await RawHttp.SendAsync(_gateway.Url, System.Text.Encoding.ASCII.GetBytes($"GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));

        Assert.Equal(expected, response.Status);
        Assert.Equal(expected == 200 ? 1 : 0, _a.Received.Count);
        if (expected == 400)
        {
            Assert.Equal("", response.Body);
            Assert.Equal("0", response.Headers["Content-Length"]);
        }
    }

    [Theory]
    [InlineData("a.test:65536")]
    [InlineData("a.test:99999")]
    [InlineData("A.Test.:99999")]
    [InlineData("a.test:99999999999999999999")]
    [InlineData("[::1]:70000")]
    [InlineData("[::1]:99999")]
    [InlineData("a.test:065536")]
    public async Task Hosts_PortPast65535_Refused400BeforeRouting(string host)
    {
        // Arrange: before, Kestrel took the value and the request was routed to the route for a.test
        await _gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "a.test", Path = "/*", Upstream = "a" });

        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, System.Text.Encoding.ASCII.GetBytes($"GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_header", response.ErrorCode);
        Assert.Contains("The request header Host was refused: its port is past 65535", response.Body, StringComparison.Ordinal);
        Assert.Empty(_a.Received);
    }

    [Theory]
    [InlineData("GET http://a.test:99999/x HTTP/1.1\r\nHost: a.test:99999\r\nConnection: close\r\n\r\n")]
    [InlineData("GET http://a.test:99999/x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a.test\r\nHost: a.test:99999\r\nConnection: close\r\n\r\n")]
    public async Task Hosts_PortPast65535InAbsoluteTargetOrRepeatedHost_Refused400BeforeRouting(string request)
    {
        // Arrange: the server itself refuses these (a target that is no URI, a Host that is not the target's, two Hosts)
        await _gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "a.test", Path = "/*", Upstream = "a" });

        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Empty(_a.Received);
    }

    [Theory]
    [InlineData("a.test:65535")]
    [InlineData("a.test:0")]
    [InlineData("a.test:00080")]
    public async Task Hosts_PortOfDigitsUpTo65535_MatchedWithoutIt(string host)
    {
        // Arrange
        await _gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "a.test", Path = "/*", Upstream = "a" });

        // Act
        var response = await RawHttp.SendAsync(_gateway.Url, System.Text.Encoding.ASCII.GetBytes($"GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Single(_a.Received);
    }

    [Fact]
    public async Task Hosts_Http2AuthorityWithPortPast65535_Refused400BeforeRouting()
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.H2cPort = 0);
        await gateway.AddUpstreamAsync("a", _a.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "exact", HostPattern = "a.test", Path = "/*", Upstream = "a" });
        await using var client = await RawHttp2Connection.ConnectAsync(gateway.Addresses.ElementAt(1));

        // Act
        await client.WriteAsync(RawHttp2Connection.GetHeaders(1, "/x", authority: "a.test:99999"));
        var headers = await client.ReadFrameAsync(RawHttp2Connection.HeadersFrame);

        // Assert: ":status: 400" as the HPACK static table's entry 12, indexed (RFC 7541 appendix A)
        Assert.NotNull(headers);
        Assert.Equal(0x8c, headers.Payload[0]);
        Assert.Empty(_a.Received);
    }

    private Task<HttpResponseMessage> GetWithHostAsync(string host, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + path);
        request.Headers.Host = host;
        return _gateway.Client.SendAsync(request);
    }
}
