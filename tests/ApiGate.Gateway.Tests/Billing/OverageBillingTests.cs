using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>Overage units reach Stripe as meter events exactly once: through a crash between send and mark, and through Stripe outages.</summary>
public sealed class OverageBillingTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Overage_GatewayStoppedBetweenSendAndMark_ResentAfterRestartWithSameKeyAndBilledOnce(string engine)
    {
        // Arrange: a quota of 2 with overage; 5 requests make 3 overage units
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var key = await SetUpMeteredUserAsync(h, upstream, "over@example.com", "cus_over");
        var first = h.Gateway;
        Task? stopping = null;
        // Stripe takes the usage, then the gateway goes away before it hears back, so it never marks the row sent.
        h.Stripe.AfterMeterEvent = _ =>
        {
            if (stopping is not null)
            {
                return false;
            }

            stopping = Task.Run(first.StopAsync);
            return true;
        };

        // Act
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(h, key)).StatusCode);
        }

        await WaitUntilAsync(() => stopping is { IsCompleted: true });
        var afterCrash = await StatusAsync(h);
        await h.RestartAsync(stopping);
        await WaitUntilAsync(async () => (await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None)).SentRows == 1);

        // Assert
        Assert.Equal(1, afterCrash.GetProperty("totals").GetProperty("pending_rows").GetInt64());
        Assert.Equal(3, afterCrash.GetProperty("totals").GetProperty("pending_units").GetInt64());
        var sends = h.Stripe.To("/v1/billing/meter_events").ToList();
        Assert.Equal(2, sends.Count);
        Assert.Equal(sends[0].IdempotencyKey, sends[1].IdempotencyKey);
        Assert.Equal(sends[0].Form["identifier"], sends[1].Form["identifier"]);
        Assert.Equal(sends[0].IdempotencyKey, sends[0].Form["identifier"]);
        var billed = Assert.Single(h.Stripe.Billed);
        Assert.Equal("api_overage", billed.Form["event_name"]);
        Assert.Equal("cus_over", billed.Form["payload[stripe_customer_id]"]);
        Assert.Equal("3", billed.Form["payload[value]"]);
        var totals = await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None);
        Assert.Equal((0L, 0L, 1L, 3L), (totals.PendingRows, totals.PendingUnits, totals.SentRows, totals.SentUnits));
    }

    [Fact]
    public async Task Overage_StripeAnswers500_RetriedWithTheSameKeyThenMarkedSent()
    {
        // Arrange
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var key = await SetUpMeteredUserAsync(h, upstream, "retry@example.com", "cus_retry");
        h.Stripe.FailNext = ("/v1/billing/meter_events", 500);

        // Act
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(h, key)).StatusCode);
        }

        await WaitUntilAsync(async () => (await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None)).SentRows == 1);
        var status = await h.Gateway.CliAsync("billing", "status");

        // Assert
        var sends = h.Stripe.To("/v1/billing/meter_events").ToList();
        Assert.Equal(2, sends.Count);
        Assert.Equal(sends[0].IdempotencyKey, sends[1].IdempotencyKey);
        Assert.Equal("2", Assert.Single(h.Stripe.Billed).Form["payload[value]"]);
        var sent = Assert.Single(await h.Gateway.Store.ListOverageAsync(sent: true, 10, CancellationToken.None));
        Assert.Equal(2, sent.Attempts);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("sent", status.Output, StringComparison.Ordinal);
        Assert.Contains("2 unit(s) in 1 row(s)", status.Output, StringComparison.Ordinal);
        Assert.Contains(sent.Id, status.Output, StringComparison.Ordinal);
    }

    /// <summary>A plan with a quota of 2, overage and a meter; a billing customer on it, with a paying subscription and a key; a route to the upstream.</summary>
    private static async Task<string> SetUpMeteredUserAsync(BillingHarness h, TestUpstream upstream, string email, string customerId)
    {
        await h.CreatePlanAsync(new PlanInput
        {
            Id = "metered", Name = "Metered", RequestsPerMonth = 2, OveragePrice = 1,
            StripePriceId = "price_metered_base", StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        });
        await h.CreateCustomerAsync(email, customerId, plan: "metered", subscriptionStatus: "active");
        var key = await h.Gateway.Keys.CreateAsync(new KeyChanges { User = email }, CancellationToken.None);
        Assert.True(key.Ok, key.Error?.ToString());
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        return key.Value!.FullKey;
    }

    private static async Task<HttpResponseMessage> SendAsync(BillingHarness h, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, h.Gateway.Url + "/api/things");
        request.Headers.Add("X-API-Key", key);
        return await h.Gateway.Client.SendAsync(request);
    }

    private static async Task<JsonElement> StatusAsync(BillingHarness h)
    {
        var result = await h.Gateway.CliAsync("billing", "status", "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        return JsonDocument.Parse(result.Output).RootElement.Clone();
    }

    private static Task WaitUntilAsync(Func<bool> done) => WaitUntilAsync(() => Task.FromResult(done()));

    private static async Task WaitUntilAsync(Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(50);
        }
    }
}
