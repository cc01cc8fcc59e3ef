using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// A stand-in for Stripe's API on a loopback port, answering the calls billing makes (customers, Checkout Sessions,
/// Billing Portal sessions, Billing Meter Events; Checkout Sessions also listed and expired) with Stripe's JSON shapes and errors, recording every request, and
/// honouring <c>Idempotency-Key</c> as Stripe does: a repeated key gets the first answer again and has no new effect.
/// </summary>
internal sealed class FakeStripe : IAsyncDisposable
{
    public const string SecretKey = "sk_test_fake_0123456789";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, (int Status, string Body)> _idempotent = new();
    private int _ids;

    private FakeStripe(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The base URL to give <c>APIGATE_STRIPE_API_BASE</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Turns billing on in <paramref name="options"/> against this stand-in (its key, the harness's webhook secret).</summary>
    public void BillWith(Configuration.GatewayOptions options)
    {
        options.BillingProvider = "stripe";
        options.StripeSecretKey = SecretKey;
        options.StripeWebhookSecret = BillingHarness.WebhookSecret;
        options.StripeApiBase = Url;
    }

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<StripeRequest> Requests { get; } = new();

    /// <summary>Meter events that took effect (one per idempotency key): what Stripe would bill.</summary>
    public ConcurrentQueue<StripeRequest> Billed { get; } = new();

    /// <summary>Every Checkout Session created, by id: its customer and status (<c>open</c>, or <c>expired</c> once expired).</summary>
    public ConcurrentDictionary<string, (string Customer, string Status)> CheckoutSessions { get; } = new();

    /// <summary>Prices that exist; a checkout naming another gets Stripe's 400 <c>resource_missing</c>.</summary>
    public HashSet<string> Prices { get; } = [];

    /// <summary>When set, the next call to this path fails with this status (402 card declined, 500 API error) once.</summary>
    public (string Path, int Status)? FailNext { get; set; }

    /// <summary>
    /// Called after a meter event has taken effect and before it is answered; when it returns true the answer is held
    /// until the caller goes away (the gateway is stopped between Stripe receiving the usage and the gateway marking it sent).
    /// </summary>
    public Func<StripeRequest, bool>? AfterMeterEvent { get; set; }

    public static async Task<FakeStripe> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var fake = new FakeStripe(app);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        fake.Url = app.Urls.First();
        return fake;
    }

    /// <summary>The posts to <paramref name="path"/> (what the gateway created there; a list of the same path is a GET).</summary>
    public IEnumerable<StripeRequest> To(string path) => Requests.Where(r => r.Path == path && r.Method == "POST");

    private async Task HandleAsync(HttpContext context)
    {
        // A GET (a list) has its parameters in the query, as Stripe.net sends them.
        var form = context.Request.HasFormContentType
            ? (await context.Request.ReadFormAsync()).ToDictionary(p => p.Key, p => p.Value.ToString())
            : context.Request.Query.ToDictionary(p => p.Key, p => p.Value.ToString());
        var request = new StripeRequest(context.Request.Method, context.Request.Path.Value ?? "", form,
            context.Request.Headers["Idempotency-Key"].ToString(), context.Request.Headers.Authorization.ToString());
        Requests.Enqueue(request);

        if (request.Authorization != "Bearer " + SecretKey)
        {
            await AnswerAsync(context, 401, Error("invalid_request_error", null, "Invalid API Key provided"));
            return;
        }

        if (request.IdempotencyKey.Length > 0 && _idempotent.TryGetValue(request.IdempotencyKey, out var replay))
        {
            context.Response.Headers["Idempotent-Replayed"] = "true";
            await AnswerAsync(context, replay.Status, replay.Body);
            return;
        }

        var (status, body) = Respond(request);
        if (request.IdempotencyKey.Length > 0 && status < 500)
        {
            _idempotent[request.IdempotencyKey] = (status, body); // Stripe keeps results, not 5xx answers
        }

        if (request.Path == "/v1/billing/meter_events" && status == 200)
        {
            Billed.Enqueue(request);
            if (AfterMeterEvent?.Invoke(request) == true)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                }

                return;
            }
        }

