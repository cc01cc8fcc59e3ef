using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Tests.Cors;

/// <summary>
/// CORS as a browser enforces it, in headless Chromium: a page served from one loopback origin calls a key-protected
/// route on the gateway (another origin) with <c>fetch</c> and the key header, which makes Chromium send a preflight
/// first; a page on an origin the route does not list is blocked.
/// </summary>
public sealed class CorsBrowserTests : GatewayTestBase
{
    private const string Script = """
        <!doctype html>
        <html><body><pre id="out"></pre>
        <script>
        (async () => {
          const out = document.getElementById('out');
          try {
            const ok = await fetch(GATEWAY + '/api/items?from=page', { headers: { 'X-API-Key': KEY } });
            const refused = await fetch(GATEWAY + '/api/items', { headers: { 'X-API-Key': 'ak_wrong' } });
            out.textContent = JSON.stringify({
              status: ok.status, requestId: ok.headers.get('X-Request-ID'), quotaUsed: ok.headers.get('X-Quota-Used'),
              body: await ok.text(), refusedStatus: refused.status, refusedBody: await refused.text() });
          } catch (e) {
            out.textContent = JSON.stringify({ blocked: e.name });
          }
        })();
        </script></body></html>
        """;

    private protected override async Task SetUpAsync() => await Gateway.AddUpstreamAsync("backend", Upstream.Url);

    [BrowserFact]
    public async Task Fetch_FromAllowedOriginWithKeyHeader_PageReadsBodyHeadersAndGatewayErrors()
    {
        // Arrange: the page's origin is listed on the route
        await using var site = await StartSiteAsync();
        var origin = site.Urls.First();
        var (key, _, _) = await Gateway.CreateKeyAsync("browser@example.com", new PlanInput { Id = "web", Name = "Web", RequestsPerMonth = 100 });
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true, CorsOrigins = origin });
        Page = Script.Replace("GATEWAY", JsonSerializer.Serialize(Gateway.Url), StringComparison.Ordinal).Replace("KEY", JsonSerializer.Serialize(key), StringComparison.Ordinal);

        // Act
        var result = await RunPageAsync(origin);

        // Assert: the page read the upstream's answer, the exposed gateway headers and the gateway's 401
        Assert.Equal(200, result.GetProperty("status").GetInt32());
        var body = JsonDocument.Parse(result.GetProperty("body").GetString()!).RootElement;
        Assert.Equal("/api/items", body.GetProperty("path").GetString());
        Assert.Equal("?from=page", body.GetProperty("query").GetString());
        Assert.False(string.IsNullOrEmpty(result.GetProperty("requestId").GetString()));
        Assert.Equal("1", result.GetProperty("quotaUsed").GetString());
        Assert.Equal(401, result.GetProperty("refusedStatus").GetInt32());
        Assert.Contains("invalid_api_key", result.GetProperty("refusedBody").GetString(), StringComparison.Ordinal);
        // Chromium sent preflights (the key header is not CORS-safelisted); the gateway answered them, only the GET reached the upstream.
        var received = Assert.Single(Upstream.Received);
        Assert.Equal("GET", received.Method);
    }

    [BrowserFact]
    public async Task Fetch_FromOriginNotListed_BlockedByTheBrowserAndNothingForwarded()
    {
        // Arrange: the route lists another origin than the page's
        await using var site = await StartSiteAsync();
        var (key, _, _) = await Gateway.CreateKeyAsync("blocked@example.com");
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true, CorsOrigins = "https://app.example.com" });
        Page = Script.Replace("GATEWAY", JsonSerializer.Serialize(Gateway.Url), StringComparison.Ordinal).Replace("KEY", JsonSerializer.Serialize(key), StringComparison.Ordinal);

        // Act
        var result = await RunPageAsync(site.Urls.First());

        // Assert: fetch failed (a TypeError is all a page learns), the refused preflight kept the GET from being sent
        Assert.Equal("TypeError", result.GetProperty("blocked").GetString());
        Assert.Empty(Upstream.Received);
    }

    /// <summary>The HTML the site serves at <c>/</c>.</summary>
    private string Page { get; set; } = "";

    private static async Task<JsonElement> RunPageAsync(string origin)
    {
        await using var browser = await BrowserHost.OpenAsync(origin);
        Assert.Equal(200, await browser.GoAsync("/"));
        await browser.Page.WaitForFunctionAsync("document.getElementById('out').textContent !== ''");
        return JsonDocument.Parse(await browser.Page.TextContentAsync("#out") ?? "{}").RootElement.Clone();
    }

    /// <summary>A tiny site on its own loopback port (another origin than the gateway) serving <see cref="Page"/>.</summary>
    private async Task<WebApplication> StartSiteAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/", () => Results.Content(Page, "text/html; charset=utf-8"));
        await app.StartAsync();
        return app;
    }
}
