using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Observability;

[Collection(TelemetryCollection.Name)]
public sealed class MetricsTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.RateLimitBurst = 0;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "alpha", Path = "/alpha/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true });
    }

    [Fact]
    public async Task Scrape_AfterKnownTraffic_CountsRequestsRejectionsAndLatencies()
    {
        // Arrange: one request per minute and no burst, so the second and third request of that key are limited.
        var (limitedKey, _, _) = await Gateway.CreateKeyAsync("limited@example.com", new PlanInput { Id = "one-per-minute", Name = "One", RateLimitPerMinute = 1 }, reload: false);
        var (quotaKey, _, _) = await Gateway.CreateKeyAsync("quota@example.com", new PlanInput { Id = "one-per-month", Name = "Quota", RequestsPerMonth = 1 });

        // Act
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/alpha/" + i)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync("/private/x", key: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync("/private/x", "ak_wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync("/private/x", "ak_wrong2")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", limitedKey)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SendAsync("/private/x", limitedKey)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SendAsync("/private/x", limitedKey)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", quotaKey)).StatusCode);
        Assert.Equal(HttpStatusCode.PaymentRequired, (await SendAsync("/private/x", quotaKey)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.PostAsync(Gateway.Url + "/nowhere", null)).StatusCode);
        var metrics = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: 14);

        // Assert
        Assert.Equal(5, metrics.Sum("apigate_requests_total", ("route", "alpha"), ("method", "GET"), ("status_class", "2xx"), ("upstream", "backend")));
        Assert.Equal(5, metrics.Sum("apigate_requests_total", ("route", "alpha")));
        Assert.Equal(2, metrics.Sum("apigate_requests_total", ("route", "private"), ("status_class", "2xx"), ("upstream", "backend")));
        Assert.Equal(6, metrics.Sum("apigate_requests_total", ("route", "private"), ("status_class", "4xx"), ("upstream", "backend")));
        Assert.Equal(1, metrics.Sum("apigate_requests_total", ("route", ""), ("method", "POST"), ("status_class", "4xx"), ("upstream", "")));
        Assert.Equal(14, metrics.Sum("apigate_requests_total"));

        Assert.Equal(1, metrics.Sum("apigate_auth_failures_total", ("code", "missing_api_key")));
        Assert.Equal(2, metrics.Sum("apigate_auth_failures_total", ("code", "invalid_api_key")));
        Assert.Equal(3, metrics.Sum("apigate_auth_failures_total"));
        Assert.Equal(2, metrics.Sum("apigate_rate_limit_rejections_total", ("route", "private")));
        Assert.Equal(1, metrics.Sum("apigate_quota_rejections_total", ("route", "private")));

        Assert.Equal("histogram", metrics.Types["apigate_request_duration_seconds"]);
        Assert.Equal("histogram", metrics.Types["apigate_gateway_duration_seconds"]);
        Assert.Equal(5, metrics.Sum("apigate_request_duration_seconds_count", ("route", "alpha"), ("status_class", "2xx"), ("upstream", "backend")));
        Assert.Equal(5, metrics.Sum("apigate_request_duration_seconds_bucket", ("route", "alpha"), ("le", "+Inf")));
        Assert.Equal(5, metrics.Sum("apigate_gateway_duration_seconds_count", ("route", "alpha")));
        Assert.Equal(14, metrics.Sum("apigate_gateway_duration_seconds_count"));
        var total = metrics.Sum("apigate_request_duration_seconds_sum", ("route", "alpha"));
        var gatewayOnly = metrics.Sum("apigate_gateway_duration_seconds_sum", ("route", "alpha"));
        Assert.True(total > 0, "total latency recorded");
        Assert.InRange(gatewayOnly, 0, total);

        // Buckets are cumulative: counts never decrease with le.
        var buckets = metrics.Find("apigate_request_duration_seconds_bucket", ("route", "alpha"))
            .OrderBy(s => double.Parse(s.Labels["le"].Replace("+Inf", "Infinity"), System.Globalization.CultureInfo.InvariantCulture)).Select(s => s.Value).ToList();
        Assert.True(buckets.Count > 10, "sensible bucket count");
        Assert.Equal(buckets.OrderBy(v => v), buckets);

        Assert.Equal(0, metrics.Sum("apigate_usage_events_dropped_total"));
        Assert.Single(metrics.Find("apigate_usage_queue_depth"));
        Assert.Equal(Gateway.Snapshots.Current!.Version, metrics.Sum("apigate_config_version"));
        Assert.Equal(0, metrics.Sum("apigate_config_reload_failures_total"));
    }

    [Fact]
    public async Task Scrape_EveryTargetRefusesTheConnection_TheAttemptIsUpstreamTimeNotTheGateways()
    {
        // Arrange: an upstream whose only target refuses connections.
        await Gateway.AddUpstreamAsync("refusing", $"http://127.0.0.1:{LoopbackPorts.Closed()}");
        await Gateway.AddRouteAsync(new RouteInput { Name = "refused", Path = "/refused/*", Upstream = "refusing" });

        // Act
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.BadGateway, (await Gateway.Client.GetAsync(Gateway.Url + "/refused/" + i)).StatusCode);
        }

        var metrics = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: 3, ("route", "refused"));

        // Assert: the gateway's own share is the total minus the forwarding attempts, not all of it.
        Assert.Equal(3, metrics.Sum("apigate_requests_total", ("route", "refused"), ("status_class", "5xx")));
        Assert.Equal(3, metrics.Sum("apigate_gateway_duration_seconds_count", ("route", "refused")));
        var total = metrics.Sum("apigate_request_duration_seconds_sum", ("route", "refused"));
        var gatewayOnly = metrics.Sum("apigate_gateway_duration_seconds_sum", ("route", "refused"));
        Assert.True(gatewayOnly < total, $"gateway's own {gatewayOnly} s of {total} s: the connection attempts counted as the gateway's");
    }

    [Fact]
    public async Task Scrape_AdminPathAfterDotSegments_RefusalCountedOnce()
    {
        // Act: a probe of the admin API through an encoded dot segment, and one of an ordinary path
        Assert.Equal(400, (await RawHttp.GetAsync(Gateway.Url, "/alpha/%2e%2e/admin/users")).Status);
        Assert.Equal(400, (await RawHttp.GetAsync(Gateway.Url, "/alpha/%2e%2e/x")).Status);
        var metrics = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: 2);

        // Assert
        Assert.Equal(2, metrics.Sum("apigate_requests_total", ("route", ""), ("method", "GET"), ("status_class", "4xx"), ("upstream", "")));
        Assert.Equal(2, metrics.Sum("apigate_requests_total"));
        Assert.Equal(2, metrics.Sum("apigate_request_duration_seconds_count"));
    }

    [Fact]
    public async Task Scrape_RequestsTheServerRefusesBeforeThePipeline_CountedByStatus()
    {
        // Act: what Kestrel answers itself — a request line that is not one, two Host headers, a target past 8 KB,
        // headers past 32 KB — and one ordinary request
        static byte[] Ascii(string text) => System.Text.Encoding.ASCII.GetBytes(text);
        Assert.Equal(400, (await RawHttp.SendAsync(Gateway.Url, Ascii("GARBAGE\r\n\r\n"))).Status);
        Assert.Equal(400, (await RawHttp.SendAsync(Gateway.Url, Ascii("GET /alpha/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))).Status);
        Assert.Equal(414, (await RawHttp.SendAsync(Gateway.Url, Ascii($"GET /alpha/{new string('a', 10_000)} HTTP/1.1\r\nHost: a\r\n\r\n"))).Status);
        Assert.Equal(431, (await RawHttp.SendAsync(Gateway.Url, Ascii($"GET /alpha/x HTTP/1.1\r\nHost: a\r\nX-Big: {new string('a', 40_000)}\r\n\r\n"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/alpha/ok")).StatusCode);
        var metrics = await PrometheusText.ScrapeUntilAsync(Gateway.Client, Gateway.Url + "/metrics", "apigate_server_refusals_total", 4);

        // Assert: each refusal counted once, by its status; the pipeline's own count has only the ordinary request
        Assert.Equal(2, metrics.Sum("apigate_server_refusals_total", ("status", "400")));
        Assert.Equal(1, metrics.Sum("apigate_server_refusals_total", ("status", "414")));
        Assert.Equal(1, metrics.Sum("apigate_server_refusals_total", ("status", "431")));
        Assert.Equal(4, metrics.Sum("apigate_server_refusals_total"));
        Assert.Equal(1, metrics.Sum("apigate_requests_total"));
    }

    [Fact]
    public async Task KeyLookups_OneCacheMissPerKey_AreExported()
    {
        // Arrange
        var (key, _, _) = await Gateway.CreateKeyAsync("lookups@example.com");
        var lookups = Gateway.Service<Identity.ApiKeyAuthenticator>();
        var before = (await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics")).Sum("apigate_auth_key_lookups_total");

        // Act: the first request misses the cache; the next two are served from it.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);
        }

        var after = (await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics")).Sum("apigate_auth_key_lookups_total");

        // Assert
        Assert.Equal(1, after - before);
        Assert.Equal(Interlocked.Read(ref lookups.Lookups), after);
    }

    [Fact]
    public async Task ConfigVersionGauge_FollowsAReload()
    {
        var before = (await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics")).Sum("apigate_config_version");
        Assert.Equal(Gateway.Snapshots.Current!.Version, before);

        await Gateway.AddRouteAsync(new RouteInput { Name = "beta", Path = "/beta/*", Upstream = "backend" });
        var after = (await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics")).Sum("apigate_config_version");

        Assert.True(after > before, $"version {after} after the reload, {before} before");
        Assert.Equal(Gateway.Snapshots.Current!.Version, after);
    }

    [Fact]
    public async Task MetricsPath_IsNotShadowedByACatchAllRoute()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend" });

        var response = await Gateway.Client.GetAsync(Gateway.Url + "/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task Scrape_AnswersNoStore_SoNoCacheBetweenTheScraperAndTheGatewayServesOldCounters()
    {
        // Act
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/metrics");

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Scrape_IsNotCountedAsAProxiedRequest()
    {
        await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics");
        var metrics = await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics");

        Assert.Equal(0, metrics.Sum("apigate_requests_total"));
    }

    [Fact]
    public async Task ManyRoutes_EachKeepsItsOwnSeries_PastTheLimitOfFewSeriesInstruments()
    {
        // Arrange: more routes than an instrument with a small series limit may hold.
        var routes = GatewayMetrics.FewSeriesLimit + 6;
        for (var i = 0; i < routes; i++)
        {
            await Gateway.AddRouteAsync(new RouteInput { Name = $"r{i}", Path = $"/r{i}/*", Upstream = "backend" }, reload: false);
        }

        await Gateway.ReloadAsync();

        // Act
        for (var i = 0; i < routes; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + $"/r{i}/x")).StatusCode);
        }

        var metrics = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: routes);

        // Assert: one series per route, none folded into the overflow series.
        for (var i = 0; i < routes; i++)
        {
            Assert.Equal(1, metrics.Sum("apigate_requests_total", ("route", $"r{i}")));
            Assert.Equal(1, metrics.Sum("apigate_request_duration_seconds_count", ("route", $"r{i}")));
        }

        Assert.Empty(metrics.Find("apigate_requests_total", ("otel_metric_overflow", "true")));
    }

    [Fact]
    public async Task SeriesLimits_InstrumentsTaggedByRouteUpstreamOrTarget_KeepManySeries_OthersFew()
    {
        // Arrange: record which instruments of the gateway's meter carry which tags while traffic of every kind runs.
        var (key, _, _) = await Gateway.CreateKeyAsync("series@example.com", new PlanInput { Id = "one-per-minute", Name = "One", RateLimitPerMinute = 1 });
        var tagged = new System.Collections.Concurrent.ConcurrentDictionary<Instrument, bool>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GatewayMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Seen(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var perRoute = false;
            foreach (var tag in tags)
            {
                perRoute |= tag.Key is "route" or "upstream" or "target";
            }

            tagged.AddOrUpdate(instrument, perRoute, (_, before) => before | perRoute);
        }

        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Seen(instrument, tags));
        listener.SetMeasurementEventCallback<int>((instrument, _, tags, _) => Seen(instrument, tags));
        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Seen(instrument, tags));
        listener.Start();

        // Act
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/alpha/x")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync("/private/x", "ak_wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SendAsync("/private/x", key)).StatusCode);
        listener.RecordObservableInstruments();

        // Assert
        foreach (var name in new[] { "apigate.requests", "apigate.request.duration", "apigate.auth.failures", "apigate.rate_limit.rejections", "apigate.upstream.target.requests" })
        {
            Assert.Contains(tagged.Keys, i => i.Name == name);
        }

        Assert.All(tagged, seen => Assert.Equal(
            seen.Value ? GatewayMetrics.ManySeriesLimit : GatewayMetrics.FewSeriesLimit, GatewayMetrics.SeriesLimit(seen.Key)));
    }

    private async Task<HttpResponseMessage> SendAsync(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return await Gateway.Client.SendAsync(request);
    }


}

public sealed class MetricsDisabledTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.MetricsEnabled = false;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend" });
    }

    [Fact]
    public async Task MetricsDisabled_MetricsAnswers404_AndIsNotProxied()
    {
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/metrics");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("\"not_found\"", await response.Content.ReadAsStringAsync());
        Assert.Empty(Upstream.Received);
    }
}
