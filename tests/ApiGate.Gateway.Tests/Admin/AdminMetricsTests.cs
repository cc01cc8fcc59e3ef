using System.Net;
using ApiGate.Gateway.Tests.Observability;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Admin API requests are counted by method and status class, refusals included.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class AdminMetricsTests : AdminTestBase
{
    [Fact]
    public async Task AdminRequests_AdmittedAndRefused_AreCountedByMethodAndStatusClass()
    {
        // Arrange + Act: two reads, one refused credential, one invalid create
        AssertData(await GetAsync("/upstreams"));
        AssertData(await GetAsync("/routes"));
        AssertError(await SendAsync(HttpMethod.Get, "/plans", token: "agt_" + new string('1', 64)), HttpStatusCode.Unauthorized, "unauthorized");
        AssertError(await PostAsync("/upstreams", new { name = "" }), HttpStatusCode.UnprocessableEntity, "validation_error");
        var metrics = await PrometheusText.ScrapeUntilAsync(Gateway.Client, Gateway.Url + "/metrics", "apigate_admin_requests_total", 4);

        // Assert
        Assert.Equal(2, metrics.Sum("apigate_admin_requests_total", ("method", "GET"), ("status_class", "2xx")));
        Assert.Equal(1, metrics.Sum("apigate_admin_requests_total", ("method", "GET"), ("status_class", "4xx")));
        Assert.Equal(1, metrics.Sum("apigate_admin_requests_total", ("method", "POST"), ("status_class", "4xx")));
        Assert.Equal(0, metrics.Sum("apigate_requests_total")); // admin requests are not proxied requests
    }
}
