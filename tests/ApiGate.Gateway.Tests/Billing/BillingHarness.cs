using System.Net;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Gateway.Billing;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// A gateway with billing on (Stripe.net pointed at a <see cref="FakeStripe"/>), on SQLite or PostgreSQL, with plans
/// <c>free</c> (the default plan every new store has), <c>pro</c> (<c>price_pro</c>) and <c>team</c> (<c>price_team</c>), and signed webhook posts.
/// </summary>
internal sealed class BillingHarness : IAsyncDisposable
{
    public const string WebhookSecret = "whsec_test_secret_for_signatures";

    private readonly string _engine;
    private readonly string _dsn;
    private readonly string _paymentFailed;
    private readonly CapturedLog? _log;
    private readonly Action<GatewayOptions>? _configure;

    private BillingHarness(FakeStripe stripe, string engine, string dsn, string paymentFailed, CapturedLog? log, Action<GatewayOptions>? configure)
    {
        Stripe = stripe;
        _engine = engine;
        _dsn = dsn;
        _paymentFailed = paymentFailed;
        _log = log;
        _configure = configure;
    }

    public FakeStripe Stripe { get; }

    public TestGateway Gateway { get; private set; } = null!;

    /// <param name="log">Where the gateway's log goes (JSON lines, warnings and up), when the test reads it.</param>
    /// <param name="configure">Settings of the test's own (e.g. a JWT issuer) applied to every gateway the harness starts.</param>
    public static async Task<BillingHarness> StartAsync(
        StoreEngines engines, string engine, string paymentFailed = "suspend", CapturedLog? log = null, Action<GatewayOptions>? configure = null)
    {
        var stripe = await FakeStripe.StartAsync();
        stripe.Prices.UnionWith(["price_pro", "price_team", "price_metered", "price_metered_base"]);
        var dsn = engine == GatewayStores.Postgres ? await engines.NewDsnAsync(engine) : "";
        var harness = new BillingHarness(stripe, engine, dsn, paymentFailed, log, configure);
        harness.Gateway = await harness.StartGatewayAsync(null);
        await harness.CreatePlanAsync(new PlanInput { Id = "pro", Name = "Pro", RequestsPerMonth = 1000, PriceMonthly = 2900, StripePriceId = "price_pro" });
        await harness.CreatePlanAsync(new PlanInput { Id = "team", Name = "Team", RequestsPerMonth = 5000, PriceMonthly = 9900, StripePriceId = "price_team" });
        return harness;
    }

