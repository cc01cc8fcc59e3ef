using System.Net;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Transforms;

/// <summary>
/// Transforms fed by what a client or an upstream controls: request header values made from the query (CR LF),
/// response header values that a response cannot carry, and JSON bodies that are valid to a lenient reader but not
/// to the transform (a name twice, deep nesting, a byte order mark). None may smuggle a header or a request upstream,
/// pass a masked field through, or be held against the upstream's targets.
/// </summary>
public sealed class HostileTransformInputTests : GatewayTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        options.TransformMaxBodyBytes = 64 * 1024;
        _log.TakeJsonFrom(options);
    }

    private protected override Task SetUpAsync() => Gateway.AddUpstreamAsync("backend", Upstream.Url);

    [Theory]
    [InlineData("a%0d%0aX-User-ID:%20usr_admin")]
    [InlineData("a%0d%0a%0d%0aGET%20/smuggled%20HTTP/1.1%0d%0aHost:%20x%0d%0a")]
    [InlineData("a%00b")]
    public async Task RequestHeaderFromQuery_ControlCharacter_400InvalidHeader_NothingForwarded(string value)
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "caller", Path = "/caller/*", Upstream = "backend", RequestTransform = """{"headers":{"set":{"X-Caller":"${query.name}"}}}""",
        });

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/caller/x?name=" + value);

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_header", response.ErrorCode);
        Assert.Contains("X-Caller", response.Body, StringComparison.Ordinal);
        Assert.Equal(0, Upstream.Served);
    }

    [Fact]
    public async Task RequestHeaderFromQuery_NonAscii_ForwardedAsUtf8()
    {
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "caller", Path = "/caller/*", Upstream = "backend", RequestTransform = """{"headers":{"set":{"X-Caller":"${query.name}"}}}""",
        });

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/caller/x?name=Ren%C3%A9");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["René"], Upstream.Received.Last().Headers["X-Caller"]);
    }

    [Theory]
    [InlineData("Ren%C3%A9")]
    [InlineData("a%0d%0aSet-Cookie:%20x=1")]
    public async Task ResponseHeaderFromQuery_ValueAResponseCannotCarry_HeaderLeftUnset_TargetsStayIn(string value)
    {
        // Arrange: a target with passive checks that eject it after 2 failures
        var created = await Gateway.Upstreams.CreateAsync(new UpstreamInput
        {
            Name = "pair",
            Targets = [new TargetInput { Url = Upstream.Url }],
            HealthCheck = new HealthCheckInput { PassiveFailures = 2 },
        }.Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "greet", Path = "/greet/*", Upstream = "pair", ResponseTransform = """{"headers":{"set":{"X-Greeting":"Hello ${query.name}","X-Kept":"yes"}}}""",
        });

        // Act: more requests than it takes to eject both targets
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 6; i++)
        {
            last?.Dispose();
            last = await Gateway.Client.GetAsync(Gateway.Url + "/greet/json?name=" + value);
            statuses.Add(last.StatusCode);
        }

        // Assert: answered, without the header that could not be sent, with the others
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.False(last!.Headers.Contains("X-Greeting"));
        Assert.False(last.Headers.Contains("Set-Cookie"));
        Assert.Equal(["yes"], last.Headers.GetValues("X-Kept"));
        last.Dispose();
    }

    [Theory]
    [InlineData("""{"email":"alice@example.com","email":"bob@example.com"}""")]
    [InlineData("""{"email":"alice@example.com",""")]
    public async Task ResponseBodyNotReadable_OnRouteThatMasks_Withheld_TargetNotBlamed(string body)
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync(JsonResponse(body), thenClose: true);
        await Gateway.AddUpstreamAsync("scripted", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "masked", Path = "/masked/*", Upstream = "scripted", ResponseTransform = """{"body":{"mask":["email"]}}""" });

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/masked/user");

        // Assert
        Assert.Equal(502, response.Status);
        Assert.Equal("response_withheld", response.ErrorCode);
        Assert.DoesNotContain("example.com", response.Body, StringComparison.Ordinal);
        var target = Assert.Single(Gateway.Service<ApiGate.Gateway.Balancing.TargetRegistry>().Statuses(), s => s.Url == backend.Url);
        Assert.Equal((1L, 0L), (target.RequestsTotal, target.FailuresTotal));
    }

    [Fact]
    public async Task ResponseBodyWithANameTwice_OnRouteThatOnlyRenames_PassedThroughUntouched()
    {
        const string Body = """{"email":"alice@example.com","email":"bob@example.com"}""";
        await using var backend = await ScriptedBackend.StartAsync(JsonResponse(Body), thenClose: true);
        await Gateway.AddUpstreamAsync("scripted", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "renamed", Path = "/renamed/*", Upstream = "scripted", ResponseTransform = """{"body":{"rename":{"email":"mail"}}}""" });

        var response = await RawHttp.GetAsync(Gateway.Url, "/renamed/user");

        Assert.Equal(200, response.Status);
        Assert.Equal(Body, response.Body);
    }

    [Theory]
    [InlineData(70, true)]
    [InlineData(300, false)]
    public async Task ResponseBodyNestedDeep_OnRouteThatMasks_MaskedOrWithheld_NeverPassedOn(int depth, bool readable)
    {
        // Arrange: the field to mask next to a deeply nested one
        var nested = string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
        await using var backend = await ScriptedBackend.StartAsync(JsonResponse("{\"email\":\"alice@example.com\",\"nest\":" + nested + "}"), thenClose: true);
        await Gateway.AddUpstreamAsync("scripted", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "masked", Path = "/masked/*", Upstream = "scripted", ResponseTransform = """{"body":{"mask":["email"]}}""" });

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/masked/user");

        // Assert
        Assert.DoesNotContain("alice@example.com", response.Body, StringComparison.Ordinal);
        if (readable)
        {
            Assert.Equal(200, response.Status);
            var masked = JsonDocument.Parse(response.Body, new JsonDocumentOptions { MaxDepth = 128 }).RootElement;
            Assert.Equal("a***@e***.com", masked.GetProperty("email").GetString());
        }
        else
        {
            Assert.Equal(502, response.Status);
            Assert.Equal("response_withheld", response.ErrorCode);
        }
    }

    [Fact]
    public async Task ResponseBodyWithByteOrderMark_OnRouteThatMasks_Masked()
    {
        await using var backend = await ScriptedBackend.StartAsync(JsonResponse("\uFEFF{\"email\":\"alice@example.com\"}"), thenClose: true);
        await Gateway.AddUpstreamAsync("scripted", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "masked", Path = "/masked/*", Upstream = "scripted", ResponseTransform = """{"body":{"mask":["email"]}}""" });

        var response = await RawHttp.GetAsync(Gateway.Url, "/masked/user");

        Assert.Equal(200, response.Status);
        Assert.Equal("a***@e***.com", JsonDocument.Parse(response.Body).RootElement.GetProperty("email").GetString());
    }

    [Fact]
    public async Task RequestBodyWithANameTwice_OnRouteThatEditsIt_400BadRequest_NothingForwarded()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"remove":["a"]}}}""" });

        using var response = await Gateway.Client.PostAsync(Gateway.Url + "/edited/echo-body", new StringContent("""{"a":1,"a":2}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("bad_request", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("X-Request-ID"));
        Assert.Equal(0, Upstream.Served);
    }

    [Fact]
    public async Task QuerySetAndRemove_ClientSpellsTheNamesInOtherCase_BackendSeesOnlyTheRoutesValues()
    {
        // Arrange: a route that pins the tenant to the caller and drops a debug switch.
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "pinned", Path = "/pinned/*", Upstream = "backend",
            RequestTransform = """{"query":{"set":{"tenant":"${header.X-Tenant}"},"remove":["debug"]}}""",
        });

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/pinned/echo-body?Tenant=victim&DEBUG=1&Debug=2&keep=1", "X-Tenant: mine");

        // Assert: an ASP.NET Core backend reads names ignoring case: it would have seen tenant=victim,mine and debug=1,2.
        Assert.Equal(200, response.Status);
        Assert.Equal("?keep=1&tenant=mine", JsonDocument.Parse(response.Body).RootElement.GetProperty("query").GetString());
    }

    [Fact]
    public async Task QueryOperation_ClientParametersDifferingInCase_ReachTheBackendAsSentAndInOrder()
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput { Name = "tagged", Path = "/tagged/*", Upstream = "backend", RequestTransform = """{"query":{"add":{"via":"gw"}}}""" });

        // Act: to a backend whose names are case-sensitive, id and ID are two parameters.
        var response = await RawHttp.GetAsync(Gateway.Url, "/tagged/echo-body?id=1&ID=2&b=a%20b&id=4");

        // Assert: not merged into id=1&id=2&id=4, nor reordered.
        Assert.Equal(200, response.Status);
        Assert.Equal("?id=1&ID=2&b=a%20b&id=4&via=gw", JsonDocument.Parse(response.Body).RootElement.GetProperty("query").GetString());
    }

    [Fact]
    public async Task QueryOperation_ParametersItDoesNotName_ReachTheBackendByteForByte()
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput { Name = "tagged", Path = "/tagged/*", Upstream = "backend", RequestTransform = """{"query":{"add":{"via":"gw"},"remove":["debug"]}}""" });

        // Act: a name without '=', '+' for a space, bytes that are not UTF-8 (a signature, a Latin-1 form), an empty value.
        var response = await RawHttp.GetAsync(Gateway.Url, "/tagged/x?flag&q=a+b&sig=%FF%FE&debug=1&name=Ren%E9&empty=&t=%7e");

        // Assert: only the route's own change; not 'flag=', 'a%20b', '%EF%BF%BD' (U+FFFD) or '~'.
        Assert.Equal(200, response.Status);
        Assert.Equal("?flag&q=a+b&sig=%FF%FE&name=Ren%E9&empty=&t=%7e&via=gw", Upstream.Received.Last().Query);
    }

    [Fact]
    public async Task PathMatchesGlob_PathBuiltToBacktrack_ConditionDoesNotHoldAndTheRequestIsForwarded()
    {
        // Arrange: a glob with several '*' tried by backtracking takes time polynomial in the path's length.
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "globbed", Path = "/globbed/*", Upstream = "backend",
            RequestTransform = """{"conditions":[{"when":{"path_matches":"/globbed/*a*a*a*a*z"},"headers":{"set":{"X-Hit":"1"}}}]}""",
        });

        // Act: a path of 4,000 'a' that never ends in 'z', and one the glob matches.
        var hostile = await RawHttp.GetAsync(Gateway.Url, "/globbed/" + new string('a', 4000));
        var matching = await RawHttp.GetAsync(Gateway.Url, "/globbed/a-a-a-a-z");

        // Assert: the condition is tested (it does not hold), not given up on with a 500.
        Assert.Equal((200, 200), (hostile.Status, matching.Status));
        Assert.False(Upstream.Received.Single(r => r.Path.EndsWith("aaaa", StringComparison.Ordinal)).Headers.ContainsKey("X-Hit"));
        Assert.Equal(["1"], Upstream.Received.Single(r => r.Path.EndsWith("-z", StringComparison.Ordinal)).Headers["X-Hit"]);
    }

    [Theory]
    [InlineData(153)]
    [InlineData(100_000)] // larger than the transform body limit (64 KiB here)
    public async Task Head_OnRouteThatMasks_200WithoutAContentLength(int length)
    {
        // Arrange: an upstream that answers HEAD as it would answer GET, with the body's length and no body.
        await using var backend = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n", thenClose: true);
        await Gateway.AddUpstreamAsync("scripted", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "masked", Path = "/masked/*", Upstream = "scripted", ResponseTransform = """{"body":{"mask":["email"]}}""" });

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes("HEAD /masked/user HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"));

        // Assert: no body to mask, so nothing withheld (a large one was: 502), and no length the edited body would not
        // have (a small one was answered Content-Length: 0).
        Assert.Equal(200, response.Status);
        Assert.False(response.Headers.ContainsKey("Content-Length"));
    }

    [Theory]
    [InlineData(new byte[] { 0xE9 })] // 'é' in Latin-1
    [InlineData(new byte[] { 0xC0, 0xAE })] // an overlong '.'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // a UTF-16 surrogate
    public async Task RequestBodyNotUtf8_OnRouteThatEditsIt_400BadRequestNamingIt_NothingForwarded(byte[] invalid)
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"inject":{"x":"1"}}}}""" });
        using var content = new ByteArrayContent([.. "{\"name\":\"Ren"u8, .. invalid, .. "\"}"u8]);
        content.Headers.ContentType = new("application/json");

        // Act
        using var response = await Gateway.Client.PostAsync(Gateway.Url + "/edited/echo-body", content);

        // Assert: refused, not forwarded with U+FFFD in place of the client's bytes.
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal("bad_request", error.GetProperty("code").GetString());
        Assert.Equal("The request body is not valid JSON: it is not UTF-8.", error.GetProperty("detail").GetString());
        Assert.Equal(0, Upstream.Served);
    }

    [Fact]
    public async Task RequestBodyCompressed_OnRouteThatEditsIt_415NamingContentEncoding_NothingForwarded()
    {
        // Arrange: a client that compresses its JSON body.
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"inject":{"x":"1"}}}}""" });
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write("{\"name\":\"n\"}"u8);
        }

        using var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new("application/json");
        content.Headers.ContentEncoding.Add("gzip");

        // Act
        using var response = await Gateway.Client.PostAsync(Gateway.Url + "/edited/echo-body", content);

        // Assert: named for what it is, not "not UTF-8".
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Equal("The request body is compressed (it has a Content-Encoding), and this route's body transform edits only an uncompressed JSON body: send it without one.",
            error.GetProperty("detail").GetString());
        Assert.Equal(0, Upstream.Served);
    }

    [Theory]
    [InlineData("""{"body":{"rename":{"_id":"id"}}}""", HttpStatusCode.OK)]
    [InlineData("""{"body":{"mask":["email"]}}""", HttpStatusCode.BadGateway)]
    public async Task ResponseBodyNotUtf8_PassedThroughByteForByteWhenRenamed_WithheldWhenMasked(string transform, HttpStatusCode expected)
    {
        // Arrange: an upstream that writes its JSON in Latin-1.
        byte[] body = [.. "{\"_id\":\"1\",\"email\":\"ren"u8, 0xE9, .. "@example.com\"}"u8];
        await using var backend = await ScriptedBackend.StartAsync(_ => [.. Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body], thenClose: true);
        await Gateway.AddUpstreamAsync("scripted", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "scripted", ResponseTransform = transform });

        // Act
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/edited/user");
        var received = await response.Content.ReadAsByteArrayAsync();

        // Assert: never re-written with U+FFFD in place of the upstream's bytes (and an unmasked address never shown).
        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(body, received);
        }
        else
        {
            Assert.Contains("response_withheld", Encoding.UTF8.GetString(received), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("GET", "", "")]
    [InlineData("POST", "Content-Length: 0\r\n", "")]
    [InlineData("POST", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n")]
    public async Task RequestWithoutBodyBytes_JsonContentType_OnRouteThatEditsTheBody_ForwardedWithoutABody(string method, string framing, string body)
    {
        // Arrange: many clients send Content-Type: application/json on every request, bodies or not.
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"inject":{"x":"1"}}}}""" });

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes(
            $"{method} /edited/echo-body HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Type: application/json\r\n{framing}\r\n{body}"));

        // Assert: nothing to edit, so the request reaches the backend as it came (it used to be sent with a Content-Length
        // and no bytes: 502 upstream_error, held against the target).
        Assert.Equal(200, response.Status);
        var received = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal(method, received.GetProperty("method").GetString());
        Assert.Equal("", received.GetProperty("body").GetString());
        Assert.Equal(1, Upstream.Served);
    }

    [Fact]
    public async Task RequestBodyWithBrokenChunking_OnRouteThatEditsIt_400InvalidRequestBody_NothingForwarded()
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"inject":{"x":"1"}}}}""" });

        // Act: a chunk size that is not hexadecimal, in the body the transform reads.
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes(
            "POST /edited/echo-body HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Type: application/json\r\nX-Request-ID: broken-chunks\r\n"
            + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));
        await Gateway.StopAsync();

        // Assert: the client's error as on every route, with the request id; logged as such, not as an unhandled 500.
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_request_body", response.ErrorCode);
        Assert.Equal("broken-chunks", response.Headers["X-Request-ID"]);
        Assert.Equal(0, Upstream.Served);
        var line = Assert.Single(Observability.AccessLogTests.AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == "broken-chunks");
        Assert.Equal(400, line.GetProperty("Status").GetInt32());
        Assert.Equal("invalid_request_body", line.GetProperty("Error").GetString());
        Assert.DoesNotContain("unhandled exception", _log.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task RequestBodyCutOffByTheClient_OnRouteThatEditsIt_Recorded499_NothingForwarded()
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"inject":{"x":"1"}}}}""" });

        // Act: one chunk of the body, then the client resets the connection.
        using (var client = new System.Net.Sockets.TcpClient())
        {
            var uri = new Uri(Gateway.Url);
            await client.ConnectAsync(uri.Host, uri.Port);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
                "POST /edited/echo-body HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nX-Request-ID: cut-off\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n"));
            await Task.Delay(200);
            client.Client.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        }

        // Assert: recorded as a client that went away, nothing forwarded, no unhandled exception.
        Assert.True(await Balancing.BalancingTestBase.EventuallyAsync(
            () => Observability.AccessLogTests.AccessLines(_log.Text).Any(a => a.GetProperty("RequestId").GetString() == "cut-off"), TimeSpan.FromSeconds(20)));
        await Gateway.StopAsync();
        var line = Assert.Single(Observability.AccessLogTests.AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == "cut-off");
        Assert.Equal(499, line.GetProperty("Status").GetInt32());
        Assert.Equal(0, Upstream.Served);
        Assert.DoesNotContain("unhandled exception", _log.Text, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>An HTTP/1.1 200 with a JSON body, its length counted in UTF-8 bytes.</summary>
    private static string JsonResponse(string body) =>
        $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
}
