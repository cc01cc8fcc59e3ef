using System.Net;
using ApiGate.Core.Billing;
using Stripe;

namespace ApiGate.Gateway.Billing;

/// <summary>
/// <see cref="IBillingProvider"/> through Stripe.net: customers, Checkout Sessions in subscription mode (one left open per
/// customer), Billing Portal sessions, webhooks verified with <see cref="EventUtility.ValidateSignature(string, string, string, long, long)"/>
/// (HMAC-SHA256 over <c>timestamp.payload</c>, 5 minutes' tolerance, against the injected clock), and overage as Billing
/// Meter Events. Stripe.net's own network retries are off: the overage reporter and the caller retry, with the same
/// idempotency keys.
/// </summary>
internal sealed class StripeBillingProvider : IBillingProvider, IDisposable
{
    /// <summary>Stripe's default signature tolerance: a webhook signed longer ago than this is refused (replay protection).</summary>
    public const long ToleranceSeconds = 300;

    private readonly HttpClient _http;
    private readonly StripeClient _client;
    private readonly string _webhookSecret;
    private readonly TimeProvider _timeProvider;

    public StripeBillingProvider(string secretKey, string webhookSecret, string apiBase, TimeProvider timeProvider)
    {
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var http = new SystemNetHttpClient(_http, maxNetworkRetries: 0);
        var baseUrl = apiBase.Length == 0 ? null : apiBase.TrimEnd('/');
        _client = new StripeClient(secretKey, null, http, baseUrl, null, null, baseUrl);
        _webhookSecret = webhookSecret;
        _timeProvider = timeProvider;
    }

    public string Name => BillingSetup.Stripe;

