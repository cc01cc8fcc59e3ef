using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's entitlements page: giving a plan an entitlement, changing the value it has in place, and removing it.</summary>
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
        var first = await SeenByBackendAfterTheNextPollAsync();
        await GiveAsync(page, "7");
        await Assertions.Expect(page.Locator("#done")).ToContainTextAsync("Plan basic's value is now 7.");
        var second = await SeenByBackendAfterTheNextPollAsync();
        await GiveAsync(page, "many");

        // Assert: one assignment, changed in place (same id), the bad value refused at its field and not stored
        await Assertions.Expect(page.Locator("#error-value")).ToContainTextAsync("'many' is not a number");
        Assert.Equal(("3", "7"), (first, second));
        var assignment = Assert.Single((await Gateway.PlanEntitlements.ListAsync("basic", None)).Value!);
        Assert.Equal("7", assignment.Value);
        await browser.GoAsync("/ui/entitlements");
        await Assertions.Expect(page.Locator("tr[data-entitlement='max_projects'] .mud-chip")).ToHaveTextAsync("basic = 7");
    }

    [Fact]
    public async Task Remove_TheDefaultSentInsteadTakesThePlanPastTheCap_409WithTheReasonAndTheValueKept()
    {
        // Arrange: a with a default of 8,192 characters, b with none; plan basic's values "v" for a and 8,192 characters
        // for b: without its value for a, basic would send a's default (16,429 bytes with the header names)
        foreach (var (name, fallback, value) in new[] { ("a", new string('d', 8192), "v"), ("b", "", new string('y', 8192)) })
        {
            var created = await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = name, ValueType = EntitlementValueType.String, DefaultValue = fallback }, None);
            Assert.True(created.Ok, created.Error?.ToString());
            var given = await Gateway.PlanEntitlements.CreateAsync(new PlanEntitlementInput { Plan = "basic", Entitlement = name, Value = value }, None);
            Assert.True(given.Ok, given.Error?.ToString());
        }

        var id = (await Gateway.PlanEntitlements.ListAsync("basic", None)).Value!.Single(v => v.Value == "v").Id;
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/entitlements");

        // Act: the value's × in the plans column
        using var refused = await console.PostAsync("/ui/entitlements", [new("_handler", "r" + id), new("__RequestVerificationToken", antiforgery), new("id", id)]);

        // Assert: a conflict, as the admin API answers it, not "not found"
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var html = WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync());
        Assert.Contains(
            "plan 'basic' would send 16429 bytes of entitlement headers (names and values); at most 16384 are allowed per plan; " +
            "without this value the plan sends the entitlement's default: shorten the default first, or give the plan a shorter value", html, StringComparison.Ordinal);
        Assert.Equal("v", (await Gateway.PlanEntitlements.GetAsync(id, None)).Value!.Value);
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
    /// The <c>X-Max-Projects</c> header the backend receives with the user's key once a config poll that began after the
    /// console's change has run (the poll applies it: every 100 ms here, 250 ms by default; counted, not timed).
    /// </summary>
    private async Task<string> SeenByBackendAfterTheNextPollAsync()
    {
        await Gateway.WaitForNextPollAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/projects");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        using var response = await Gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Upstream.Received.Last(r => r.Path.EndsWith("/projects", StringComparison.Ordinal)).Headers["X-Max-Projects"].Single();
    }
}
