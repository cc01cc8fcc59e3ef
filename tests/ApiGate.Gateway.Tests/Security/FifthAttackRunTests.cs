using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// What a fifth attack run found, kept so it cannot come back: a method-override header on a route admitting every
/// method reached the backend with a method that the gateway routes to another, authenticated route; a request
/// named in <c>Connection</c> a content header (<c>Content-Type</c>) or a name that is no header name (<c>a b</c>), and the
/// gateway answered <c>502 upstream_error</c> without sending anything upstream; a <c>text/json</c> body, which ASP.NET
/// Core reads and answers as JSON, passed both request and response transforms untouched; so did a body whose
/// <c>Content-Type</c> named two media types, one of them JSON.
/// </summary>
public sealed class FifthAttackRunTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("echo", Upstream.Url);

        // One prefix split by method: reading is public, deleting needs a key.
        await Gateway.AddRouteAsync(new RouteInput { Name = "api-read", Path = "/api/*", Upstream = "echo", AuthRequired = false }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api-delete", Path = "/api/*", Upstream = "echo", Methods = "DELETE", AuthRequired = true }, reload: false);

        // One prefix split by a header condition: tenant a is public, everyone else needs a key.
        await Gateway.AddRouteAsync(new RouteInput { Name = "tenant-a", Path = "/t/*", Upstream = "echo", Headers = ["X-Tenant=a"], AuthRequired = false }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "tenant-other", Path = "/t/*", Upstream = "echo", AuthRequired = true });
    }

    [Theory]
    [InlineData("X-HTTP-Method-Override: DELETE")]
    [InlineData("x-http-method-override: delete")]
    [InlineData("X-HTTP-Method: DELETE")]
    [InlineData("X-Method-Override:  DELETE ")]
    [InlineData("X-HTTP-Method-Override: PATCH, DELETE")]
    public async Task MethodOverride_NamingAMethodRoutedToAnAuthenticatedRoute_NeverReachesTheBackend(string overrideHeader)
    {
        // Act: a DELETE itself needs a key; a GET on the public route that asks the backend to run a DELETE must not.
        var direct = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(
            $"DELETE /api/x HTTP/1.1\r\nHost: {new Uri(Gateway.Url).Authority}\r\nConnection: close\r\n\r\n"));
        var overridden = await RawHttp.GetAsync(Gateway.Url, "/api/x", overrideHeader);

        // Assert
        Assert.Equal(401, direct.Status);
        Assert.Equal(200, overridden.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal("GET", received.Method);
        Assert.DoesNotContain(received.Headers.Keys, name => name.Contains("Method", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("Content-Type")]
    [InlineData("content-length")]
    [InlineData("Expires, X-Hop")]
    [InlineData("x@y, X-Hop")]
    [InlineData("a b, X-Hop")]
    public async Task ConnectionNamingAContentHeaderOrNoHeaderName_IsForwardedNotAnUpstreamError(string nominated)
    {
        // Arrange: HTTP/1.0, so the server closes after answering; without close or keep-alive in Connection the gateway
        // sees every name it lists.
        var request = $"POST /api/x HTTP/1.0\r\nHost: {new Uri(Gateway.Url).Authority}\r\nConnection: {nominated}\r\n"
            + "Content-Type: application/json\r\nExpires: 0\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\n{}";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));

        // Assert: the request reaches the backend whole; an ordinary header it names is still hop-by-hop.
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Contains("\"body_length\":2", response.Body, StringComparison.Ordinal);
        Assert.Equal(["application/json"], received.Headers["Content-Type"]);
        Assert.Equal(nominated.Contains("X-Hop", StringComparison.Ordinal), !received.Headers.ContainsKey("X-Hop"));
    }

    [Theory]
    [InlineData("text/json")]
    [InlineData("text/json; charset=utf-8")]
    [InlineData("application/json")]
    public async Task ResponseTransform_UpstreamAnswersInAnyJsonMediaType_FieldsStillRemoved(string contentType)
    {
        // Arrange: ASP.NET Core (and Newtonsoft) backends answer text/json to a client that asks for it with Accept.
        const string body = """{"secret":"s3cr3t","ok":1}""";
        await using var backend = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        await Gateway.AddUpstreamAsync("negotiating", backend.Url);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "masked", Path = "/masked/*", Upstream = "negotiating", AuthRequired = false, ResponseTransform = """{"body":{"remove":["secret"]}}""",
        });

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/masked/x", "Accept: text/json");

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Contains("\"ok\":1", response.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", response.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/json")]
    [InlineData("application/json")]
    public async Task RequestTransform_BodyInAnyJsonMediaType_IsEdited(string contentType)
    {
        // Arrange: ASP.NET Core reads a text/json body as JSON, so an injected field must be injected there too.
        await AddInjectingRouteAsync();

        // Act
        var response = await PostToInjectingRouteAsync($"Content-Type: {contentType}", """{"user":"evil"}""");

        // Assert: the echo reports the length it received, that of {"user":"gw"}.
        Assert.Equal(200, response.Status);
        Assert.Contains("\"body_length\":13", response.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Content-Type: text/plain\r\nContent-Type: application/json")]
    [InlineData("Content-Type: application/json\r\nContent-Type: text/plain")]
    [InlineData("Content-Type: text/plain, application/json")]
    public async Task RequestTransform_BodyWithSeveralMediaTypes_Refused400AndNotForwarded(string contentTypeLines)
    {
        // Arrange: not JSON to the gateway, so it used to pass unedited; JSON to a backend that looks for "/json" in it.
        await AddInjectingRouteAsync();

        // Act
        var response = await PostToInjectingRouteAsync(contentTypeLines, """{"user":"evil"}""");

        // Assert
        Assert.Equal((400, "bad_request"), (response.Status, response.ErrorCode));
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task RequestTransform_ContentTypeWithACommaInAParameter_IsNotSeveralMediaTypes()
    {
        // Arrange
        await AddInjectingRouteAsync();

        // Act
        var response = await PostToInjectingRouteAsync("Content-Type: text/plain; x=\"a,b\"", "abc");

        // Assert: not JSON, passed through as before.
        Assert.Equal(200, response.Status);
        Assert.Contains("\"body_length\":3", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MethodOverride_NamingAMethodTheSameRouteServes_IsStillForwarded()
    {
        // Act: PUT goes to the public route too, so the backend may be asked to run it.
        var response = await RawHttp.GetAsync(Gateway.Url, "/api/x", "X-HTTP-Method-Override: PUT");

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal(["PUT"], Assert.Single(Upstream.Received).Headers["X-HTTP-Method-Override"]);
    }

    // A route that injects "user" into JSON request bodies.
    private Task AddInjectingRouteAsync() => Gateway.AddRouteAsync(new RouteInput
    {
        Name = "injected", Path = "/injected/*", Upstream = "echo", AuthRequired = false, RequestTransform = """{"body":{"json":{"inject":{"user":"gw"}}}}""",
    });

    // POST /injected/x with the given Content-Type line(s), as raw bytes (two header lines cannot be sent otherwise).
    private Task<RawResponse> PostToInjectingRouteAsync(string contentTypeLines, string body) =>
        RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(
            $"POST /injected/x HTTP/1.1\r\nHost: {new Uri(Gateway.Url).Authority}\r\n{contentTypeLines}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
}

/// <summary>With <c>APIGATE_SERVER_ALLOW_UNDERSCORE_HEADERS</c>: the underscore form of a method override is held to the same rule.</summary>
public sealed class FifthAttackRunUnderscoreTests : GatewayTestBase
{
    private protected override void Configure(Gateway.Configuration.GatewayOptions options) => options.AllowUnderscoreHeaders = true;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("echo", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api-read", Path = "/api/*", Upstream = "echo", AuthRequired = false }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api-delete", Path = "/api/*", Upstream = "echo", Methods = "DELETE", AuthRequired = true });
    }

    [Fact]
    public async Task UnderscoreMethodOverride_NamingAMethodRoutedElsewhere_IsDropped_OneStayingOnTheRoutePasses()
    {
        // Act: a CGI-style backend reads X_HTTP_Method_Override as X-HTTP-Method-Override.
        var elsewhere = await RawHttp.GetAsync(Gateway.Url, "/api/x", "X_HTTP_Method_Override: DELETE");
        var same = await RawHttp.GetAsync(Gateway.Url, "/api/y", "X_HTTP_Method_Override: PUT");

        // Assert
        Assert.Equal((200, 200), (elsewhere.Status, same.Status));
        var received = Upstream.Received.ToArray();
        Assert.Equal(2, received.Length);
        Assert.False(received[0].Headers.ContainsKey("X_HTTP_Method_Override"));
        Assert.Equal(["PUT"], received[1].Headers["X_HTTP_Method_Override"]);
    }
}
