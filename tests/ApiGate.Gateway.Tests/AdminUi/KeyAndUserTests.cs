using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

public sealed class KeyAndUserTests : AdminUiTestBase
{
    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var plan = await Gateway.Plans.CreateAsync(new PlanInput { Id = "basic", Name = "Basic", IsDefault = true }, CancellationToken.None);
        Assert.True(plan.Ok, plan.Error?.ToString());
        var user = await Gateway.Users.CreateAsync(new UserChanges { Email = "ada@example.com", Plan = "basic" }, CancellationToken.None);
        Assert.True(user.Ok, user.Error?.ToString());
    }

    [BrowserFact]
    public async Task CreateKey_Form_ShowsFullKeyOnceAndGatewayAcceptsIt()
    {
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/keys");

        await page.FillAsync("#f-user", "ada@example.com");
        await page.FillAsync("#f-name", "laptop");
        await page.FillAsync("#f-expires", "30d");
        await page.ClickAsync("#create-key");

        var key = (await page.Locator("#new-key").TextContentAsync())!.Trim();
        Assert.StartsWith("ak_", key, StringComparison.Ordinal);
        await page.ClickAsync("#copy-key");
        await Assertions.Expect(page.Locator("#copy-key")).ToHaveAttributeAsync("data-copied", "true");
        await browser.ScreenshotAsync("admin-ui-key-created");
        Assert.Equal(HttpStatusCode.OK, await SendWithKeyAsync(key));

        await browser.GoAsync("/ui/keys");
        Assert.Equal(0, await page.Locator("#new-key").CountAsync());
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("#keys-table tbody tr")).ToHaveCountAsync(1);
    }

    [BrowserFact]
    public async Task RevokeKey_Button_GatewayRefusesKeyAtTheNextPoll()
    {
        var created = await Gateway.Keys.CreateAsync(new KeyChanges { User = "ada@example.com", Name = "old" }, CancellationToken.None);
        var key = created.Value!.FullKey;
        await Gateway.ReloadAsync();
        Assert.Equal(HttpStatusCode.OK, await SendWithKeyAsync(key));
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/keys");
        page.Dialog += (_, dialog) => dialog.AcceptAsync();

        await page.ClickAsync($"tr[data-key='{created.Value.Key.Prefix}'] button");
        await Assertions.Expect(page.Locator("#done")).ToContainTextAsync("Revoked key");

        // The page stores the revocation and the config poll applies it (every 100 ms here, 250 ms by default: the
        // "within a second" the page promises): counted, not timed, as the machine is shared.
        await Gateway.WaitForNextPollAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, await SendWithKeyAsync(key));
        Assert.NotNull((await Gateway.Keys.GetAsync(created.Value.Key.Id, CancellationToken.None)).Value!.RevokedAt);
        await Assertions.Expect(page.Locator($"tr[data-key='{created.Value.Key.Prefix}'] .key-status")).ToHaveTextAsync("revoked");
    }

    [BrowserFact]
    public async Task SuspendUser_Button_UserSuspendedAndKeyRefused()
    {
        var created = await Gateway.Keys.CreateAsync(new KeyChanges { User = "ada@example.com" }, CancellationToken.None);
        await Gateway.ReloadAsync();
        Assert.Equal(HttpStatusCode.OK, await SendWithKeyAsync(created.Value!.FullKey)); // known to the gateway: only the applied change refuses it
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/users?q=ada");

        await page.ClickAsync("tr[data-user='ada@example.com'] button[aria-label='Suspend ada@example.com']");

        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Suspended ada@example.com.");
        await Assertions.Expect(page.Locator("tr[data-user='ada@example.com'] .user-status")).ToHaveTextAsync("suspended");
        Assert.Equal(Core.Identity.UserStatus.Suspended, (await Gateway.Users.GetAsync("ada@example.com", CancellationToken.None)).Value!.Status);
        await Gateway.WaitForNextPollAsync(); // the config poll applies what the page stored
        Assert.Equal(HttpStatusCode.Forbidden, await SendWithKeyAsync(created.Value.FullKey));
    }

    [BrowserFact]
    public async Task JwtSubjects_LinkThenUnlink_StoredAndListedWithFieldErrorsForBadInput()
    {
        // Arrange: the gateway has no jwt.issuer, so the issuer is typed
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/users?q=ada");
        await page.ClickAsync("tr[data-user='ada@example.com'] a:has-text('JWT subjects')");
        await Assertions.Expect(page.Locator("#jwt-subjects-empty")).ToBeVisibleAsync();

        // Act: a link without an issuer (refused at the field), then with one
        await page.FillAsync("#f-subject", "auth0|123");
        await page.ClickAsync("#link-subject");
        await Assertions.Expect(page.Locator("#jwt-subjects")).ToContainTextAsync("no issuer given");
        await page.FillAsync("#f-subject", "auth0|123");
        await page.FillAsync("#f-issuer", "https://login.example.com/");
        await page.ClickAsync("#link-subject");

        // Assert
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Linked subject 'auth0|123' of https://login.example.com/ to ada@example.com.");
        await Assertions.Expect(page.Locator("#jwt-subjects-table tr[data-subject='auth0|123']")).ToContainTextAsync("https://login.example.com/");
        Assert.Equal("ada@example.com", (await Gateway.Store.FindUserByIdentityAsync("https://login.example.com", "auth0|123", CancellationToken.None))?.Email);
        await browser.ScreenshotAsync("admin-ui-jwt-subjects");

        await page.ClickAsync("button[aria-label='Unlink auth0|123']");
        await Assertions.Expect(page.Locator("#done")).ToContainTextAsync("Unlinked subject 'auth0|123'");
        await Assertions.Expect(page.Locator("#jwt-subjects-empty")).ToBeVisibleAsync();
        Assert.Null(await Gateway.Store.FindUserByIdentityAsync("https://login.example.com", "auth0|123", CancellationToken.None));
    }

    private async Task<HttpStatusCode> SendWithKeyAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/hello");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Gateway.Client.SendAsync(request);
        return response.StatusCode;
    }
}
