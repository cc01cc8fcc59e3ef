namespace ApiGate.Core.Billing;

/// <summary>
/// A payment provider (Stripe now; Paddle or Lemon Squeezy could implement it): customers, subscription checkout, the
/// provider's self-service portal, verified webhooks and metered usage. Failures throw <see cref="BillingProviderException"/>
/// with a message fit for the operator (never a secret).
/// </summary>
public interface IBillingProvider
{
    /// <summary>The provider's name as settings and records spell it (<c>stripe</c>).</summary>
    string Name { get; }

    /// <summary>Creates the customer for a user; the idempotency key makes a retried call create one customer.</summary>
    Task<string> CreateCustomerAsync(string userId, string email, string name, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>A hosted checkout page that starts a subscription to the plan's prices.</summary>
    Task<BillingRedirect> CreateCheckoutAsync(CheckoutRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Closes the customer's checkout pages still open other than <paramref name="keepId"/> (the one just created), so
    /// that none of them can be paid any more: each would start a subscription of its own, billed alongside the others.
    /// </summary>
    Task ExpireOtherCheckoutsAsync(string customerId, string keepId, CancellationToken cancellationToken);

    /// <summary>A session of the provider's billing portal (payment methods, invoices) that returns to <paramref name="returnUrl"/>.</summary>
    Task<BillingRedirect> CreatePortalSessionAsync(string customerId, string returnUrl, CancellationToken cancellationToken);

    /// <summary>Verifies a webhook's signature and timestamp and reads it; throws <see cref="BillingWebhookException"/> when it is not genuine or not readable.</summary>
    BillingEvent ReadWebhook(string payload, string signatureHeader);

    /// <summary>Reports metered usage; <see cref="UsageReport.Identifier"/> is the idempotency key, so a repeat bills nothing more.</summary>
    Task ReportUsageAsync(UsageReport report, CancellationToken cancellationToken);
}

/// <summary>
/// What a checkout session is created for: the plan's monthly price (<see cref="PriceId"/>) and its metered overage price
/// (<see cref="OveragePriceId"/>), either of them empty when the plan has none, never both (a plan priced 0 a month is
/// subscribed to with its metered price alone).
/// </summary>
public sealed record CheckoutRequest(
    string CustomerId,
    string UserId,
    string PlanId,
    string PriceId,
    string OveragePriceId,
    string SuccessUrl,
    string CancelUrl,
    string IdempotencyKey);

/// <summary>Where to send the user: the provider's session id and its page.</summary>
public sealed record BillingRedirect(string Id, string Url);

/// <summary>Units of metered usage for one customer.</summary>
public sealed record UsageReport(string CustomerId, string MeterEvent, long Units, DateTimeOffset Timestamp, string Identifier);

/// <summary>Why a provider call failed.</summary>
public enum BillingFailure
{
    /// <summary>The provider refused the request's content (an unknown price id, a bad parameter).</summary>
    InvalidRequest,

    /// <summary>The payment was declined (HTTP 402).</summary>
    Declined,

    /// <summary>The provider refused the credentials.</summary>
    Unauthorized,

    /// <summary>The provider could not be reached or failed (5xx, timeouts, rate limits): retry later.</summary>
    Unavailable,
}

/// <summary>A provider call that failed; <see cref="Exception.Message"/> is fit for the operator and holds no secret.</summary>
public sealed class BillingProviderException(BillingFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public BillingFailure Failure { get; } = failure;
}

/// <summary>A webhook that is not genuine (signature, timestamp) or not readable.</summary>
public sealed class BillingWebhookException(string message, Exception? inner = null) : Exception(message, inner);
