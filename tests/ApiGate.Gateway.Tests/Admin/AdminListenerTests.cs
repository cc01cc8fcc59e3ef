using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// <c>APIGATE_ADMIN_LISTEN</c>: the admin API is served only on its own listener, the main port answers its paths
/// with 404 and never proxies them, and the management listener proxies nothing.
/// </summary>
public sealed class AdminListenerTests : AdminTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        options.AdminListen = "127.0.0.1:0";
        options.LogLevel = "info";
        options.LogWriter = _log.Writer;
    }

    private string AdminUrl => Gateway.AdminUrl ?? throw new InvalidOperationException("no admin listener");

    [Fact]
    public void Addresses_WithAdminListen_ListMainFirstThenAdmin()
    {
        var app = Gateway.Service<Microsoft.AspNetCore.Hosting.Server.IServer>();
        var addresses = app.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.ToList();

        Assert.Equal(2, addresses.Count);
        Assert.Equal(Gateway.Url, addresses[0]);
        Assert.Equal(AdminUrl, addresses[1]);
        Assert.StartsWith("http://127.0.0.1:", AdminUrl);
        Assert.NotEqual(new Uri(Gateway.Url).Port, new Uri(AdminUrl).Port);
    }

    [Fact]
    public async Task AdminApi_WithToken_AnswersOnAdminListenerAnd404OnMainPort()
    {
        using var onAdmin = await SendAsync(AdminUrl + "/admin/upstreams", Token);
        using var onMain = await SendAsync(Gateway.Url + "/admin/upstreams", Token);
        using var withoutToken = await SendAsync(AdminUrl + "/admin/upstreams", token: null);

        Assert.Equal(HttpStatusCode.OK, onAdmin.StatusCode);
        Assert.Equal(JsonValueKind.Array, (await JsonAsync(onAdmin)).GetProperty("data").ValueKind);
        await AssertNotFoundAsync(onMain);
        Assert.Equal(HttpStatusCode.Unauthorized, withoutToken.StatusCode);
    }

    [Fact]
    public async Task CatchAllRoute_OnMainPort_NeverReceivesAdminOrMetricsRequests()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend" });

        using var proxied = await SendAsync(Gateway.Url + "/anything", token: null);
        foreach (var path in new[] { "/admin", "/admin/upstreams", "/admin/openapi.json", "/metrics" })
        {
            using var response = await SendAsync(Gateway.Url + path, Token);
            await AssertNotFoundAsync(response);
        }

        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        Assert.Equal(["/anything"], Upstream.Received.Select(r => r.Path).ToArray());
    }

    [Fact]
    public async Task ProxiedPaths_OnAdminListener_Answer404AndReachNoUpstream()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend" });

        foreach (var path in new[] { "/", "/anything", "/api/v1/users", "/health/other", "/administrator" })
        {
            using var response = await SendAsync(AdminUrl + path, Token);
            await AssertNotFoundAsync(response);
        }

        using var post = await Gateway.Client.PostAsync(AdminUrl + "/anything", new StringContent("{}"));
        await AssertNotFoundAsync(post);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("/health", "ok")]
    [InlineData("/health/ready", "ready")]
    public async Task HealthEndpoints_AnswerOnBothListeners(string path, string status)
    {
        using var onMain = await SendAsync(Gateway.Url + path, token: null);
        using var onAdmin = await SendAsync(AdminUrl + path, token: null);

        Assert.Equal(HttpStatusCode.OK, onMain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onAdmin.StatusCode);
        Assert.Equal(status, (await JsonAsync(onMain)).GetProperty("status").GetString());
        Assert.Equal(status, (await JsonAsync(onAdmin)).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("POST", "/health")]
    [InlineData("DELETE", "/health/ready")]
    [InlineData("OPTIONS", "/version")]
    [InlineData("PUT", "/metrics")]
    public async Task ReadOnlyEndpoints_AnotherMethodThanGetOrHead_405AllowingGetAndHeadOnBothListeners(string method, string path)
    {
        // Arrange
        using var client = Infrastructure.TestGateway.CreateClient();

        // Act
        using var onMain = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), Gateway.Url + path));
        using var onAdmin = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), AdminUrl + path));
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, AdminUrl + path));

        // Assert: /metrics is the admin listener's only (404 on the main port with an admin listener)
        foreach (var answer in path == "/metrics" ? [onAdmin] : new[] { onMain, onAdmin })
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.StatusCode);
            Assert.Equal("GET, HEAD", string.Join(", ", answer.Content.Headers.Allow));
            Assert.Equal("method_not_allowed", (await JsonAsync(answer)).GetProperty("errors")[0].GetProperty("code").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Fact]
    public async Task Version_AnswersOnBothListeners()
    {
        using var onMain = await SendAsync(Gateway.Url + "/version", token: null);
        using var onAdmin = await SendAsync(AdminUrl + "/version", token: null);

        Assert.Equal(HttpStatusCode.OK, onMain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onAdmin.StatusCode);
        Assert.Equal((await JsonAsync(onMain)).GetProperty("version").GetString(), (await JsonAsync(onAdmin)).GetProperty("version").GetString());
    }

    [Fact]
    public async Task Startup_WithAdminListen_LogsWhereAdminApiAndMetricsAreServed()
    {
        var expected = "served only on the admin listener " + AdminUrl;
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!_log.Text.Contains(expected, StringComparison.Ordinal) && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
        }

        Assert.Contains(expected, _log.Text, StringComparison.Ordinal);
        Assert.Contains("Admin API at /admin and /metrics", _log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Startup_AdminListenerOnLoopbackInPlainHttp_NoClearTextWarning()
    {
        // Arrange: this gateway has no certificates, so its admin listener on 127.0.0.1 serves plain HTTP
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!_log.Text.Contains("served only on the admin listener " + AdminUrl, StringComparison.Ordinal) && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
        }

        // Act: everything logged at start, and after it
        var logged = await _log.UpToMarkerAsync(Gateway);

        // Assert: the listener was announced (event 7030, logged with the warning's check) and nothing was said about clear text
        Assert.StartsWith("http://127.0.0.1:", AdminUrl, StringComparison.Ordinal);
        Assert.Contains("served only on the admin listener " + AdminUrl, logged, StringComparison.Ordinal);
        Assert.DoesNotContain("plain HTTP", logged, StringComparison.Ordinal);
        Assert.DoesNotContain("in clear", logged, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> SendAsync(string url, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Gateway.Client.SendAsync(request);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static async Task AssertNotFoundAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{response.RequestMessage?.RequestUri}: expected 404, got {(int)response.StatusCode}: {body}");
        var error = Assert.Single(JsonDocument.Parse(body).RootElement.GetProperty("errors").EnumerateArray().ToList());
        Assert.Equal("not_found", error.GetProperty("code").GetString());
    }
}

/// <summary>With a moved admin base path the admin listener serves it, and the main port keeps it reserved.</summary>
public sealed class AdminListenerBasePathTests : AdminTestBase
{
    private protected override void Configure(GatewayOptions options)
    {
        options.AdminListen = "127.0.0.1:0";
        options.AdminBasePath = "/ops/gateway";
    }

    [Fact]
    public async Task MovedBasePath_OnAdminListener_ServesAndOnMainPortIs404()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend" });

        using var onAdmin = await SendAsync(Gateway.AdminUrl + "/ops/gateway/routes");
        using var onMain = await SendAsync(Gateway.Url + "/ops/gateway/routes");
        using var oldPathOnAdmin = await SendAsync(Gateway.AdminUrl + "/admin/routes");

        Assert.Equal(HttpStatusCode.OK, onAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, onMain.StatusCode);
        Assert.Contains("\"not_found\"", await onMain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, oldPathOnAdmin.StatusCode);
        Assert.Empty(Upstream.Received);
    }

    private Task<HttpResponseMessage> SendAsync(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return Gateway.Client.SendAsync(request);
    }
}
