using ApiGate.Core.Billing;

namespace ApiGate.Core.Tests.Billing;

public sealed class SubscriptionOrderingTests
{
    private static BillingCustomer Current(string subscription, string status, long created, long lastEvent) =>
        new("usr_1", "stripe", "cus_1", subscription, status, created, lastEvent, false, DateTimeOffset.UnixEpoch);

    [Fact]
    public void WhyIgnored_NoSubscriptionYet_Applies() =>
        Assert.Null(SubscriptionOrdering.WhyIgnored(null, "sub_1", 100, 100));

    [Fact]
    public void WhyIgnored_SameSubscriptionNewerEvent_Applies() =>
        Assert.Null(SubscriptionOrdering.WhyIgnored(Current("sub_1", "active", 100, 110), "sub_1", 100, 120));

    [Fact]
    public void WhyIgnored_SameSubscriptionSameSecond_Applies() =>
        Assert.Null(SubscriptionOrdering.WhyIgnored(Current("sub_1", "active", 100, 110), "sub_1", 100, 110));

    [Fact]
    public void WhyIgnored_SameSubscriptionOlderEvent_IsStale() =>
        Assert.StartsWith("stale", SubscriptionOrdering.WhyIgnored(Current("sub_1", "active", 100, 110), "sub_1", 100, 105), StringComparison.Ordinal);

    [Theory]
    [InlineData("canceled")]
    [InlineData("incomplete_expired")]
    public void WhyIgnored_SameSubscriptionAlreadyEnded_IsIgnoredEvenIfNewer(string ended) =>
        Assert.Contains("already ended", SubscriptionOrdering.WhyIgnored(Current("sub_1", ended, 100, 110), "sub_1", 100, 200), StringComparison.Ordinal);

    [Fact]
    public void WhyIgnored_NewerSubscription_Supersedes() =>
        Assert.Null(SubscriptionOrdering.WhyIgnored(Current("sub_1", "canceled", 100, 110), "sub_2", 150, 150));

    [Fact]
    public void WhyIgnored_OlderSubscription_IsIgnored() =>
        Assert.Contains("older than", SubscriptionOrdering.WhyIgnored(Current("sub_2", "active", 150, 160), "sub_1", 100, 300), StringComparison.Ordinal);

    [Theory]
    [InlineData("active", true)]
    [InlineData("incomplete", true)]
    [InlineData("past_due", true)]
    [InlineData("canceled", false)]
    [InlineData(SubscriptionOrdering.CheckoutPaymentFailed, false)]
    public void HasLiveSubscription_RecordedStatus_TrueUntilItEndsOrItsCheckoutPaymentFailed(string status, bool live) =>
        Assert.Equal(live, SubscriptionOrdering.HasLiveSubscription(Current("sub_1", status, 100, 110)));

    [Theory]
    [InlineData("active", true)]
    [InlineData("trialing", true)]
    [InlineData("past_due", true)]
    [InlineData("unpaid", true)]
    [InlineData("paused", true)]
    [InlineData("incomplete", false)]
    [InlineData("incomplete_expired", false)]
    [InlineData("canceled", false)]
    [InlineData("", false)]
    [InlineData(SubscriptionOrdering.CheckoutPaymentFailed, false)]
    public void HasStarted_Status_OnlyOnceItWasPaid(string status, bool started) =>
        Assert.Equal(started, SubscriptionOrdering.HasStarted(status));

    [Fact]
    public void WhyPaymentFailureIgnored_CheckoutPaymentFailedAlready_IsIgnored() =>
        Assert.Contains("was never paid", SubscriptionOrdering.WhyPaymentFailureIgnored(
            Current("sub_1", SubscriptionOrdering.CheckoutPaymentFailed, 100, 110), "sub_1", 200), StringComparison.Ordinal);
    [Theory]
    [InlineData(0, "", "active", OverageTerms.None)]
    [InlineData(2, "", "", OverageTerms.Operator)]
    [InlineData(2, "", "past_due", OverageTerms.Operator)]
    [InlineData(1, "price_metered", "active", OverageTerms.Billed)]
    [InlineData(1, "price_metered", "trialing", OverageTerms.Billed)]
    [InlineData(1, "price_metered", "past_due", OverageTerms.Refused)]
    [InlineData(1, "price_metered", "canceled", OverageTerms.Refused)]
    [InlineData(1, "price_metered", "", OverageTerms.Refused)]
    public void OverageOf_PlanAndSubscription_StripeBilledOverageOnlyForAPayingSubscriber(long overagePrice, string stripeOveragePrice, string status, OverageTerms expected)
    {
        var plan = new Core.Identity.PlanDefinition { Id = "p", Name = "P", OveragePrice = overagePrice, StripeOveragePriceId = stripeOveragePrice };
        var customer = status.Length == 0 ? null : Current("sub_1", status, 100, 110);

        Assert.Equal(expected, SubscriptionOrdering.OverageOf(plan, customer));
    }

    [Fact]
    public void OverageOf_PlanNoLongerStored_None() =>
        Assert.Equal(OverageTerms.None, SubscriptionOrdering.OverageOf(null, Current("sub_1", "active", 100, 110)));
}
