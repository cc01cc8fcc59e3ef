using ApiGate.Core.Billing;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// The plans a customer sees (enabled and marked visible) and the plan changes the portal makes itself: without a
/// billing provider, only to a free plan (price 0) and only when <c>APIGATE_PORTAL_PLAN_CHANGE=free</c>; with one, none
/// (paid plans go through the provider's checkout, and leaving one through its billing portal — docs/billing.md). At
/// most <see cref="MaxRequestsPerHour"/> plan changes, checkouts and billing-portal sessions per customer an hour.
/// </summary>
internal sealed partial class PortalPlanService(
    IGatewayStore store, PortalOptions options, ApiGate.Core.Management.BillingService billing, Identity.AttemptCounter counter, TimeProvider timeProvider,
    ILogger<PortalPlanService> logger)
{
    /// <summary>
    /// Plan changes, checkouts and billing-portal sessions a customer may start in <see cref="RequestWindow"/>, together:
    /// each checkout or billing-portal session is a call to the provider on the operator's account (whose API rate limit
    /// every customer's checkout and the overage reports share), and each plan change a <c>plan.changed</c> webhook, so a
    /// form posted in a loop must not turn into an unbounded stream of either.
    /// </summary>
    public const int MaxRequestsPerHour = 20;

    /// <summary>The window of <see cref="MaxRequestsPerHour"/>.</summary>
    public static readonly TimeSpan RequestWindow = TimeSpan.FromHours(1);

    /// <summary>Plans offered on the plan page: enabled and visible, cheapest first.</summary>
    public async Task<IReadOnlyList<PlanDefinition>> VisiblePlansAsync(CancellationToken ct) =>
        (await store.ListPlansAsync(ct)).Where(p => p.Enabled && p.Visible).OrderBy(p => p.PriceMonthly).ThenBy(p => p.Name, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Whether the portal itself may move a user to <paramref name="plan"/> (the page shows the button only then): a plan
    /// free in both prices. One with an overage price lets requests past its quota through and charges for them, so it is
    /// not free to move to, and without a billing provider nothing would collect that charge.
    /// </summary>
    public bool CanChangeDirectly(PlanDefinition plan) =>
        !billing.Enabled && options.PlanChange == PortalPlanChange.Free && plan.PriceMonthly == 0 && plan.OveragePrice == 0 && plan.Enabled && plan.Visible;

    /// <summary>
    /// Whether the plan is bought through the provider's checkout (the page shows "Subscribe" only then): with billing on,
    /// a plan with a monthly price and its Stripe price, or one priced 0 a month that charges for overage through a
    /// Stripe metered price (subscribed to with that price alone, docs/billing.md). A plan free in both prices has
    /// nothing to buy, and one whose price has no Stripe price (not sold through Stripe, or its overage billed some
    /// other way) nothing checkout could sell: checkout would refuse it every time.
    /// </summary>
    public bool OfferedThroughCheckout(PlanDefinition plan) =>
        billing.Enabled && plan.Enabled && plan.Visible
        && (plan.PriceMonthly > 0 ? plan.StripePriceId.Length > 0 : SubscriptionOrdering.BillsOverageThroughProvider(plan));

    /// <summary>Moves the user to the plan if <see cref="CanChangeDirectly"/> allows it.</summary>
    public async Task<PortalResult> ChangeAsync(UserDefinition user, string? planId, CancellationToken ct)
    {
        var plan = string.IsNullOrWhiteSpace(planId) || planId.Length > 100 ? null : await store.FindPlanAsync(planId.Trim(), ct);
        if (NotOffered(plan) is { } notOffered)
        {
            return notOffered;
        }

        if (plan!.Id == user.PlanId)
        {
            return PortalResult.Success($"You are on {plan.Name} already.");
        }

        if (NotDirectly(plan) is { } notDirectly)
        {
            return notDirectly;
        }

        if (await TooManyAsync(user, ct) is { } tooMany)
        {
            return tooMany;
        }

        // The write checks the plan again as it runs: an operator may have hidden the plan or given it a price since the
        // check above, and that word must win over the customer's change.
        var result = await new UserService(store, timeProvider).ChangeToFreePlanAsync(user.Id, plan.Id, ct);
        if (result.Ok)
        {
            return PortalResult.Success($"You are now on {plan.Name}.");
        }

        // Refused because the plan changed meanwhile: answered as the check above answers the plan as it is now.
        if (result.Error!.Kind == ManagementErrorKind.Conflict)
        {
            var now = await store.FindPlanAsync(plan.Id, ct);
            return NotOffered(now) ?? NotDirectly(now!) ?? PortalResult.Refused(result.Error.Message);
        }

        return PortalResult.Refused(result.Error.Message);
    }

    /// <summary>The refusal for a plan that is not on the plan page (none, disabled or hidden), or null.</summary>
    private static PortalResult? NotOffered(PlanDefinition? plan) =>
        plan is null || !plan.Enabled || !plan.Visible ? PortalResult.Refused("That plan is not offered.") : null;

    /// <summary>The refusal for an offered plan the portal may not move a customer to by itself (<see cref="CanChangeDirectly"/>), or null.</summary>
    private PortalResult? NotDirectly(PlanDefinition plan) =>
        CanChangeDirectly(plan)
            ? null
            : PortalResult.Refused(billing.Enabled
                ? "Plans are changed through checkout, and a subscription is cancelled under Manage billing."
                : $"{plan.Name} cannot be chosen here. Please contact the operator to change plans.");

    /// <summary>What a customer on billing hold is told when they try to change plans.</summary>
    public const string SettleFirst = "Your account is suspended because a payment failed. Settle it under Manage billing first; plans can change after that.";

    /// <summary>True when plan changes go through the billing provider (<c>APIGATE_BILLING_PROVIDER</c>).</summary>
    public bool BillingEnabled => billing.Enabled;

    /// <summary>
    /// The user's billing standing as the plan page shows it, from one read of their billing customer: whether they are the
    /// provider's customer already ("Manage billing" is offered), whether they have a subscription that has not ended
    /// (plans then change under "Manage billing", not by a second checkout), and whether <paramref name="current"/>, their
    /// plan, holds them to its quota although it has an overage price (it bills that overage through the provider and they
    /// do not pay: the gateway answers 402 at the quota, docs/billing.md), so the page says so instead of promising it.
    /// All false with billing off.
    /// </summary>
    public async Task<PortalBillingStanding> StandingAsync(UserDefinition user, PlanDefinition? current, CancellationToken ct)
    {
        if (!billing.Enabled)
        {
            return default;
        }

        var customer = await billing.FindCustomerAsync(user.Id, ct);
        return new PortalBillingStanding(
            customer is not null,
            SubscriptionOrdering.HasLiveSubscription(customer),
            SubscriptionOrdering.OverageOf(current, customer) == OverageTerms.Refused);
    }

    /// <summary>
    /// The provider's checkout page for a plan <see cref="OfferedThroughCheckout"/>; the plan itself changes only when the provider's webhook
    /// confirms the subscription. <paramref name="origin"/> is the request's, used when no base URL is set.
    /// </summary>
    public async Task<(string? Url, PortalResult? Refusal)> CheckoutAsync(UserDefinition user, string? planId, string origin, CancellationToken ct)
    {
        var plan = string.IsNullOrWhiteSpace(planId) || planId.Length > 100 ? null : await store.FindPlanAsync(planId.Trim(), ct);
        if (plan is null || !OfferedThroughCheckout(plan))
        {
            return (null, PortalResult.Refused("That plan is not offered through checkout."));
        }

        if (user.Status != UserStatus.Active)
        {
            // On billing hold (a failed payment): the open invoice is paid under Manage billing, not by a new subscription.
            return (null, PortalResult.Refused(SettleFirst));
        }

        if (await TooManyAsync(user, ct) is { } tooMany)
        {
            return (null, tooMany);
        }

        var home = options.ReturnBase(origin) + PortalOptions.BasePath;
        var result = await billing.StartCheckoutAsync(user.Id, plan.Id, home + "/plans?checkout=done", home + "/plans", ct);
        if (result.Ok)
        {
            return (result.Value!.Url, null);
        }

        // What the provider answered is about the operator's account (a refused key, an unreachable address, a price id):
        // the operator's log gets it, the customer a sentence.
        LogBillingFailed("checkout", user.Id, result.Error!.Message);
        return (null, PortalResult.Refused("Checkout cannot start right now: nothing was changed. Please try again later."));
    }

    /// <summary>The provider's billing portal (payment methods, invoices, cancelling) for a billing customer.</summary>
    public async Task<(string? Url, PortalResult? Refusal)> ManageBillingAsync(UserDefinition user, string origin, CancellationToken ct)
    {
        if (await TooManyAsync(user, ct) is { } tooMany)
        {
            return (null, tooMany);
        }

        var result = await billing.StartPortalAsync(user.Id, options.ReturnBase(origin) + PortalOptions.BasePath + "/plans", ct);
        if (result.Ok)
        {
            return (result.Value!.Url, null);
        }

        LogBillingFailed("billing portal", user.Id, result.Error!.Message);
        return (null, PortalResult.Refused("Billing cannot be opened right now. Please try again later."));
    }

    /// <summary>Counts one of the user's plan and billing requests (in the store, every instance together): null when it may go ahead, else the refusal.</summary>
    private async Task<PortalResult?> TooManyAsync(UserDefinition user, CancellationToken ct) =>
        await counter.TakeAsync("portal-plan-request", user.Id, MaxRequestsPerHour, RequestWindow, ct) is { } wait
            ? PortalResult.TooMany("plan and billing requests", wait)
            : null;

    [LoggerMessage(EventId = 8012, Level = LogLevel.Warning, Message = "Portal {Action} for user {UserId} failed at the billing provider: {Reason}")]
    private partial void LogBillingFailed(string action, string userId, string reason);

}

/// <summary>What <see cref="PortalPlanService.StandingAsync"/> found.</summary>
internal readonly record struct PortalBillingStanding(bool Customer, bool Subscribed, bool OverageNeedsSubscription);