        await AnswerAsync(context, status, body);
    }

    private (int Status, string Body) Respond(StripeRequest r)
    {
        if (FailNext is { } fail && fail.Path == r.Path)
        {
            FailNext = null;
            return fail.Status == 402
                ? (402, Error("card_error", "card_declined", "Your card was declined."))
                : (fail.Status, Error("api_error", null, "An unknown error occurred"));
        }

        var n = Interlocked.Increment(ref _ids);
        switch (r.Path)
        {
            case "/v1/customers":
                return (200, JsonSerializer.Serialize(new { id = $"cus_fake{n}", @object = "customer", email = r.Form.GetValueOrDefault("email") }));
            case "/v1/checkout/sessions" when r.Method == "GET":
                var listed = CheckoutSessions
                    .Where(c => c.Value.Customer == r.Form.GetValueOrDefault("customer") && c.Value.Status == r.Form.GetValueOrDefault("status", c.Value.Status))
                    .Select(c => CheckoutSession(c.Key, c.Value.Customer, c.Value.Status))
                    .ToArray();
                return (200, JsonSerializer.Serialize(new { @object = "list", url = "/v1/checkout/sessions", has_more = false, data = listed }));
            case var expire when expire.StartsWith("/v1/checkout/sessions/", StringComparison.Ordinal) && expire.EndsWith("/expire", StringComparison.Ordinal):
                var id = expire["/v1/checkout/sessions/".Length..^"/expire".Length];
                if (!CheckoutSessions.TryGetValue(id, out var expiring))
                {
                    return (404, Error("invalid_request_error", "resource_missing", $"No such checkout.session: '{id}'"));
                }

                if (expiring.Status != "open" || !CheckoutSessions.TryUpdate(id, (expiring.Customer, "expired"), expiring))
                {
                    return (400, Error("invalid_request_error", null, "Only Checkout Sessions with a status in [\"open\"] can be expired."));
                }

                return (200, JsonSerializer.Serialize(CheckoutSession(id, expiring.Customer, "expired")));
            case "/v1/checkout/sessions":
                foreach (var (key, value) in r.Form)
                {
                    if (key.EndsWith("[price]", StringComparison.Ordinal) && !Prices.Contains(value))
                    {
                        return (400, Error("invalid_request_error", "resource_missing", $"No such price: '{value}'", key));
                    }
                }

                CheckoutSessions[$"cs_test_fake{n}"] = (r.Form.GetValueOrDefault("customer") ?? "", "open");
                return (200, JsonSerializer.Serialize(CheckoutSession($"cs_test_fake{n}", r.Form.GetValueOrDefault("customer") ?? "", "open")));
            case "/v1/billing_portal/sessions":
                return (200, JsonSerializer.Serialize(new
                {
                    id = $"bps_fake{n}", @object = "billing_portal.session", customer = r.Form.GetValueOrDefault("customer"),
                    url = $"https://billing.stripe.com/p/session/test_fake{n}",
                }));
            case "/v1/billing/meter_events":
                return (200, JsonSerializer.Serialize(new
                {
                    @object = "billing.meter_event", event_name = r.Form.GetValueOrDefault("event_name"), identifier = r.Form.GetValueOrDefault("identifier"),
                    livemode = false, created = 1_700_000_000,
                    payload = new Dictionary<string, string?>
                    {
                        ["stripe_customer_id"] = r.Form.GetValueOrDefault("payload[stripe_customer_id]"), ["value"] = r.Form.GetValueOrDefault("payload[value]"),
                    },
                    timestamp = long.Parse(r.Form.GetValueOrDefault("timestamp") ?? "0", System.Globalization.CultureInfo.InvariantCulture),
                }));
            default:
                return (404, Error("invalid_request_error", null, $"Unrecognized request URL (POST: {r.Path})."));
        }
    }

    private static object CheckoutSession(string id, string customer, string status) =>
        new { id, @object = "checkout.session", mode = "subscription", customer, status, url = $"https://checkout.stripe.com/c/pay/{id}" };

    private static string Error(string type, string? code, string message, string? param = null) =>
        JsonSerializer.Serialize(new { error = new { type, code, message, param } });

    private static Task AnswerAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        await _app.DisposeAsync();
    }
}

/// <summary>One request to <see cref="FakeStripe"/>: the form fields as Stripe.net encodes them (<c>line_items[0][price]</c>).</summary>
internal sealed record StripeRequest(string Method, string Path, Dictionary<string, string> Form, string IdempotencyKey, string Authorization);
