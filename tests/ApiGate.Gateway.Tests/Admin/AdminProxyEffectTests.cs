using System.Net;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// Changes through the admin API apply to proxying before the response is sent. The store poll is made very slow
/// here, so only the API's own refresh can explain a change being seen.
/// </summary>
public sealed class AdminProxyEffectTests : AdminTestBase
{
    private protected override void Configure(Configuration.GatewayOptions options) => options.ConfigPollInterval = TimeSpan.FromHours(1);

    [Fact]
    public async Task CreateUpstreamAndRoute_ThenProxy_SucceedsWithoutWaiting()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.GetAsync(Gateway.Url + "/fresh/ping")).StatusCode);

        AssertData(await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "fresh", path = "/fresh/*", upstream = "backend", auth_required = false }), HttpStatusCode.Created);
        using var proxied = await Gateway.Client.GetAsync(Gateway.Url + "/fresh/ping");

        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        Assert.Contains(Upstream.Received, r => r.Path == "/fresh/ping");
    }

    [Fact]
    public async Task DisableRoute_ThenProxy_Returns404AtOnce()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        await PostAsync("/routes", new { name = "toggle", path = "/toggle/*", upstream = "backend", auth_required = false });
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/toggle/a")).StatusCode);

        AssertData(await PostAsync("/routes/toggle/disable"));
        using var afterDisable = await Gateway.Client.GetAsync(Gateway.Url + "/toggle/a");
        AssertData(await PatchAsync("/routes/toggle", new { enabled = true, path = "/moved/*" }));
        using var moved = await Gateway.Client.GetAsync(Gateway.Url + "/moved/a");

        Assert.Equal(HttpStatusCode.NotFound, afterDisable.StatusCode);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
    }

    [Fact]
    public async Task RouteUnderTheAdminPath_RefusedWhenWrittenAndNeverShadowsTheAdminApi()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        var refused = await PostAsync("/routes", new { name = "sneaky", path = "/admin/*", upstream = "backend", auth_required = false, priority = 1000 });
        // One stored before that rule (or written straight into the database) still never takes the admin API's paths.
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", CancellationToken.None))!;
        await Gateway.Store.CreateRouteAsync(new Core.Routing.RouteDefinition
        {
            Id = "rt_sneaky", Name = "sneaky", Slug = "sneaky", PathPattern = "/admin/*", UpstreamId = backend.Id, Priority = 1000,
            CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);
        await Gateway.ReloadAsync();

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/admin/plans");

        var error = AssertError(refused, HttpStatusCode.UnprocessableEntity, "validation_error", "/path");
        Assert.Contains("answered by the gateway itself", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain(Upstream.Received, r => r.Path.StartsWith("/admin", StringComparison.Ordinal));
    }
}

/// <summary><c>APIGATE_ADMIN_BASE_PATH</c> moves the admin API; the old path stays reserved.</summary>
public sealed class AdminBasePathTests : AdminTestBase
{
    private protected override void Configure(Configuration.GatewayOptions options) => options.AdminBasePath = "/ops/gateway";

    [Fact]
    public async Task CustomBasePath_ServesTheApiThere()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/ops/gateway/plans?page[size]=1");
        request.Headers.Authorization = new("Bearer", Token);
        using var moved = await Gateway.Client.SendAsync(request);
        var body = System.Text.Json.JsonDocument.Parse(await moved.Content.ReadAsStringAsync()).RootElement;

        using var old = await Gateway.Client.GetAsync(Gateway.Url + "/admin/plans");

        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.StartsWith("/ops/gateway/plans?", body.GetProperty("links").GetProperty("self").GetString());
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
    }
}
