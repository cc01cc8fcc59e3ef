using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Observability;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>With <c>APIGATE_ADMIN_LISTEN</c> set, <c>/metrics</c> is scraped on the admin listener only.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class AdminListenerMetricsTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.AdminListen = "127.0.0.1:0";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend" });
    }

    [Fact]
    public async Task Metrics_WithAdminListen_ScrapedOnAdminListenerAnd404OnMainPort()
    {
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/counted")).StatusCode);

        var scraped = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.AdminUrl + "/metrics", requests: 1);
        using var onMain = await Gateway.Client.GetAsync(Gateway.Url + "/metrics");

        Assert.Equal(1, scraped.Sum("apigate_requests_total", ("route", "everything"), ("status_class", "2xx")));
        Assert.Equal(HttpStatusCode.NotFound, onMain.StatusCode);
        Assert.Contains("\"not_found\"", await onMain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(Upstream.Received, r => r.Path == "/metrics");
    }
}
