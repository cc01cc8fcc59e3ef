using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Auth;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Tests.Cors;

/// <summary>
/// CORS per route over HTTP: preflights answered by the gateway before authentication and limits, the exact
/// Access-Control-* headers on preflights, actual responses and the gateway's own errors, origin patterns, and the
/// gateway's policy winning over an upstream's CORS headers.
/// </summary>
public sealed class CorsTests : GatewayTestBase
{
    private const string App = "https://app.example.com";

    private protected override void Configure(GatewayOptions options) => options.RateLimitBurst = 0;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true,
            CorsOrigins = App + ", *.example.org", CorsMethods = "GET,POST", CorsCredentials = true, CorsMaxAge = 600,
        });
        await Gateway.AddRouteAsync(new RouteInput { Name = "open", Path = "/open/*", Upstream = "backend", AuthRequired = false, CorsOrigins = "*", CorsHeaders = "*" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "reads", Path = "/reads/*", Methods = "GET", Upstream = "backend", AuthRequired = true, CorsOrigins = App });
        await Gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend", AuthRequired = true });
    }

    [Fact]
    public async Task Preflight_AllowedOriginWithoutKey_Returns204WithExactAllowHeaders()
    {
        // Act
        var response = await PreflightAsync("/api/items", App, "POST", "x-api-key, content-type");

        // Assert
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("GET, POST", Header(response, "Access-Control-Allow-Methods"));
        Assert.Equal("Authorization, Content-Type, X-API-Key", Header(response, "Access-Control-Allow-Headers"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Equal("600", Header(response, "Access-Control-Max-Age"));
        Assert.Equal("Origin, Access-Control-Request-Method, Access-Control-Request-Headers", Header(response, "Vary"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task Preflight_ThenKeyedRequests_PreflightsNotCountedInQuotaOrUsage()
    {
        // Arrange: a quota of one request
        var (key, user, _) = await Gateway.CreateKeyAsync("quota@example.com", new PlanInput { Id = "one", Name = "One", RequestsPerMonth = 1 });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.NoContent, (await PreflightAsync("/api/items", App, "GET", "x-api-key")).StatusCode);
        }

        // Act
        var first = await SendAsync(HttpMethod.Get, "/api/items", App, key);
        var second = await SendAsync(HttpMethod.Get, "/api/items", App, key);

        // Assert
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("1", Header(first, "X-Quota-Used"));
        await AuthenticationTests.AssertErrorAsync(second, HttpStatusCode.PaymentRequired, "quota_exceeded");
        Assert.Equal(App, Header(second, "Access-Control-Allow-Origin"));
        Assert.Equal(1, Gateway.Service<ApiGate.Gateway.Limits.QuotaCounters>().Used(user.Id));
        var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        await Gateway.StopAsync(); // drains the usage queue

        // The request that was served is the one usage event; the preflights (and the quota refusal) are not recorded.
        Assert.Equal(1, recorder.Written);
        Assert.Single(Upstream.Received);
    }

    [Theory]
    [InlineData("https://evil.example.com", "GET", "")]
    [InlineData("http://app.example.com", "GET", "")]
    [InlineData("https://app.example.com.evil.net", "GET", "")]
    [InlineData("https://example.org", "GET", "")]
    [InlineData("http://a.example.org", "GET", "")]
    [InlineData(App, "DELETE", "")]
    [InlineData(App, "GET", "x-secret-header")]
    public async Task Preflight_OriginMethodOrHeaderNotAllowed_Returns403WithoutAllowHeaders(string origin, string method, string headers)
    {
        // Act
        var response = await PreflightAsync("/api/items", origin, method, headers);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Forbidden, "cors_preflight_refused");
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Methods"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.Equal("Origin, Access-Control-Request-Method, Access-Control-Request-Headers", Header(response, "Vary"));
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("https://a.example.org")]
    [InlineData("https://deep.sub.example.org")]
    public async Task Preflight_SubdomainOfPattern_AnsweredWithThatOrigin(string origin)
    {
        var response = await PreflightAsync("/api/items", origin, "GET", "");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Preflight_RouteListsOnlyGet_MatchedAsTheAnnouncedMethod()
    {
        // The route admits GET only, not OPTIONS: the preflight is matched as the GET it announces.
        var response = await PreflightAsync("/reads/x", App, "GET", "authorization");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("GET", Header(response, "Access-Control-Allow-Methods"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.False(response.Headers.Contains("Access-Control-Max-Age"));
    }

    [Fact]
    public async Task Preflight_RouteWithoutCors_IsAnOrdinaryOptionsRequest401WithoutCorsHeaders()
    {
        var response = await PreflightAsync("/plain/x", App, "GET", "x-api-key");

        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Preflight_AnyOriginAndAnyHeaders_AnswersStarAndEchoesRequestedHeaders()
    {
        var response = await PreflightAsync("/open/x", "https://anyone.test", "PUT", "x-one, x-two");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("*", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("x-one, x-two", Header(response, "Access-Control-Allow-Headers"));
        Assert.Equal("GET, HEAD, POST, PUT, PATCH, DELETE", Header(response, "Access-Control-Allow-Methods"));
    }

    [Fact]
    public async Task ActualRequest_AllowedOriginWithKey_GetsAllowOriginCredentialsExposeAndVary()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("actual@example.com");

        var response = await SendAsync(HttpMethod.Get, "/api/items", App, key);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Equal("X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Quota-Limit, X-Quota-Remaining, X-Quota-Used, X-Quota-Reset, Retry-After",
            Header(response, "Access-Control-Expose-Headers"));
        Assert.Equal("Origin", Header(response, "Vary"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Methods"));
    }

    [Theory]
    [InlineData("HTTPS://APP.EXAMPLE.COM")]
    [InlineData("https://App.Example.com")]
    [InlineData("https://A.Example.ORG")]
    public async Task Preflight_OriginDifferingOnlyInLetterCase_SameOriginAnsweredWithTheOriginAsSent(string origin)
    {
        // Act
        var response = await PreflightAsync("/api/items", origin, "GET", "");

        // Assert: scheme and host are case-insensitive, and the browser compares the answer with what it sent byte for byte
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task ActualRequest_OriginDifferingOnlyInLetterCase_ServedWithTheOriginAsSent()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("case@example.com");

        var response = await SendAsync(HttpMethod.Get, "/api/items", "HTTPS://App.Example.COM", key);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("HTTPS://App.Example.COM", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
    }

    [Fact]
    public async Task ActualRequest_NoKey_401CarriesCorsHeadersSoTheBrowserCanReadIt()
    {
        var response = await SendAsync(HttpMethod.Get, "/api/items", App, key: null);

        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Equal("Origin", Header(response, "Vary"));
    }

    [Fact]
    public async Task ActualRequest_RateLimited_429CarriesCorsHeaders()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("limited@example.com", new PlanInput { Id = "slow", Name = "Slow", RateLimitPerMinute = 1 });
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/api/items", App, key)).StatusCode);

        var response = await SendAsync(HttpMethod.Get, "/api/items", App, key);

        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Contains("Retry-After", Header(response, "Access-Control-Expose-Headers"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ActualRequest_UpstreamRefusesConnection_502CarriesCorsHeaders()
    {
        // Arrange: an upstream nobody listens on
        await Gateway.AddUpstreamAsync("dead", $"http://127.0.0.1:{Proxying.ForwardingTests.FreePort()}");
        await Gateway.AddRouteAsync(new RouteInput { Name = "dead", Path = "/dead/*", Upstream = "dead", AuthRequired = false, CorsOrigins = App });

        // Act
        var response = await SendAsync(HttpMethod.Get, "/dead/x", App, key: null);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.BadGateway, "upstream_error");
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("Origin", Header(response, "Vary"));
    }

    [Fact]
    public async Task RouteWithoutAnyUpstream_PreflightAnswered204AndThe503CarriesCorsHeaders()
    {
        // Arrange: a route that relies on a default upstream (APIGATE_UPSTREAM_URL) the gateway does not have
        await Gateway.AddRouteAsync(new RouteInput { Name = "orphan", Path = "/orphan/*", AuthRequired = false, CorsOrigins = App });

        // Act
        var preflight = await PreflightAsync("/orphan/x", App, "GET", "");
        var refused = await PreflightAsync("/orphan/x", "https://evil.example.com", "GET", "");
        var actual = await SendAsync(HttpMethod.Get, "/orphan/x", App, key: null);

        // Assert: a preflight needs no upstream; the error is one the page can read
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal(App, Header(preflight, "Access-Control-Allow-Origin"));
        await AuthenticationTests.AssertErrorAsync(refused, HttpStatusCode.Forbidden, "cors_preflight_refused");
        Assert.Equal("Origin, Access-Control-Request-Method, Access-Control-Request-Headers", Header(refused, "Vary"));
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        await AuthenticationTests.AssertErrorAsync(actual, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        Assert.Equal(App, Header(actual, "Access-Control-Allow-Origin"));
        Assert.Equal("Origin", Header(actual, "Vary"));
    }

    [Fact]
    public async Task ActualRequest_DisallowedOrigin_ServedWithoutAllowOriginButVaryOrigin()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("other@example.com");

        var response = await SendAsync(HttpMethod.Get, "/api/items", "https://evil.example.com", key);

        // The gateway does not refuse it (a non-browser client may send any Origin); a browser will not let the page read it.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.Equal("Origin", Header(response, "Vary"));
    }

    [Fact]
    public async Task ActualRequest_UpstreamSendsItsOwnCorsHeaders_GatewayPolicyWinsOnCorsRouteOnly()
    {
        // Arrange: an upstream that answers with a permissive CORS policy of its own
        await using var permissive = await StartCorsUpstreamAsync();
        await Gateway.AddUpstreamAsync("permissive", permissive.Urls.First());
        await Gateway.AddRouteAsync(new RouteInput { Name = "guarded", Path = "/guarded/*", Upstream = "permissive", AuthRequired = false, CorsOrigins = App });
        await Gateway.AddRouteAsync(new RouteInput { Name = "passthrough", Path = "/passthrough/*", Upstream = "permissive", AuthRequired = false });

        // Act
        var allowed = await SendAsync(HttpMethod.Get, "/guarded/x", App, key: null);
        var other = await SendAsync(HttpMethod.Get, "/guarded/x", "https://evil.example.com", key: null);
        var passthrough = await SendAsync(HttpMethod.Get, "/passthrough/x", "https://evil.example.com", key: null);

        // Assert: on the CORS route the gateway's values replace the upstream's; elsewhere the upstream's pass through
        Assert.Equal(App, Header(allowed, "Access-Control-Allow-Origin"));
        Assert.False(allowed.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.Equal("X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Quota-Limit, X-Quota-Remaining, X-Quota-Used, X-Quota-Reset, Retry-After",
            Header(allowed, "Access-Control-Expose-Headers"));
        Assert.Equal("Origin, Accept-Encoding", Header(allowed, "Vary"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.Equal("*", Header(passthrough, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(passthrough, "Access-Control-Allow-Credentials"));
        Assert.Equal("Accept-Encoding", Header(passthrough, "Vary"));
    }

    private static async Task<WebApplication> StartCorsUpstreamAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(async context =>
        {
            context.Response.Headers.AccessControlAllowOrigin = "*";
            context.Response.Headers.AccessControlAllowCredentials = "true";
            context.Response.Headers.AccessControlExposeHeaders = "X-Upstream-Secret";
            context.Response.Headers.Vary = "Accept-Encoding";
            await context.Response.WriteAsync("upstream");
        });
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task Preflight_OriginSentTwice_NoAllowHeadersAndNothingForwarded()
    {
        // Arrange: an allowed origin next to another one, as a confused or hostile client might send them
        var request = new HttpRequestMessage(HttpMethod.Options, Gateway.Url + "/api/items");
        request.Headers.TryAddWithoutValidation("Origin", [App, "https://evil.example.net"]);
        request.Headers.Add("Access-Control-Request-Method", "GET");

        // Act
        var response = await Gateway.Client.SendAsync(request);

        // Assert: refused like an origin that is not listed (no single Origin to allow)
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Forbidden, "cors_preflight_refused");
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("Origin: https://app.example.com\r\nOrigin: https://evil.example.net\r\nAccess-Control-Request-Method: GET",
        "the request's Origin is empty or sent more than once; a preflight names one origin")]
    [InlineData("Origin: \r\nAccess-Control-Request-Method: GET",
        "the request's Origin is empty or sent more than once; a preflight names one origin")]
    [InlineData("Origin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Method: PUT",
        "the request's Access-Control-Request-Method is empty or sent more than once; a preflight names one method")]
    [InlineData("Origin: https://app.example.com\r\nAccess-Control-Request-Method: ",
        "the request's Access-Control-Request-Method is empty or sent more than once; a preflight names one method")]
    public async Task Preflight_OriginOrRequestMethodEmptyOrOnSeveralLines_Refused403AndNotForwarded(string headerLines, string detail)
    {
        // Arrange: the headers on lines of their own, as a raw client (or HTTP/2) sends them, on a route open to any origin
        // without a key. Such a preflight used to be read as an ordinary OPTIONS request: forwarded to the upstream, and
        // with Access-Control-Request-Method twice answered with the route's Access-Control-Allow-Origin
        var request = "OPTIONS /open/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n" + headerLines + "\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));

        // Assert
        Assert.Equal(403, response.Status);
        Assert.Equal("cors_preflight_refused", response.ErrorCode);
        Assert.Equal(detail, System.Text.Json.JsonDocument.Parse(response.Body).RootElement.GetProperty("errors")[0].GetProperty("detail").GetString());
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Origin"));
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Methods"));
        Assert.Equal("Origin, Access-Control-Request-Method, Access-Control-Request-Headers", response.Headers["Vary"]);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("Access-Control-Request-Method: GET\r\nAccess-Control-Request-Method: GET")]
    [InlineData("Access-Control-Request-Method: ")]
    public async Task Preflight_RequestMethodEmptyOrOnSeveralLinesOnRouteListingMethods_404AsAnUnlistedMethodAndNotForwarded(string methodLines)
    {
        // Arrange: the route takes GET only; a method empty or given twice names none of its methods
        var request = "OPTIONS /reads/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nOrigin: " + App + "\r\n" + methodLines + "\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));
        var unlisted = await PreflightAsync("/reads/x", App, "DELETE", "");

        // Assert: answered as a preflight for a method the route does not list
        Assert.Equal(404, response.Status);
        Assert.Equal("route_not_found", response.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, unlisted.StatusCode);
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Origin"));
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("https://app.example.com%2e.evil.net")]
    [InlineData("https://app.example.com.evil.net")]
    [InlineData("https://app_example.com")]
    [InlineData("https://APP.EXAMPLE.COM:443/path")]
    public async Task Preflight_LookalikeOrMalformedOrigin_Refused403WithoutAllowHeaders(string origin)
    {
        // Act
        var response = await PreflightAsync("/api/items", origin, "GET", "");

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Forbidden, "cors_preflight_refused");
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task Preflight_AnyHeadersAndANonAsciiHeaderName_Refused403NotEchoed()
    {
        // Arrange: '*' answers with the names asked for; a name no browser would send (raw UTF-8) cannot be a header value
        var request = "OPTIONS /open/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nOrigin: https://anyone.test\r\n" +
                      "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-one, x-\u00e9t\u00e9\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.UTF8.GetBytes(request));

        // Assert: refused like a header the policy does not allow (it was a 500 from the server with an empty body)
        Assert.Equal(403, response.Status);
        Assert.Equal("cors_preflight_refused", response.ErrorCode);
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Headers"));
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("x-one\u00a0")]
    [InlineData("x-one, \u3000")]
    public async Task Preflight_AnyHeadersAndANameEndingInNonAsciiWhiteSpace_Refused403NotEchoed(string requested)
    {
        // Arrange: a no-break space (or an ideographic one) after the name, as raw UTF-8. HTTP trims only spaces and tabs;
        // the name used to be trimmed of it, pass as a header name, and be repeated in Access-Control-Allow-Headers, which
        // Kestrel cannot write: a 500 with an empty body, for anyone, without a key
        var request = "OPTIONS /open/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nOrigin: https://anyone.test\r\n" +
                      "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: " + requested + "\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.UTF8.GetBytes(request));

        // Assert: refused like any name that is not a header name
        Assert.Equal(403, response.Status);
        Assert.Equal("cors_preflight_refused", response.ErrorCode);
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Headers"));
        Assert.False(response.Headers.ContainsKey("Access-Control-Allow-Origin"));
        Assert.Equal("Origin, Access-Control-Request-Method, Access-Control-Request-Headers", response.Headers["Vary"]);
        Assert.Empty(Upstream.Received);
    }

    private Task<HttpResponseMessage> PreflightAsync(string path, string origin, string method, string headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, Gateway.Url + path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        if (headers.Length > 0)
        {
            request.Headers.Add("Access-Control-Request-Headers", headers);
        }

        return Gateway.Client.SendAsync(request);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string origin, string? key)
    {
        var request = new HttpRequestMessage(method, Gateway.Url + path);
        request.Headers.Add("Origin", origin);
        if (key is not null)
        {
            request.Headers.Add("X-API-Key", key);
        }

        return Gateway.Client.SendAsync(request);
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : throw new Xunit.Sdk.XunitException($"no {name} header in the {(int)response.StatusCode} response");
}
