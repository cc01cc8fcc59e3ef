using ApiGate.Core.Billing;
using ApiGate.Core.Identity;

namespace ApiGate.Core.Tests.Billing;

public sealed class SubscriptionPlanTests
{
    private static readonly PlanDefinition Pro = new() { Id = "pro", Name = "Pro", PriceMonthly = 2900, StripePriceId = "price_pro", StripeOveragePriceId = "price_meter" };
    private static readonly PlanDefinition Payg = new() { Id = "payg", Name = "Payg", OveragePrice = 1, StripeOveragePriceId = "price_meter" };
    private static readonly PlanDefinition Free = new() { Id = "free", Name = "Free" };

    [Fact]
    public void Find_MonthlyPriceAndMeteredPrice_ThePlanOfTheMonthlyPrice() =>
        Assert.Same(Pro, SubscriptionPlan.Find([Payg, Pro, Free], ["price_meter", "price_pro"], ""));

    [Fact]
    public void Find_OnlyTheMeteredPrice_ThePlanSoldWithItAlone() =>
        Assert.Same(Payg, SubscriptionPlan.Find([Pro, Payg, Free], ["price_meter"], "pro"));

    [Fact]
    public void Find_MeteredPriceOfAPlanGivenAMonthlyPriceSince_ThePlanItWasStartedFor()
    {
        var paygNowPaid = Payg with { PriceMonthly = 900, StripePriceId = "price_payg" };

        Assert.Same(paygNowPaid, SubscriptionPlan.Find([Pro, paygNowPaid, Free], ["price_meter"], "payg"));
    }

    [Fact]
    public void Find_MeteredPriceRemovedFromThePlanItWasStartedFor_ThatPlan()
    {
        var paygWithout = Payg with { StripeOveragePriceId = "" };

        Assert.Same(paygWithout, SubscriptionPlan.Find([Pro with { StripeOveragePriceId = "" }, paygWithout, Free], ["price_meter"], "payg"));
    }

    [Fact]
    public void Find_PaidPlansMonthlyPriceReplacedSinceAndItsMeteredPriceSharedWithAFreePlan_ThePaidPlanItWasStartedFor()
    {
        // The operator gave Pro a new monthly price; its earlier subscribers still carry the old one and the shared metered price
        var proRepriced = Pro with { StripePriceId = "price_pro_2027" };

        Assert.Same(proRepriced, SubscriptionPlan.Find([Payg, proRepriced, Free], ["price_pro", "price_meter"], "pro"));
    }

    [Fact]
    public void Find_MeteredPriceBesideAnUnknownPriceAndNoPlanStartedFor_NoPlan() =>
        Assert.Null(SubscriptionPlan.Find([Payg, Pro with { StripePriceId = "price_pro_2027" }, Free], ["price_pro", "price_meter"], ""));

    [Fact]
    public void Find_OldMonthlyPriceOfAPaidPlanWhoseStripePriceWasCleared_ThePlanItWasStartedFor()
    {
        // Arrange: pro no longer sold through Stripe; its subscribers still pay its old price there
        var proNotSold = Pro with { StripePriceId = "", StripeOveragePriceId = "" };

        // Act
        var startedForPro = SubscriptionPlan.Find([proNotSold, Payg, Free], ["price_pro"], "pro");
        var startedForNone = SubscriptionPlan.Find([proNotSold, Payg, Free], ["price_pro"], "");

        // Assert
        Assert.Same(proNotSold, startedForPro);
        Assert.Null(startedForNone);
    }

    [Theory]
    [InlineData("price_other", "")]
    [InlineData("price_other", "pro")]
    [InlineData("price_other", "gone")]
    public void Find_UnknownPrice_NoPlan(string price, string startedFor) =>
        Assert.Null(SubscriptionPlan.Find([Pro, Payg, Free], [price], startedFor));
}
