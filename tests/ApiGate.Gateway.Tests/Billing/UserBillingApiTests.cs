using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// <c>GET /admin/users/{id}/billing</c> on a gateway with billing on: the user's billing customer and subscription, and
/// what their plan does past the quota (billed through Stripe, refused without a paying subscription, billed by the
/// operator, or none).
/// </summary>
public sealed class UserBillingApiTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    [Fact]
    public async Task GetBilling_UnknownUser_Returns404NamingTheUser()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var token = await h.AdminTokenAsync();

        // Act
        var (status, json) = await h.GetAdminAsync(token, "/users/nobody@example.com/billing");

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, status);
        var error = Assert.Single(json.GetProperty("errors").EnumerateArray());
        Assert.Equal(("404", "not_found", "no user with id or email 'nobody@example.com'"),
            (error.GetProperty("status").GetString(), error.GetProperty("code").GetString(), error.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task GetBilling_UserWithoutACustomer_NullsAndNotPaying()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.Gateway.Users.CreateAsync(new UserChanges { Email = "new@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();

        // Act: by email, as the other /users/{id} routes take it
        var (status, json) = await h.GetAdminAsync(token, "/users/new@example.com/billing");

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        var data = json.GetProperty("data");
        Assert.Equal(
            (user.Value!.Id, "free", true, JsonValueKind.Null, JsonValueKind.Null, JsonValueKind.Null, false, false, "none"),
            (data.GetProperty("user_id").GetString(), data.GetProperty("plan_id").GetString(), data.GetProperty("billing_enabled").GetBoolean(),
                data.GetProperty("customer_id").ValueKind, data.GetProperty("subscription_id").ValueKind, data.GetProperty("subscription_status").ValueKind,
                data.GetProperty("paying").GetBoolean(), data.GetProperty("suspended_by_billing").GetBoolean(), data.GetProperty("overage").GetString()));
    }

    [Theory]
    [InlineData("active", true, "billed")]
    [InlineData("trialing", true, "billed")]
    [InlineData("past_due", false, "refused")]
    public async Task GetBilling_PlanBillingOverageThroughStripe_BilledOnlyForAPayingSubscription(string subscriptionStatus, bool paying, string overage)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePaygPlanAsync(3);
        var id = await h.CreateCustomerAsync("sub@example.com", "cus_sub", plan: "payg", subscriptionStatus: subscriptionStatus);
        var token = await h.AdminTokenAsync();

        // Act: by id
        var (status, json) = await h.GetAdminAsync(token, $"/users/{id}/billing");

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        var data = json.GetProperty("data");
        Assert.Equal(
            ("payg", "cus_sub", "sub_cus_sub", subscriptionStatus, paying, false, overage),
            (data.GetProperty("plan_id").GetString(), data.GetProperty("customer_id").GetString(), data.GetProperty("subscription_id").GetString(),
                data.GetProperty("subscription_status").GetString(), data.GetProperty("paying").GetBoolean(), data.GetProperty("suspended_by_billing").GetBoolean(),
                data.GetProperty("overage").GetString()));
    }

    [Fact]
    public async Task GetBilling_PlanWithAnOveragePriceButNoStripePrice_OverageIsTheOperators()
    {
        // Arrange: a customer without a subscription, on a plan whose overage the operator bills from the usage reports
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePlanAsync(new PlanInput { Id = "invoiced", Name = "Invoiced", RequestsPerMonth = 3, OveragePrice = 2 });
        var id = await h.CreateCustomerAsync("inv@example.com", "cus_inv", plan: "invoiced");
        var token = await h.AdminTokenAsync();

        // Act
        var (status, json) = await h.GetAdminAsync(token, $"/users/{id}/billing");

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        var data = json.GetProperty("data");
        Assert.Equal(("cus_inv", JsonValueKind.Null, JsonValueKind.Null, false, "operator"),
            (data.GetProperty("customer_id").GetString(), data.GetProperty("subscription_id").ValueKind, data.GetProperty("subscription_status").ValueKind,
                data.GetProperty("paying").GetBoolean(), data.GetProperty("overage").GetString()));
    }

    [Fact]
    public async Task GetBilling_ActiveSubscriberOnAPlanWithoutOverage_OverageNone()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var id = await h.CreateCustomerAsync("pro@example.com", "cus_pro", plan: "pro", subscriptionStatus: "active");
        var token = await h.AdminTokenAsync();

        // Act
        var (status, json) = await h.GetAdminAsync(token, $"/users/{id}/billing");

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        var data = json.GetProperty("data");
        Assert.Equal(("pro", "active", true, "none"),
            (data.GetProperty("plan_id").GetString(), data.GetProperty("subscription_status").GetString(), data.GetProperty("paying").GetBoolean(),
                data.GetProperty("overage").GetString()));
    }
}
