using ApiGate.Core.Billing;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;

namespace ApiGate.Core.Management;

/// <summary>
/// Billing (SPEC §15, docs/billing.md): starts a checkout for a user and a plan, opens the provider's billing portal, and
/// applies the provider's verified webhooks. The plan changes only on the provider's confirmation (a webhook), in one
/// store transaction with the event's id, so a replayed event changes nothing. The admin API and the portal call this.
/// </summary>
public sealed class BillingService(
    IBillingProvider? provider, IIdentityStore identity, IBillingStore billing, TimeProvider timeProvider, PaymentFailedAction paymentFailed)
{
    /// <summary>True when a provider is configured (<c>APIGATE_BILLING_PROVIDER</c> is not <c>none</c>).</summary>
    public bool Enabled => provider is not null;

    /// <summary>
    /// A checkout page where the user subscribes to the plan (creating their billing customer first, once); the user's
    /// earlier checkout pages still open are closed, so only this one can be paid. The user's plan does not change here:
    /// it changes when the provider's <c>checkout.session.completed</c> webhook arrives.
    /// </summary>
    public async Task<ManagementResult<BillingRedirect>> StartCheckoutAsync(string userRef, string planId, string successUrl, string cancelUrl, CancellationToken ct)
    {
        if (provider is null)
        {
            return Off();
        }

        if ((BadReturnUrl("success_url", successUrl) ?? BadReturnUrl("cancel_url", cancelUrl)) is { } urlProblem)
        {
            return urlProblem;
        }

        var user = await identity.FindUserAsync(userRef.Trim(), ct);
        if (user is null)
        {
            return new ManagementError(ManagementErrorKind.NotFound, "user", $"no user with id or email '{userRef}'");
        }

        var plan = await identity.FindPlanAsync(planId.Trim(), ct);
        if (plan is null)
        {
            return new ManagementError(ManagementErrorKind.Validation, "plan", $"unknown plan '{planId}'");
        }

        if (!plan.Enabled)
        {
            return new ManagementError(ManagementErrorKind.Validation, "plan", $"plan '{plan.Id}' is disabled");
        }

        if (plan.StripePriceId.Length == 0 && (plan.StripeOveragePriceId.Length == 0 || plan.PriceMonthly > 0))
        {
            // A plan priced 0 a month is sold with its metered overage price alone; without one there is nothing to
            // subscribe to (it is free), and a plan with a monthly price needs the recurring price that charges it.
            return new ManagementError(ManagementErrorKind.Validation, "plan", plan.PriceMonthly == 0
                ? $"plan '{plan.Id}' has no stripe_price_id and no stripe_overage_price_id: it is free, there is nothing to buy through billing"
                : $"plan '{plan.Id}' has no stripe_price_id: it cannot be bought through billing");
        }

        if (await billing.FindBillingCustomerAsync(user.Id, ct) is { } current && SubscriptionOrdering.HasLiveSubscription(current))
        {
            // A second checkout would start a second subscription: the customer would pay for both.
            return new ManagementError(ManagementErrorKind.Conflict, "user",
                $"user '{user.Email}' has a subscription already ({current.SubscriptionId}, {current.SubscriptionStatus}): change its plan or cancel it in the billing portal instead of starting another checkout");
        }

        try
        {
            var customer = await EnsureCustomerAsync(user, ct);
            var checkout = await provider.CreateCheckoutAsync(
                new CheckoutRequest(customer.CustomerId, user.Id, plan.Id, plan.StripePriceId, plan.StripeOveragePriceId, successUrl, cancelUrl, Ids.New("apigate_checkout")), ct);
            // The check above sees only subscriptions that exist: a checkout page started earlier and not paid yet (another
            // tab, another plan) could still be paid after this one, a second subscription billed alongside the first. The
            // earlier pages are closed after this one is made, so of two checkouts started at the same moment neither
            // stays payable beside the other. If they cannot be closed, the checkout fails and its page is never shown.
            await provider.ExpireOtherCheckoutsAsync(customer.CustomerId, checkout.Id, ct);
            return checkout;
        }
        catch (BillingProviderException ex)
        {
            return ProviderError(ex, plan);
        }
    }

    /// <summary>A session of the provider's billing portal (payment methods, invoices) for a user who is a billing customer.</summary>
    public async Task<ManagementResult<BillingRedirect>> StartPortalAsync(string userRef, string returnUrl, CancellationToken ct)
    {
        if (provider is null)
        {
            return Off();
        }

        if (BadReturnUrl("return_url", returnUrl) is { } urlProblem)
        {
            return urlProblem;
        }

        var user = await identity.FindUserAsync(userRef.Trim(), ct);
        if (user is null)
        {
            return new ManagementError(ManagementErrorKind.NotFound, "user", $"no user with id or email '{userRef}'");
        }

        var customer = await billing.FindBillingCustomerAsync(user.Id, ct);
        if (customer is null)
        {
            return new ManagementError(ManagementErrorKind.Validation, "user", $"user '{user.Email}' is not a billing customer yet (no checkout was started)");
        }

        try
        {
            return await provider.CreatePortalSessionAsync(customer.CustomerId, returnUrl, ct);
        }
        catch (BillingProviderException ex)
        {
            return ProviderError(ex, null);
        }
    }

    /// <summary>The user's billing customer record, or null.</summary>
    public Task<BillingCustomer?> FindCustomerAsync(string userId, CancellationToken ct) => billing.FindBillingCustomerAsync(userId, ct);

    /// <summary>
    /// The billing state of the user with id or email <paramref name="userRef"/> (not found: no such user): their customer and
    /// subscription, and what their plan does past the quota. Read the same whether billing is on or off.
    /// </summary>
    public async Task<ManagementResult<UserBilling>> GetUserBillingAsync(string userRef, CancellationToken ct)
    {
        if (await identity.FindUserAsync(userRef, ct) is not { } user)
        {
            return Outcomes.NotFound("user", userRef);
        }

        var plan = await identity.FindPlanAsync(user.PlanId, ct);
        return UserBilling.Of(user.Id, user.PlanId, plan, await billing.FindBillingCustomerAsync(user.Id, ct), Enabled);
    }

    /// <summary>The billing customers of those of <paramref name="userIds"/> that have one, by user id, read in one query (a page of users).</summary>
    public async Task<IReadOnlyDictionary<string, BillingCustomer>> FindCustomersAsync(IReadOnlyCollection<string> userIds, CancellationToken ct) =>
        userIds.Count == 0
            ? new Dictionary<string, BillingCustomer>()
            : (await billing.FindBillingCustomersAsync(userIds, ct)).ToDictionary(c => c.UserId, StringComparer.Ordinal);

    /// <summary>
    /// Whether billing is on and the credential's owner has no paying subscription (<see cref="CredentialOwner.Paying"/>,
    /// read with the credential: <see cref="SubscriptionOrdering.IsPaying(string, string)"/> — active or trialing; none at
    /// all, past due, unpaid, incomplete or ended are not). Such a user is held to the quota of a plan that charges its
    /// overage through the provider, since nothing would bill the requests past it (docs/billing.md). False with billing
    /// off: overage is then billed by the operator from the usage reports.
    /// </summary>
    public bool IsUnsubscribed(CredentialOwner owner) => provider is not null && !owner.Paying;

    /// <summary>Verifies and applies one webhook request. Nothing changes unless the outcome is <see cref="WebhookStatus.Processed"/>.</summary>
    public async Task<WebhookOutcome> HandleWebhookAsync(string payload, string signatureHeader, CancellationToken ct)
    {
        if (provider is null)
        {
            return WebhookOutcome.Of(WebhookStatus.Off, "billing is not configured");
        }

        BillingEvent e;
        try
        {
            e = provider.ReadWebhook(payload, signatureHeader);
        }
        catch (BillingWebhookException ex)
        {
            return WebhookOutcome.Of(WebhookStatus.Invalid, ex.Message);
        }

        if (FieldWithControlCharacter(e) is { } field)
        {
            // No provider identifier holds one. Taken as it came, the event was recorded on SQLite but refused by PostgreSQL
            // (its text cannot hold a NUL) as a store outage, a 503 the provider retried for days; and it reached the log.
            return WebhookOutcome.Of(WebhookStatus.Invalid, $"the event's {field} holds a control character, which no identifier the provider sends has");
        }

        if (IdentifierTooLong(e) is { } longField)
        {
            // Stripe's ids are at most 255 characters; past that only the body's size bounded what was stored and logged.
            return WebhookOutcome.Of(WebhookStatus.Invalid,
                $"the event's {longField} is longer than {MaxProviderIdLength} characters, which no identifier the provider sends is");
        }

        if (TextTooLong(e) is { } textField)
        {
            // The type is stored with the event, the status with the customer, and the metadata user and plan are quoted
            // in the outcome stored and logged: each was bounded only by the body's size.
            return WebhookOutcome.Of(WebhookStatus.Invalid, textField);
        }

        if (await billing.IsBillingEventProcessedAsync(e.Id, ct))
        {
            return WebhookOutcome.Of(WebhookStatus.Duplicate, "already processed", e);
        }

        var plan = await PlanOfAsync(e, ct);
        if (plan.Error is { } planError)
        {
            // Refused (unrecorded, so the provider retries) only when a plan could still be given the price for the user:
            // an event about a customer who is not a user here (another product sold on the same provider account) is
            // ignored like any other event about such a customer. Refused, it was retried for days, and the provider
            // disables an endpoint that keeps failing.
            if (await OwnerOfAsync(e, ct) is { Basis: null })
            {
                return (await RecordAsync(e, null, NotAUser(e), ct))!;
            }

            // A checkout for a plan deleted before it completed: the customer has paid, but no retry can ever give them
            // that plan. Accepted (refused, it was retried for days and the provider then disabled the endpoint) without
            // changing the plan, and raised to the operator (ApplySubscriptionAsync, with no plan).
            if (e.Kind != BillingEventKind.CheckoutCompleted || e.PlanId.Length == 0)
            {
                return WebhookOutcome.Of(WebhookStatus.Rejected, planError, e);
            }
        }

        // Each attempt reads the user's state, decides, and writes only if that state is still the one read (null:
        // another event about the user was applied meanwhile, so decide again on the new state).
        for (var attempt = 1; attempt <= MaxDecisions; attempt++)
        {
            var outcome = e.Kind switch
            {
                BillingEventKind.CheckoutCompleted or BillingEventKind.SubscriptionUpdated or BillingEventKind.SubscriptionDeleted =>
                    await ApplySubscriptionAsync(e, plan.Plan, ct),
                BillingEventKind.PaymentFailed => await ApplyPaymentFailedAsync(e, ct),
                BillingEventKind.CheckoutPaymentFailed => await ApplyCheckoutPaymentFailedAsync(e, ct),
                _ => await RecordAsync(e, null, "ignored: not an event billing acts on", ct),
            };
            if (outcome is not null)
            {
                return outcome;
            }
        }

        return WebhookOutcome.Of(WebhookStatus.Rejected,
            $"the user's billing state changed {MaxDecisions} times while this event was being applied; nothing changed, the provider sends it again", e);
    }

    /// <summary>The first of the event's identifiers that holds a control character, or null when none does.</summary>
    private static string? FieldWithControlCharacter(BillingEvent e)
    {
        foreach (var (field, value) in (ReadOnlySpan<(string, string)>)
                 [("id", e.Id), ("type", e.Type), ("customer", e.CustomerId), ("subscription", e.SubscriptionId), ("status", e.SubscriptionStatus),
                  ("user", e.UserId), ("plan", e.PlanId)])
        {
            if (TextFields.IndexOfControl(value) >= 0)
            {
                return field;
            }
        }

        foreach (var price in e.PriceIds)
        {
            if (TextFields.IndexOfControl(price) >= 0)
            {
                return "price";
            }
        }

        return null;
    }

    /// <summary>The longest identifier (event, customer, subscription, price) the provider sends: Stripe's are at most 255 characters.</summary>
    public const int MaxProviderIdLength = 255;

    /// <summary>The first of the event's provider identifiers longer than <see cref="MaxProviderIdLength"/>, or null when none is.</summary>
    private static string? IdentifierTooLong(BillingEvent e)
    {
        foreach (var (field, value) in (ReadOnlySpan<(string, string)>)
                 [("id", e.Id), ("customer", e.CustomerId), ("subscription", e.SubscriptionId)])
        {
            if (value.Length > MaxProviderIdLength)
            {
                return field;
            }
        }

        foreach (var price in e.PriceIds)
        {
            if (price.Length > MaxProviderIdLength)
            {
                return "price";
            }
        }

        return null;
    }

    /// <summary>
    /// The longest event type or subscription status taken: the provider's are a few dozen characters, so the bound of its
    /// identifiers (<see cref="MaxProviderIdLength"/>) holds them.
    /// </summary>
    public const int MaxProviderTextLength = MaxProviderIdLength;

    /// <summary>The longest metadata value (the checkout's user and plan) taken: Stripe's bound for a metadata value.</summary>
    public const int MaxMetadataValueLength = 500;

    /// <summary>The refusal of the first of the event's type, status, user or plan that is longer than its bound, or null when none is.</summary>
    private static string? TextTooLong(BillingEvent e)
    {
        ReadOnlySpan<(string Field, string Value, int Max)> bounded =
        [
            ("type", e.Type, MaxProviderTextLength), ("status", e.SubscriptionStatus, MaxProviderTextLength),
            ("user", e.UserId, MaxMetadataValueLength), ("plan", e.PlanId, MaxMetadataValueLength),
        ];
        foreach (var (field, value, max) in bounded)
        {
            if (value.Length > max)
            {
                return $"the event's {field} is longer than {max} characters, which no {field} the provider sends is";
            }
        }

        return null;
    }

    private static string NoCustomer(UserDefinition user) => $"ignored: the event names no customer and user {user.Id} has no billing customer";

    private static string NotAUser(BillingEvent e) => $"ignored: customer {e.CustomerId} is not a user of this gateway";

    /// <summary>How many times one event is decided again when other events about the same user keep landing first.</summary>
    private const int MaxDecisions = 5;

    private async Task<WebhookOutcome?> ApplySubscriptionAsync(BillingEvent e, PlanDefinition? plan, CancellationToken ct)
    {
        var (user, customer, basis) = await OwnerOfAsync(e, ct);
        if (user is null || basis is null)
        {
            return await RecordAsync(e, null, NotAUser(e), ct);
        }

        if (customer is null && e.CustomerId.Length == 0)
        {
            // A subscription belongs to a customer at the provider; without one named here or recorded for the user there
            // is nothing to tie it to (and nothing a later event about it could find the user by).
            return await RecordAsync(e, basis, NoCustomer(user), ct);
        }

        var subscriptionCreated = e.SubscriptionCreated > 0 ? e.SubscriptionCreated : e.Created;
        if (SubscriptionOrdering.WhyIgnored(customer, e.SubscriptionId, subscriptionCreated, e.Created) is { } why)
        {
            return await RecordAsync(e, basis, "ignored: " + why, ct);
        }

        var now = timeProvider.GetUtcNow();
        // A completed checkout says "active" only once it is paid: one paid by a bank debit still clearing says "incomplete",
        // and the plan waits for the payment (the provider's payment-succeeded event, or the subscription turning active).
        var status = e.Kind == BillingEventKind.SubscriptionDeleted ? "canceled" : e.SubscriptionStatus;
        var wasPaying = customer is not null && customer.SubscriptionId == e.SubscriptionId && SubscriptionOrdering.IsPaying(customer.SubscriptionStatus);
        var next = (customer ?? NewCustomer(user.Id, e.CustomerId, now)) with
        {
            CustomerId = e.CustomerId.Length > 0 ? e.CustomerId : customer!.CustomerId,
            SubscriptionId = e.SubscriptionId,
            SubscriptionStatus = status,
            SubscriptionCreated = subscriptionCreated,
            LastEventCreated = Math.Max(e.Created, customer?.SubscriptionId == e.SubscriptionId ? customer.LastEventCreated : 0),
            UpdatedAt = now,
        };

        var notifications = new List<BillingNotification>();
        BillingUserChange? change = null;
        string outcome;
        if (SubscriptionOrdering.IsPaying(status) && plan is null)
        {
            // Paid for a plan that no longer exists (only a completed checkout gets here without one): the user keeps
            // their plan, and the subscription is recorded as theirs, so they cannot start a second one and pay twice,
            // and its later events (cancelled in the provider's dashboard, say) apply to it as to any other.
            notifications.Add(new BillingNotification(Webhooks.WebhookEventTypes.SubscriptionUnapplied, user.Id, e.PlanId, user.PlanId, e.SubscriptionId));
            outcome = $"needs attention: the customer paid for plan '{e.PlanId}', which no longer exists; user {user.Id} stays on plan {user.PlanId}, " +
                      $"subscription {e.SubscriptionId} is recorded: refund or cancel it in the provider, or move the user to another plan";
        }
        else if (SubscriptionOrdering.IsPaying(status))
        {
            var target = plan!;
            var reactivate = SuspendedForPayment(customer, user);
            next = next with { SuspendedByBilling = false };
            if (target.Id != user.PlanId || reactivate)
            {
                change = new BillingUserChange(user.Id, target.Id, reactivate ? UserStatus.Active : user.Status, now);
            }

            if (!wasPaying)
            {
                notifications.Add(new BillingNotification(Webhooks.WebhookEventTypes.SubscriptionStarted, user.Id, target.Id, user.PlanId, e.SubscriptionId));
            }

            outcome = $"plan {target.Id}" + (reactivate ? ", reactivated" : "");
        }
        else if (SubscriptionOrdering.IsEnded(status))
        {
            var fallback = await DefaultPlanAsync(ct);
            if (fallback is null)
            {
                return WebhookOutcome.Of(WebhookStatus.Rejected, "the subscription ended but there is no default plan to move the user to: mark a plan as default", e);
            }

            // A suspension for a failed payment was about the paid plan; on the default plan nothing is owed, so the user
            // is active again (else they could not even sign in to subscribe anew).
            var reactivate = SuspendedForPayment(customer, user);
            next = next with { SuspendedByBilling = false };
            if (fallback.Id != user.PlanId || reactivate)
            {
                change = new BillingUserChange(user.Id, fallback.Id, reactivate ? UserStatus.Active : user.Status, now);
            }

            // Only a subscription that started (subscription.started was sent: it was paid, or in a state only a paid one
            // reaches) is said to end: one whose first payment never came (incomplete → incomplete_expired), or one this
            // gateway never recorded (its end arrived before its start), ends without a receiver ever hearing of it.
            if (customer is not null && customer.SubscriptionId == e.SubscriptionId && SubscriptionOrdering.HasStarted(customer.SubscriptionStatus))
            {
                notifications.Add(new BillingNotification(Webhooks.WebhookEventTypes.SubscriptionEnded, user.Id, fallback.Id, user.PlanId, e.SubscriptionId));
            }

            outcome = $"subscription ended: plan {fallback.Id}" + (reactivate ? ", reactivated" : "");
        }
        else
        {
            // past_due, unpaid, incomplete, paused: the plan stays until the provider confirms payment or ends it.
            outcome = $"subscription {status}: plan unchanged";
        }

        if (change is not null && change.PlanId != user.PlanId)
        {
            notifications.Add(new BillingNotification(Webhooks.WebhookEventTypes.PlanChanged, user.Id, change.PlanId, user.PlanId, e.SubscriptionId));
        }

        return await CommitAsync(e, user, basis, outcome, next, change, notifications, ct);
    }

    private async Task<WebhookOutcome?> ApplyPaymentFailedAsync(BillingEvent e, CancellationToken ct)
    {
        var (user, customer, basis) = await OwnerOfAsync(e, ct);
        if (user is null || customer is null || basis is null)
        {
            return await RecordAsync(e, null, NotAUser(e), ct);
        }

        if (SubscriptionOrdering.WhyPaymentFailureIgnored(customer, e.SubscriptionId, e.Created) is { } why)
        {
            return await RecordAsync(e, basis, "ignored: " + why, ct);
        }

        // The failure is the newest thing known about the subscription: a "still active" update created before it but
        // delivered after it is stale (SubscriptionOrdering.WhyIgnored), so it cannot undo the failure's effect.
        var now = timeProvider.GetUtcNow();
        var seen = customer with { LastEventCreated = Math.Max(customer.LastEventCreated, e.Created), UpdatedAt = now };
        var notifications = new List<BillingNotification> { PaymentFailedNotice(user, e) };
        if (customer.SubscriptionStatus == SubscriptionOrdering.NeverPaid)
        {
            // The subscription's first payment has not been made (a checkout's bank debit still clearing): its plan was never
            // given, so nothing is owed and there is nothing to take back; the operator still hears of the failure.
            return await CommitAsync(e, user, basis, $"payment failed: subscription {customer.SubscriptionId} never started, nothing changed", seen, null, notifications, ct);
        }

        switch (paymentFailed)
        {
            case PaymentFailedAction.Suspend when user.Status != UserStatus.Suspended:
                return await CommitAsync(e, user, basis, "payment failed: user suspended", seen with { SuspendedByBilling = true },
                    new BillingUserChange(user.Id, user.PlanId, UserStatus.Suspended, now), notifications, ct);
            case PaymentFailedAction.DefaultPlan:
                var fallback = await DefaultPlanAsync(ct);
                if (fallback is null)
                {
                    return WebhookOutcome.Of(WebhookStatus.Rejected, "payment failed but there is no default plan to move the user to: mark a plan as default", e);
                }

                if (fallback.Id == user.PlanId)
                {
                    return await CommitAsync(e, user, basis, "payment failed: already on the default plan", seen, null, notifications, ct);
                }

                notifications.Add(new BillingNotification(Webhooks.WebhookEventTypes.PlanChanged, user.Id, fallback.Id, user.PlanId, e.SubscriptionId));
                return await CommitAsync(e, user, basis, $"payment failed: plan {fallback.Id}", seen,
                    new BillingUserChange(user.Id, fallback.Id, user.Status, now), notifications, ct);
            default:
                return await CommitAsync(e, user, basis, "payment failed: recorded", seen, null, notifications, ct);
        }
    }

    /// <summary>
    /// A checkout's delayed payment (a bank debit) failed: the incomplete subscription it recorded no longer counts, so
    /// the user can start a new checkout; the plan stays (it never changed), and a suspension for a failed payment is
    /// lifted as when a subscription ends (nothing is owed).
    /// </summary>
    private async Task<WebhookOutcome?> ApplyCheckoutPaymentFailedAsync(BillingEvent e, CancellationToken ct)
    {
        var (user, customer, basis) = await OwnerOfAsync(e, ct);
        if (user is null || basis is null)
        {
            return await RecordAsync(e, null, NotAUser(e), ct);
        }

        if (customer is null && e.CustomerId.Length == 0)
        {
            // As for a completed checkout: nothing to tie the subscription to (and the new record below would have no customer).
            return await RecordAsync(e, basis, NoCustomer(user), ct);
        }

        var same = customer is not null && customer.SubscriptionId == e.SubscriptionId;
        var why = SubscriptionOrdering.WhyIgnored(customer, e.SubscriptionId, same ? customer!.SubscriptionCreated : e.Created, e.Created)
                  ?? (same && SubscriptionOrdering.IsPaying(customer!.SubscriptionStatus)
                      ? $"subscription {e.SubscriptionId} is {customer.SubscriptionStatus}: the provider's subscription events decide what happens to it"
                      : null);
        if (why is not null)
        {
            return await RecordAsync(e, basis, "ignored: " + why, ct);
        }

        var now = timeProvider.GetUtcNow();
        var next = (customer ?? NewCustomer(user.Id, e.CustomerId, now)) with
        {
            CustomerId = e.CustomerId.Length > 0 ? e.CustomerId : customer!.CustomerId,
            SubscriptionId = e.SubscriptionId,
            SubscriptionStatus = SubscriptionOrdering.CheckoutPaymentFailed,
            SubscriptionCreated = same ? customer!.SubscriptionCreated : e.Created,
            LastEventCreated = Math.Max(e.Created, same ? customer!.LastEventCreated : 0),
            SuspendedByBilling = false,
            UpdatedAt = now,
        };
        var reactivate = SuspendedForPayment(customer, user);
        var change = reactivate ? new BillingUserChange(user.Id, user.PlanId, UserStatus.Active, now) : null;
        var notifications = new List<BillingNotification> { PaymentFailedNotice(user, e) };
        return await CommitAsync(e, user, basis, $"checkout payment failed: subscription {e.SubscriptionId} dropped, plan unchanged" + (reactivate ? ", reactivated" : ""),
            next, change, notifications, ct);
    }

    /// <summary>The plan an event names: by price for subscription updates, by the checkout's metadata for a completed checkout.</summary>
    private async Task<(PlanDefinition? Plan, string? Error)> PlanOfAsync(BillingEvent e, CancellationToken ct)
    {
        if (e.Kind == BillingEventKind.CheckoutCompleted)
        {
            if (e.PlanId.Length == 0)
            {
                return (null, "the checkout session carries no apigate_plan metadata: it was not started by this gateway");
            }

            var named = await identity.FindPlanAsync(e.PlanId, ct);
            return named is null ? (null, $"the checkout names plan '{e.PlanId}', which does not exist") : (named, null);
        }

        if (e.Kind != BillingEventKind.SubscriptionUpdated || !SubscriptionOrdering.IsPaying(e.SubscriptionStatus))
        {
            return (null, null);
        }

        var plans = await identity.ListPlansAsync(ct);
        if (SubscriptionPlan.Find(plans, e.PriceIds, e.PlanId) is { } found)
        {
            return (found, null);
        }

        // A plan priced 0 a month is sold with its metered price alone, so that price can be the one to set as well.
        var them = e.PriceIds.Count == 1 ? "it" : "any of them";
        return (null, $"unknown price id(s) {string.Join(", ", e.PriceIds)}: no plan has {them} as its stripe_price_id (set it with apigate plans update " +
            "--stripe-price-id), nor, for a plan priced 0 a month sold with its metered price alone, as its stripe_overage_price_id (set it with " +
            "apigate plans update --stripe-overage-price-id)");
    }

    /// <summary>
    /// The user an event is about (by the provider's customer id, else by the user id the checkout carried), their
    /// billing customer, and the two as the basis of the decision (null with no user).
    /// </summary>
    private async Task<(UserDefinition? User, BillingCustomer? Customer, BillingBasis? Basis)> OwnerOfAsync(BillingEvent e, CancellationToken ct)
    {
        var customer = e.CustomerId.Length > 0 ? await billing.FindBillingCustomerByProviderIdAsync(e.CustomerId, ct) : null;
        var userId = customer?.UserId ?? e.UserId;
        if (userId.Length == 0)
        {
            return (null, null, null);
        }

        var user = await identity.FindUserAsync(userId, ct);
        if (user is null)
        {
            return (null, customer, null);
        }

        customer ??= await billing.FindBillingCustomerAsync(user.Id, ct);
        return (user, customer, new BillingBasis(user.Id, customer, user.PlanId, user.Status));
    }

    private async Task<BillingCustomer> EnsureCustomerAsync(UserDefinition user, CancellationToken ct)
    {
        if (await billing.FindBillingCustomerAsync(user.Id, ct) is { } existing)
        {
            return existing;
        }

        // The key is derived from the user: two racing checkouts (or a retry after a lost answer) get one customer.
        var customerId = await provider!.CreateCustomerAsync(user.Id, user.Email, user.Name, "apigate_customer_" + user.Id, ct);
        return await billing.AddBillingCustomerAsync(NewCustomer(user.Id, customerId, timeProvider.GetUtcNow()), ct);
    }

    /// <summary>The <c>payment.failed</c> webhook about <paramref name="user"/>, whose plan the failure itself does not change.</summary>
    private static BillingNotification PaymentFailedNotice(UserDefinition user, BillingEvent e) =>
        new(Webhooks.WebhookEventTypes.PaymentFailed, user.Id, user.PlanId, user.PlanId, e.SubscriptionId);

    /// <summary>
    /// Whether the user is on billing hold: suspended because a payment failed, with the provider still set up to settle
    /// it. Such a customer may sign in to the portal, but reaches only the plan page and its Manage billing (payment
    /// methods, the open invoice, cancelling), so the failed payment can be paid without the operator; the keys stay
    /// refused until the provider confirms it (docs/portal.md). Only while billing's suspension is the last word on the
    /// user's status: an operator's change of the status or plan clears the customer record's mark in the same write
    /// (reactivated and suspended again for another reason, say), while a new name or address leaves the hold standing.
    /// </summary>
    public async Task<bool> OnHoldAsync(UserDefinition user, CancellationToken ct) =>
        user.Status == UserStatus.Suspended && Enabled && SuspendedForPayment(await FindCustomerAsync(user.Id, ct), user);

    /// <summary>Whether the user is suspended because a payment failed (so billing may make them active again).</summary>
    private static bool SuspendedForPayment(BillingCustomer? customer, UserDefinition user) =>
        customer?.SuspendedByBilling == true && user.Status == UserStatus.Suspended;

    private BillingCustomer NewCustomer(string userId, string customerId, DateTimeOffset now) =>
        new(userId, provider!.Name, customerId, "", "", 0, 0, false, now);

    private async Task<PlanDefinition?> DefaultPlanAsync(CancellationToken ct)
    {
        foreach (var plan in await identity.ListPlansAsync(ct))
        {
            if (plan.IsDefault)
            {
                return plan;
            }
        }

        return null;
    }

    /// <summary>Records an event that changes nothing (ignored, with why), unless the state it was ignored on changed meanwhile (null).</summary>
    private Task<WebhookOutcome?> RecordAsync(BillingEvent e, BillingBasis? basis, string outcome, CancellationToken ct) =>
        CommitAsync(e, null, basis, outcome, null, null, [], ct);

    /// <summary>Applies the decision, or returns null when <paramref name="basis"/> no longer holds (decide again).</summary>
    private async Task<WebhookOutcome?> CommitAsync(
        BillingEvent e, UserDefinition? user, BillingBasis? basis, string outcome, BillingCustomer? customer, BillingUserChange? change,
        IReadOnlyList<BillingNotification> notifications, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var record = new BillingEventRecord(e.Id, e.Type, basis?.UserId ?? "", outcome, now);
        var events = new List<Webhooks.WebhookEvent>(notifications.Count);
        foreach (var notification in notifications)
        {
            events.Add(BillingWebhookPayloads.From(notification, user!, provider!.Name, now));
        }

        return await billing.ApplyBillingEventAsync(record, basis, customer, change, events, ct) switch
        {
            BillingApplyResult.Applied => new WebhookOutcome(WebhookStatus.Processed, outcome, e.Id, e.Type, notifications),
            BillingApplyResult.Duplicate => WebhookOutcome.Of(WebhookStatus.Duplicate, "already processed", e),
            _ => null,
        };
    }

    /// <summary>The plan's Stripe prices as the operator set them, for an error about them.</summary>
    private static string PricesOf(PlanDefinition plan) => plan switch
    {
        { StripePriceId.Length: > 0, StripeOveragePriceId.Length: > 0 } => $"stripe_price_id {plan.StripePriceId}, stripe_overage_price_id {plan.StripeOveragePriceId}",
        { StripePriceId.Length: > 0 } => $"stripe_price_id {plan.StripePriceId}",
        _ => $"stripe_overage_price_id {plan.StripeOveragePriceId}",
    };

    private static ManagementError Off() =>
        new(ManagementErrorKind.Validation, "billing", "billing is not configured: set APIGATE_BILLING_PROVIDER=stripe and APIGATE_STRIPE_SECRET_KEY");

    private static ManagementError? BadReturnUrl(string field, string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https"
            ? null
            : new ManagementError(ManagementErrorKind.Validation, field, $"'{UrlUserInfo.Mask(url)}' is not an absolute http(s) URL");

    private static ManagementError ProviderError(BillingProviderException ex, PlanDefinition? plan) => ex.Failure switch
    {
        BillingFailure.InvalidRequest => new(ManagementErrorKind.Validation, plan is null ? "" : "plan",
            plan is null ? ex.Message : $"the billing provider refused plan '{plan.Id}' ({PricesOf(plan)}): {ex.Message}"),
        BillingFailure.Declined => new(ManagementErrorKind.Validation, "payment", "the payment was declined: " + ex.Message),
        _ => new(ManagementErrorKind.Unavailable, "", "the billing provider failed, nothing was changed; try again: " + ex.Message),
    };
}
