namespace ApiGate.Core.Billing;

/// <summary>What an <c>invoice.payment_failed</c> event does to the user (<c>APIGATE_BILLING_PAYMENT_FAILED</c>).</summary>
public enum PaymentFailedAction
{
    /// <summary>The user is suspended (their keys stop working) until a paid subscription event reactivates them.</summary>
    Suspend,

    /// <summary>The user is moved to the default plan.</summary>
    DefaultPlan,

    /// <summary>Recorded only; the provider's own dunning decides (a later cancellation moves the user to the default plan).</summary>
    None,
}