    /// <summary>
    /// Starts a gateway on this harness's store (the same SQLite directory or PostgreSQL schema each time); on PostgreSQL
    /// one more gateway started beside <see cref="Gateway"/> shares its database as a second instance does.
    /// </summary>
    /// <param name="configure">Settings for this gateway only, applied after the harness's own.</param>
    public Task<TestGateway> StartGatewayAsync(string? directory, Action<GatewayOptions>? configure = null) =>
        TestGateway.StartAsync(o =>
        {
            Stripe.BillWith(o);
            o.BillingPaymentFailed = _paymentFailed;
            _log?.TakeJsonFrom(o, "warn");
            if (_engine == GatewayStores.Postgres)
            {
                o.DatabaseDriver = GatewayStores.Postgres;
                o.DatabaseDsn = _dsn;
            }

            _configure?.Invoke(o);
            configure?.Invoke(o);
        }, directory, services: s => s.AddSingleton(new OverageReporterOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(100),
            Lease = TimeSpan.FromSeconds(2),
            FirstBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = TimeSpan.FromSeconds(1),
        }));

    /// <summary>Stops the gateway and starts another on the same store.</summary>
    public async Task RestartAsync(Task? stopping = null)
    {
        if (stopping is not null)
        {
            await stopping;
        }

        await Gateway.StopAsync();
        Gateway = await StartGatewayAsync(Gateway.Directory);
    }

    public async Task CreatePlanAsync(PlanInput plan)
    {
        var created = await Gateway.Plans.CreateAsync(plan, CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
    }

    /// <summary>
    /// A plan priced 0 a month with a quota of <paramref name="requestsPerMonth"/> and overage at 1 cent billed through
    /// the metered price <c>price_metered</c> (meter <c>api_overage</c>): only a paying subscriber gets past its quota.
    /// </summary>
    public Task CreatePaygPlanAsync(long requestsPerMonth, bool isDefault = false, string id = "payg", string name = "Pay as you go") =>
        CreatePlanAsync(new PlanInput
        {
            Id = id, Name = name, PriceMonthly = 0, RequestsPerMonth = requestsPerMonth, OveragePrice = 1, Visible = true, IsDefault = isDefault,
            StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        });

    /// <summary>
    /// A user on the default plan who is billing customer <paramref name="customerId"/>, with subscription <c>sub_</c> +
    /// <paramref name="customerId"/> in <paramref name="subscriptionStatus"/> when given (else none).
    /// </summary>
    public async Task<string> CreateCustomerAsync(string email, string customerId, string plan = "free", string subscriptionStatus = "")
    {
        var user = await Gateway.Users.CreateAsync(new UserChanges { Email = email, Plan = plan }, CancellationToken.None);
        Assert.True(user.Ok, user.Error?.ToString());
        var subscription = subscriptionStatus.Length > 0 ? "sub_" + customerId : "";
        await Gateway.Store.AddBillingCustomerAsync(
            new BillingCustomer(user.Value!.Id, "stripe", customerId, subscription, subscriptionStatus, 0, 0, false, DateTimeOffset.UtcNow), CancellationToken.None);
        return user.Value.Id;
    }

    /// <summary>An outgoing webhook endpoint for <paramref name="events"/> (nothing listens at its URL: its deliveries are only recorded); returns its id.</summary>
    public async Task<string> CreateWebhookEndpointAsync(params string[] events)
    {
        var endpoint = await new WebhookService(Gateway.Store, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = events }, CancellationToken.None);
        Assert.True(endpoint.Ok, endpoint.Error?.ToString());
        return endpoint.Value!.Endpoint.Id;
    }

    public async Task<Core.Identity.UserDefinition> UserAsync(string id) => (await Gateway.Store.FindUserAsync(id, CancellationToken.None))!;

    /// <summary>Posts a webhook body signed with <paramref name="secret"/> at <paramref name="signedAt"/> (now when null).</summary>
    public Task<(HttpStatusCode Status, JsonElement Body)> PostWebhookAsync(string payload, string? secret = null, DateTimeOffset? signedAt = null) =>
        PostWebhookAsync(Gateway, payload, secret, signedAt);

    /// <summary>Posts a webhook body to <paramref name="gateway"/>'s Stripe endpoint, signed as Stripe would (with <see cref="WebhookSecret"/> unless given).</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body)> PostWebhookAsync(TestGateway gateway, string payload, string? secret = null, DateTimeOffset? signedAt = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url + "/billing/stripe/webhook")
        {
            Content = new StringContent(payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Stripe-Signature", StripeSignature.Sign(payload, secret ?? WebhookSecret, (signedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds()));
        using var response = await gateway.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>A new admin token for the admin API's billing endpoints.</summary>
    public async Task<string> AdminTokenAsync()
    {
        var created = await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("billing-tests", CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        return created.Value!.Token;
    }

    /// <summary>Posts <paramref name="body"/> as JSON to the admin API at <c>/admin</c> + <paramref name="path"/>.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Json)> PostAdminAsync(string token, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/admin" + path)
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await Gateway.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>Gets <c>/admin</c> + <paramref name="path"/> from the admin API.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Json)> GetAdminAsync(string token, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/admin" + path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await Gateway.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Stripe.DisposeAsync();
    }
}

/// <summary>Stripe event bodies as Stripe sends them (the fields billing reads, and the envelope Stripe.net parses).</summary>
internal static class StripeEvents
{
    public static string Subscription(string eventId, string type, long created, string subscriptionId, string customer, string status, long subscriptionCreated, params string[] prices) =>
        Subscription(eventId, type, created, subscriptionId, customer, status, subscriptionCreated, new Dictionary<string, string>(), prices);

    /// <summary>A subscription event whose subscription carries <paramref name="metadata"/> (a checkout's <c>apigate_user</c> / <c>apigate_plan</c>).</summary>
    public static string Subscription(
        string eventId, string type, long created, string subscriptionId, string customer, string status, long subscriptionCreated, Dictionary<string, string> metadata,
        params string[] prices) =>
        Envelope(eventId, type, created, new
        {
            id = subscriptionId,
            @object = "subscription",
            customer,
            status,
            created = subscriptionCreated,
            metadata,
            items = new
            {
                @object = "list",
                data = prices.Select((p, i) => new { id = $"si_{i}", @object = "subscription_item", price = new { id = p, @object = "price" } }).ToArray(),
            },
        });

    /// <summary>A subscription checkout that completed (its <c>client_reference_id</c> <paramref name="userId"/> unless <paramref name="clientReferenceId"/> says otherwise) (<paramref name="paymentStatus"/> <c>unpaid</c>: a bank debit still clearing), or another checkout event.</summary>
    public static string CheckoutCompleted(
        string eventId, long created, string customer, string subscriptionId, string userId, string planId, string paymentStatus = "paid",
        string type = "checkout.session.completed", string? clientReferenceId = null) =>
        Envelope(eventId, type, created, new
        {
            id = "cs_test_" + eventId,
            @object = "checkout.session",
            mode = "subscription",
            payment_status = paymentStatus,
            customer,
            subscription = subscriptionId,
            client_reference_id = clientReferenceId ?? userId,
            metadata = new Dictionary<string, string> { ["apigate_user"] = userId, ["apigate_plan"] = planId },
        });

    public static string PaymentFailed(string eventId, long created, string customer, string? subscriptionId = null) =>
        Envelope(eventId, "invoice.payment_failed", created, subscriptionId is null
            ? new { id = "in_" + eventId, @object = "invoice", customer, status = "open" }
            : new
            {
                id = "in_" + eventId,
                @object = "invoice",
                customer,
                status = "open",
                parent = new { type = "subscription_details", subscription_details = new { subscription = subscriptionId } },
            });

    private static string Envelope(string eventId, string type, long created, object data) =>
        JsonSerializer.Serialize(new { id = eventId, @object = "event", api_version = "2025-09-30.clover", created, livemode = false, type, data = new { @object = data } });
}