    public Task<string> CreateCustomerAsync(string userId, string email, string name, string idempotencyKey, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var options = new CustomerCreateOptions
            {
                Email = email,
                Name = name.Length == 0 ? null : name,
                Metadata = new Dictionary<string, string> { ["apigate_user"] = userId },
            };
            var customer = await new CustomerService(_client).CreateAsync(options, new RequestOptions { IdempotencyKey = idempotencyKey }, cancellationToken);
            return customer.Id;
        });

    public Task<BillingRedirect> CreateCheckoutAsync(CheckoutRequest request, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var metadata = new Dictionary<string, string> { ["apigate_user"] = request.UserId, ["apigate_plan"] = request.PlanId };
            var items = new List<Stripe.Checkout.SessionLineItemOptions>(2);
            if (request.PriceId.Length > 0)
            {
                items.Add(new Stripe.Checkout.SessionLineItemOptions { Price = request.PriceId, Quantity = 1 });
            }

            // A plan priced 0 a month has no monthly price: its subscription is the metered price alone, which Stripe takes.
            if (request.OveragePriceId.Length > 0)
            {
                items.Add(new Stripe.Checkout.SessionLineItemOptions { Price = request.OveragePriceId }); // metered: no quantity
            }

            var options = new Stripe.Checkout.SessionCreateOptions
            {
                Mode = "subscription",
                Customer = request.CustomerId,
                ClientReferenceId = request.UserId,
                SuccessUrl = request.SuccessUrl,
                CancelUrl = request.CancelUrl,
                LineItems = items,
                Metadata = metadata,
                SubscriptionData = new Stripe.Checkout.SessionSubscriptionDataOptions { Metadata = new Dictionary<string, string>(metadata) },
            };
            var session = await new Stripe.Checkout.SessionService(_client).CreateAsync(options, new RequestOptions { IdempotencyKey = request.IdempotencyKey }, cancellationToken);
            return new BillingRedirect(session.Id, session.Url);
        });

    public Task ExpireOtherCheckoutsAsync(string customerId, string keepId, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var sessions = new Stripe.Checkout.SessionService(_client);
            var open = new List<string>();
            await foreach (var session in sessions.ListAutoPagingAsync(
                               new Stripe.Checkout.SessionListOptions { Customer = customerId, Status = "open", Limit = 100 }, null, cancellationToken))
            {
                if (session.Id != keepId)
                {
                    open.Add(session.Id);
                }
            }

            foreach (var id in open)
            {
                try
                {
                    await sessions.ExpireAsync(id, null, null, cancellationToken);
                }
                catch (StripeException ex) when (ex.HttpStatusCode == HttpStatusCode.BadRequest)
                {
                    // No longer open (completed or expired since it was listed): nothing left to close.
                }
            }

            return true;
        });

    public Task<BillingRedirect> CreatePortalSessionAsync(string customerId, string returnUrl, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var session = await new Stripe.BillingPortal.SessionService(_client).CreateAsync(
                new Stripe.BillingPortal.SessionCreateOptions { Customer = customerId, ReturnUrl = returnUrl }, null, cancellationToken);
            return new BillingRedirect(session.Id, session.Url);
        });

    public Task ReportUsageAsync(UsageReport report, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var options = new Stripe.Billing.MeterEventCreateOptions
            {
                EventName = report.MeterEvent,
                // Stripe also de-duplicates meter events by identifier; the idempotency key covers a retried request.
                Identifier = report.Identifier,
                Timestamp = report.Timestamp.UtcDateTime,
                Payload = new Dictionary<string, string>
                {
                    ["stripe_customer_id"] = report.CustomerId,
                    ["value"] = report.Units.ToString(System.Globalization.CultureInfo.InvariantCulture),
                },
            };
            await new Stripe.Billing.MeterEventService(_client).CreateAsync(options, new RequestOptions { IdempotencyKey = report.Identifier }, cancellationToken);
            return true;
        });

    public BillingEvent ReadWebhook(string payload, string signatureHeader)
    {
        try
        {
            EventUtility.ValidateSignature(payload, signatureHeader, _webhookSecret, ToleranceSeconds, _timeProvider.GetUtcNow().ToUnixTimeSeconds());
        }
        catch (StripeException ex)
        {
            // Stripe.net's messages say which check failed (no signature, bad signature, timestamp outside tolerance) and hold no secret.
            throw new BillingWebhookException(ex.Message, ex);
        }
        catch (Exception ex) when (ex is OverflowException or FormatException or ArgumentException)
        {
            // Stripe.net reads t= as a 32-bit number: a larger one (a forged or garbled header) throws before any check.
            // Checked apart from the body, so the refusal names the header, not "the body is not a Stripe event".
            throw new BillingWebhookException("the Stripe-Signature header's timestamp (t=) is not a Unix time Stripe sends", ex);
        }

        Event e;
        try
        {
            e = EventUtility.ParseEvent(payload, throwOnApiVersionMismatch: false);
        }
        catch (StripeException ex)
        {
            throw new BillingWebhookException(ex.Message, ex);
        }
        catch (Exception ex) when (ex is Newtonsoft.Json.JsonException or System.Text.Json.JsonException or FormatException or ArgumentException
                                       or InvalidOperationException or OverflowException)
        {
            throw new BillingWebhookException("the body is not a Stripe event", ex);
        }

        if (string.IsNullOrEmpty(e.Id) || string.IsNullOrEmpty(e.Type))
        {
            // Every Stripe event has both; without an id an event cannot be processed once (nor recorded at all).
            throw new BillingWebhookException("the body is not a Stripe event (no id or type)");
        }

        if (MetadataBeyondStripe(e.Data?.Object) is { } metadata)
        {
            throw new BillingWebhookException(metadata);
        }

        var created = UnixSeconds(e.Created);
        return e.Data?.Object switch
        {
            // A checkout paid by a delayed method (a bank debit) completes unpaid; its async_payment_succeeded says it is paid.
            Stripe.Checkout.Session s when e.Type is EventTypes.CheckoutSessionCompleted or EventTypes.CheckoutSessionAsyncPaymentSucceeded && s.Mode == "subscription" =>
                CheckoutEvent(e, s, BillingEventKind.CheckoutCompleted, s.PaymentStatus == "unpaid" ? SubscriptionOrdering.NeverPaid : "active"),
            // Its bank debit failed: the incomplete subscription that checkout recorded is dropped.
            Stripe.Checkout.Session s when e.Type == EventTypes.CheckoutSessionAsyncPaymentFailed && s.Mode == "subscription" =>
                CheckoutEvent(e, s, BillingEventKind.CheckoutPaymentFailed, SubscriptionOrdering.CheckoutPaymentFailed),
            Subscription sub when e.Type is EventTypes.CustomerSubscriptionUpdated or EventTypes.CustomerSubscriptionCreated or EventTypes.CustomerSubscriptionDeleted =>
                new BillingEvent(e.Id, e.Type, e.Type == EventTypes.CustomerSubscriptionDeleted ? BillingEventKind.SubscriptionDeleted : BillingEventKind.SubscriptionUpdated,
                    created, sub.CustomerId ?? "", sub.Id, sub.Status ?? "", UnixSeconds(sub.Created), PricesOf(sub), Meta(sub.Metadata, "apigate_user"), Meta(sub.Metadata, "apigate_plan")),
            Invoice invoice when e.Type == EventTypes.InvoicePaymentFailed =>
                new BillingEvent(e.Id, e.Type, BillingEventKind.PaymentFailed, created, invoice.CustomerId ?? "",
                    invoice.Parent?.SubscriptionDetails?.SubscriptionId ?? "", "", 0, [], "", ""),
            _ => new BillingEvent(e.Id, e.Type, BillingEventKind.Other, created, "", "", "", 0, [], "", ""),
        };
    }

    public void Dispose() => _http.Dispose();

    private static IReadOnlyList<string> PricesOf(Subscription subscription)
    {
        var prices = new List<string>();
        foreach (var item in subscription.Items?.Data ?? [])
        {
            if (item.Price?.Id is { Length: > 0 } price)
            {
                prices.Add(price);
            }
        }

        return prices;
    }

    private static BillingEvent CheckoutEvent(Event e, Stripe.Checkout.Session session, BillingEventKind kind, string status) =>
        new(e.Id, e.Type, kind, UnixSeconds(e.Created), session.CustomerId ?? "", session.SubscriptionId ?? "", status, 0, [],
            session.ClientReferenceId ?? Meta(session.Metadata, "apigate_user"), Meta(session.Metadata, "apigate_plan"));

    /// <summary>Stripe's bounds for an object's metadata (docs.stripe.com/metadata): at most 50 keys, a key at most 40 characters, a value at most 500.</summary>
    public const int MaxMetadataKeys = 50;

    /// <inheritdoc cref="MaxMetadataKeys"/>
    public const int MaxMetadataKeyLength = 40;

    /// <summary>
    /// Why the metadata of the event's object (a subscription or checkout; what billing reads its user and plan from) is
    /// beyond what Stripe stores, or null when it is not or the object has none. The values are stored and logged only
    /// through the user and plan, but a body Stripe could not have sent is refused as a whole.
    /// </summary>
    private static string? MetadataBeyondStripe(IHasObject? data)
    {
        var metadata = data switch
        {
            Subscription s => s.Metadata,
            Stripe.Checkout.Session s => s.Metadata,
            _ => null,
        };
        if (metadata is null)
        {
            return null;
        }

        if (metadata.Count > MaxMetadataKeys)
        {
            return $"the event's metadata has more than {MaxMetadataKeys} keys, the most Stripe stores";
        }

        foreach (var (key, value) in metadata)
        {
            if (key.Length > MaxMetadataKeyLength)
            {
                return $"the event's metadata has a key longer than {MaxMetadataKeyLength} characters, the most Stripe stores";
            }

            if (value?.Length > Core.Management.BillingService.MaxMetadataValueLength)
            {
                var named = key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? $" (key '{key}')" : "";
                return $"the event's metadata has a value{named} longer than {Core.Management.BillingService.MaxMetadataValueLength} characters, the most Stripe stores";
            }
        }

        return null;
    }

    private static string Meta(Dictionary<string, string>? metadata, string key) => metadata?.GetValueOrDefault(key) ?? "";

    private static long UnixSeconds(DateTime time) => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)).ToUnixTimeSeconds();

    /// <summary>Runs a Stripe call; its failures become <see cref="BillingProviderException"/> with Stripe's own explanation.</summary>
    private static async Task<T> CallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (StripeException ex)
        {
            var status = ex.HttpStatusCode;
            var detail = ex.StripeError?.Message is { Length: > 0 } m ? m : ex.Message;
            var failure = status switch
            {
                HttpStatusCode.PaymentRequired => BillingFailure.Declined,
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => BillingFailure.Unauthorized,
                HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Conflict => BillingFailure.InvalidRequest,
                _ => BillingFailure.Unavailable,
            };
            throw new BillingProviderException(failure, $"Stripe answered {(int)status}: {detail}", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new BillingProviderException(BillingFailure.Unavailable, "Stripe could not be reached: " + ex.Message, ex);
        }
        catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            throw new BillingProviderException(BillingFailure.Unavailable, "Stripe did not answer in time", ex);
        }
    }
}
