using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Billing;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// The users page's Billing column with billing on: each user's subscription status, and a marker on the users whose
/// plan bills its overage through Stripe but who have no paying subscription (held to the quota: 402 past it).
/// </summary>
public sealed partial class UsersBillingPageTests : AdminUiTestBase, IDisposable
{
    private const string RefusedMarker =
        "<span class=\"ag-flag\" title=\"No paying subscription: requests past the quota get 402 quota_exceeded (this plan bills its overage through Stripe)\">overage refused</span>";

    private readonly FakeStripe _stripe = FakeStripe.StartAsync().GetAwaiter().GetResult();

    private protected override void Configure(GatewayOptions options)
    {
        _stripe.BillWith(options);
    }

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        var plan = await Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "payg", Name = "Metered", RequestsPerMonth = 1000, OveragePrice = 1, StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);
        Assert.True(plan.Ok, plan.Error?.ToString());
        await CustomerAsync("subscriber@example.com", "payg", "active");
        await CustomerAsync("held@example.com", "payg", "past_due");
        var plain = await Gateway.Users.CreateAsync(new UserChanges { Email = "plain@example.com" }, CancellationToken.None);
        Assert.True(plain.Ok, plain.Error?.ToString());
    }

    [Fact]
    public async Task UsersPage_BillingOn_ColumnShowsStatusAndMarksTheUserHeldToTheQuota()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var response = await console.GetAsync("/ui/users");
        var html = await response.Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<th>Plan</th><th>Billing</th><th>Created</th>", html, StringComparison.Ordinal);
        Assert.Equal("<td class=\"user-billing\">active</td>", BillingCell(html, "subscriber@example.com"));
        Assert.Equal("<td class=\"user-billing\">past_due " + RefusedMarker + "</td>", BillingCell(html, "held@example.com"));
        Assert.Equal("<td class=\"user-billing\">&#x2014;</td>", BillingCell(html, "plain@example.com"));
    }

    [Fact]
    public async Task UsersPage_NonCustomerOnAPlanBillingOverageThroughStripe_MarkedWithoutAStatus()
    {
        // Arrange: never subscribed, so nothing would bill the requests past the quota
        var user = await Gateway.Users.CreateAsync(new UserChanges { Email = "trying@example.com", Plan = "payg" }, CancellationToken.None);
        Assert.True(user.Ok, user.Error?.ToString());
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        var html = await (await console.GetAsync("/ui/users?q=trying")).Content.ReadAsStringAsync();

        // Assert
        Assert.Equal("<td class=\"user-billing\">&#x2014; " + RefusedMarker + "</td>", BillingCell(html, "trying@example.com"));
    }

    [BrowserFact]
    public async Task UsersPage_BillingOn_MarkerCarriesItsExplanation()
    {
        // Arrange
        await using var browser = await SignedInAsync();
        var page = browser.Page;

        // Act
        await browser.GoAsync("/ui/users");

        // Assert
        await Assertions.Expect(page.Locator("tr[data-user='held@example.com'] .user-billing")).ToHaveTextAsync("past_due overage refused");
        await Assertions.Expect(page.Locator("tr[data-user='held@example.com'] .ag-flag")).ToHaveAttributeAsync("title",
            "No paying subscription: requests past the quota get 402 quota_exceeded (this plan bills its overage through Stripe)");
        await Assertions.Expect(page.Locator("tr[data-user='subscriber@example.com'] .user-billing")).ToHaveTextAsync("active");
        await browser.ScreenshotAsync("admin-ui-users-billing");
    }

    public void Dispose() => _stripe.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task CustomerAsync(string email, string plan, string subscriptionStatus)
    {
        var user = await Gateway.Users.CreateAsync(new UserChanges { Email = email, Plan = plan }, CancellationToken.None);
        Assert.True(user.Ok, user.Error?.ToString());
        var customerId = "cus_" + email.Split('@')[0];
        await Gateway.Store.AddBillingCustomerAsync(
            new BillingCustomer(user.Value!.Id, "stripe", customerId, "sub_" + customerId, subscriptionStatus, 0, 0, false, DateTimeOffset.UtcNow), CancellationToken.None);
    }

    /// <summary>The Billing cell of the row of <paramref name="email"/>, as served.</summary>
    internal static string BillingCell(string html, string email)
    {
        var row = html.IndexOf($"data-user=\"{email}\"", StringComparison.Ordinal);
        Assert.True(row >= 0, $"no row for {email}");
        var end = html.IndexOf("</tr>", row, StringComparison.Ordinal);
        var cell = BillingCellPattern().Match(html, row, end - row);
        Assert.True(cell.Success, $"no Billing cell in the row of {email}");
        return cell.Value;
    }

    [GeneratedRegex("<td class=\"user-billing\">.*?</td>")]
    private static partial Regex BillingCellPattern();
}

/// <summary>The users page with billing off: no Billing column.</summary>
public sealed class UsersPageWithoutBillingTests : AdminUiTestBase
{
    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        var user = await Gateway.Users.CreateAsync(new UserChanges { Email = "ada@example.com" }, CancellationToken.None);
        Assert.True(user.Ok, user.Error?.ToString());
    }

    [Fact]
    public async Task UsersPage_BillingOff_NoBillingColumn()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var response = await console.GetAsync("/ui/users");
        var html = await response.Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<th>Plan</th><th>Created</th>", html, StringComparison.Ordinal);
        Assert.Contains("data-user=\"ada@example.com\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("user-billing", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<th>Billing</th>", html, StringComparison.Ordinal);
    }
}
