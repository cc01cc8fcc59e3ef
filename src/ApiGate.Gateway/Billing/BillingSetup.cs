using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace ApiGate.Gateway.Billing;

/// <summary>Billing's settings checks and service registrations (docs/billing.md).</summary>
internal static class BillingSetup
{
    public const string None = "none";
    public const string Stripe = "stripe";

    /// <summary>Settings problems, each naming its setting (never a secret's value).</summary>
    public static IEnumerable<(string Key, string Problem)> Problems(GatewayOptions o)
    {
        if (o.BillingProvider is not (None or Stripe))
        {
            yield return ("billing.provider", $"'{o.BillingProvider}' is not none or stripe");
        }

        if (!TryParsePaymentFailed(o.BillingPaymentFailed, out _))
        {
            yield return ("billing.payment_failed", $"'{o.BillingPaymentFailed}' is not suspend, default-plan or none");
        }

        if (o.BillingProvider == Stripe)
        {
            if (o.StripeSecretKey.Length == 0)
            {
                yield return ("stripe.secret_key", "is required when billing.provider is stripe: set APIGATE_STRIPE_SECRET_KEY to the secret key (sk_…) from Stripe's dashboard");
            }

            if (o.StripeWebhookSecret.Length == 0)
            {
                yield return ("stripe.webhook_secret", "is required when billing.provider is stripe: set APIGATE_STRIPE_WEBHOOK_SECRET to the webhook endpoint's signing secret (whsec_…)");
            }
        }

        if (o.StripeApiBase.Length > 0 && !(Uri.TryCreate(o.StripeApiBase, UriKind.Absolute, out var apiBase) && apiBase.Scheme is "http" or "https"))
        {
            yield return ("stripe.api_base", $"'{Core.Text.UrlUserInfo.Mask(o.StripeApiBase)}' is not an absolute http(s) URL");
        }
    }

    /// <summary><c>suspend</c>, <c>default-plan</c> (or <c>default_plan</c>), <c>none</c>.</summary>
    public static bool TryParsePaymentFailed(string text, out PaymentFailedAction action)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "suspend":
                action = PaymentFailedAction.Suspend;
                return true;
            case "default-plan" or "default_plan":
                action = PaymentFailedAction.DefaultPlan;
                return true;
            case "none":
                action = PaymentFailedAction.None;
                return true;
            default:
                action = default;
                return false;
        }
    }

    /// <summary>Registers the billing service (always, so the admin API can say billing is off) and, with a provider, its webhook endpoint and overage reporter.</summary>
    public static IServiceCollection AddBilling(this IServiceCollection services, GatewayOptions options)
    {
        TryParsePaymentFailed(options.BillingPaymentFailed, out var paymentFailed);
        services.AddSingleton<IBillingStore>(sp => sp.GetRequiredService<IGatewayStore>());
        services.TryAddSingleton(new OverageReporterOptions());
        services.TryAddSingleton<IBillingNotifier, LoggingBillingNotifier>();
        if (options.BillingProvider == Stripe)
        {
            services.AddSingleton<IBillingProvider>(sp => new StripeBillingProvider(
                options.StripeSecretKey, options.StripeWebhookSecret, options.StripeApiBase, sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton<OverageReporter>();
            services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<OverageReporter>());
        }

        services.AddSingleton(sp => new BillingService(
            sp.GetService<IBillingProvider>(), sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<IBillingStore>(),
            sp.GetRequiredService<TimeProvider>(), paymentFailed));
        services.AddSingleton<BillingWebhookEndpoint>();
        return services;
    }
}
