using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's entitlements page: giving a plan an entitlement, and changing the value it has in place.</summary>
public sealed class EntitlementsPageTests : AdminUiTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;
    private string _key = "";

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "basic", Name = "Basic" }, None)).Ok);
        Assert.True((await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "max_projects", ValueType = EntitlementValueType.Number, DefaultValue = "1", HeaderName = "X-Max-Projects" }, None)).Ok);
        Assert.True((await Gateway.Users.CreateAsync(new UserChanges { Email = "ada@example.com", Plan = "basic" }, None)).Ok);
        _key = (await Gateway.Keys.CreateAsync(new KeyChanges { User = "ada@example.com" }, None)).Value!.FullKey;
        await Gateway.ReloadAsync();
    }

    [BrowserFact]
    public async Task Give_PlanHasTheEntitlementAlready_ChangesItsValueInPlaceAndRefusesAValueOfTheWrongType()
    {
        // Arrange
        await using var browser = await SignedInAsync();
        var page = browser.Page;

        // Act: give the plan 3, then 7 through the same form, then a value that is no number
        await GiveAsync(page, "3");
        await Assertions.Expect(page.Locator("#done")).ToContainTextAsync("Plan basic now has the entitlement.");
        var first = await SeenByBackendAsync("3");
        await GiveAsync(page, "7");
        await Assertions.Expect(page.Locator("#done")).ToContainTextAsync("Plan basic's value is now 7.");
        var second = await SeenByBackendAsync("7");
        await GiveAsync(page, "many");

        // Assert: one assignment, changed in place (same id), the bad value refused at its field and not stored
        await Assertions.Expect(page.Locator("#error-value")).ToContainTextAsync("'many' is not a number");
        Assert.Equal(("3", "7"), (first, second));
        var assignment = Assert.Single((await Gateway.PlanEntitlements.ListAsync("basic", None)).Value!);
        Assert.Equal("7", assignment.Value);
        await browser.GoAsync("/ui/entitlements");
        await Assertions.Expect(page.Locator("tr[data-entitlement='max_projects'] .mud-chip")).ToHaveTextAsync("basic = 7");
    }

    private async Task GiveAsync(IPage page, string value)
    {
        await page.GotoAsync(ConsoleUrl + "/ui/entitlements");
        await page.SelectOptionAsync("#f-plan", "basic");
        await page.SelectOptionAsync("#f-entitlement", new SelectOptionValue { Label = "max_projects" });
        await page.FillAsync("#f-value", value);
        await page.ClickAsync("#grant-entitlement");
    }

    /// <summary>
    /// The <c>X-Max-Projects</c> header the backend receives with the user's key, asked until it is
    /// <paramref name="expected"/> (a console change reaches the gateway within a second: bounded poll, 10 × 100 ms).
    /// </summary>
    private async Task<string> SeenByBackendAsync(string expected)
    {
        var seen = "";
        for (var attempt = 0; attempt < 10 && seen != expected; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(100);
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/projects");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen = Upstream.Received.Last(r => r.Path.EndsWith("/projects", StringComparison.Ordinal)).Headers["X-Max-Projects"].Single();
        }

        return seen;
    }
}
