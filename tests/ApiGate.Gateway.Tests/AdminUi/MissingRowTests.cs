using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Admin;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// A console form sent after its row was deleted through the admin API answers as the admin API does: 404, here with a
/// page naming what no longer exists and a link back to its list, and nothing changed.
/// </summary>
public sealed partial class MissingRowTests : AdminUiTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;

    private async Task DeleteThroughTheAdminApiAsync(string path)
    {
        var response = await AdminTestBase.SendAsync(Gateway, Token, HttpMethod.Delete, path);
        Assert.True(response.Status is HttpStatusCode.NoContent or HttpStatusCode.OK, $"DELETE {path}: {(int)response.Status} {response.Raw}");
    }

    private static string Expected(string kind, string name, string list) =>
        $"There is no {kind} <strong>{name}</strong> any more: it may have been deleted through the admin API, the CLI or another session. " +
        $"Nothing was changed. <a href=\"{list}\">Back to the {kind}s</a>.";

    /// <summary>The 404 page's message (inner HTML), or the whole body when it has none.</summary>
    private static async Task<(HttpStatusCode Status, string Message)> AnswerAsync(HttpResponseMessage response)
    {
        var html = await response.Content.ReadAsStringAsync();
        var match = MissingRowMessage().Match(html);
        return (response.StatusCode, match.Success ? match.Groups[1].Value : html);
    }

    [BrowserFact]
    public async Task EditRoute_DeletedThroughTheAdminApiBeforeSaving_404PageNamingTheRouteWithALinkToTheRoutes()
    {
        // Arrange
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "orders", Path = "/orders/*", Upstream = "backend" });
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/routes/orders/edit");
        await DeleteThroughTheAdminApiAsync("/routes/orders");

        // Act
        await page.FillAsync("#f-description", "too late");
        var response = await page.RunAndWaitForResponseAsync(() => page.ClickAsync("#save-route"), r => r.Request.Method == "POST");

        // Assert
        Assert.Equal(404, response.Status);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("This route no longer exists");
        await Assertions.Expect(page.Locator("#missing-row")).ToHaveTextAsync(
            "There is no route orders any more: it may have been deleted through the admin API, the CLI or another session. Nothing was changed. Back to the routes.");
        await browser.ScreenshotAsync("admin-ui-missing-row");
        await page.ClickAsync("#missing-row a");
        await page.WaitForURLAsync("**/ui/routes");
        await Assertions.Expect(page.Locator("#routes-empty")).ToHaveCountAsync(1);
        Assert.Null(await Gateway.Store.FindRouteAsync("orders", None));
    }

    [Fact]
    public async Task EditRoute_OpenedAfterTheRouteWasDeleted_404PageNamingIt()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var response = await console.GetAsync("/ui/routes/orders/edit");

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("route", "orders", "/ui/routes")), await AnswerAsync(response));
    }

    [Fact]
    public async Task EditPlan_DeletedThroughTheAdminApiBeforeSaving_404PageNamingThePlan()
    {
        // Arrange
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "gold", Name = "Gold" }, None)).Ok);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans?edit=gold");
        await DeleteThroughTheAdminApiAsync("/plans/gold");

        // Act
        using var response = await console.PostAsync("/ui/plans?edit=gold",
            [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("editing", "gold"), new("name", "Gold plus"), new("enabled", "true")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("plan", "gold", "/ui/plans")), await AnswerAsync(response));
        Assert.False((await Gateway.Plans.GetAsync("gold", None)).Ok);
    }

    [Fact]
    public async Task ChangeUsersPlan_UserDeletedThroughTheAdminApiBeforeSending_404PageNamingTheUser()
    {
        // Arrange
        var (_, user, _) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/users");
        await DeleteThroughTheAdminApiAsync("/users/" + user.Id);

        // Act
        using var response = await console.PostAsync("/ui/users",
            [new("_handler", "p" + user.Id), new("__RequestVerificationToken", antiforgery), new("id", user.Id), new("label", "ann@example.com"), new("plan", "")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("user", "ann@example.com", "/ui/users")), await AnswerAsync(response));
        Assert.False((await Gateway.Users.GetAsync(user.Id, None)).Ok);
    }

    [Fact]
    public async Task RevokeKey_KeyDeletedWithItsUserThroughTheAdminApiBeforeSending_404PageNamingTheKey()
    {
        // Arrange
        var (_, user, key) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/keys");
        await DeleteThroughTheAdminApiAsync("/users/" + user.Id);

        // Act
        using var response = await console.PostAsync("/ui/keys",
            [new("_handler", "r" + key.Id), new("__RequestVerificationToken", antiforgery), new("id", key.Id), new("label", key.Prefix + "…")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("key", key.Prefix + "…", "/ui/keys")), await AnswerAsync(response));
    }

    [Fact]
    public async Task RevokeKey_RevokedThroughTheAdminApiBeforeSending_RevokedAsTheAdminApiAnswers()
    {
        // Arrange
        var (_, _, key) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/keys");
        await DeleteThroughTheAdminApiAsync("/keys/" + key.Id);

        // Act
        using var response = await console.PostAsync("/ui/keys",
            [new("_handler", "r" + key.Id), new("__RequestVerificationToken", antiforgery), new("id", key.Id), new("label", key.Prefix + "…")]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.StartsWith("/ui/keys?done=", console.PathOf(response), StringComparison.Ordinal);
        Assert.NotNull((await Gateway.Keys.GetAsync(key.Id, None)).Value!.RevokedAt);
    }

    [Fact]
    public async Task DeleteUpstream_DeletedThroughTheAdminApiBeforeSending_404PageNamingTheUpstream()
    {
        // Arrange
        var upstream = await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/upstreams");
        await DeleteThroughTheAdminApiAsync("/upstreams/backend");

        // Act
        using var response = await console.PostAsync("/ui/upstreams",
            [new("_handler", "d" + upstream.Id), new("__RequestVerificationToken", antiforgery), new("id", upstream.Id), new("label", "backend")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("upstream", "backend", "/ui/upstreams")), await AnswerAsync(response));
    }

    [Fact]
    public async Task DeleteEntitlement_DeletedThroughTheAdminApiBeforeSending_404PageNamingTheEntitlement()
    {
        // Arrange
        var entitlement = (await Gateway.Entitlements.CreateAsync(new EntitlementInput { Name = "tier", ValueType = "string", DefaultValue = "basic" }.ToChanges().Value!, None)).Value!;
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/entitlements");
        await DeleteThroughTheAdminApiAsync("/entitlements/" + entitlement.Id);

        // Act
        using var response = await console.PostAsync("/ui/entitlements",
            [new("_handler", "d" + entitlement.Id), new("__RequestVerificationToken", antiforgery), new("id", entitlement.Id), new("label", "tier")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("entitlement", "tier", "/ui/entitlements")), await AnswerAsync(response));
    }

    [Fact]
    public async Task SendWebhookTest_EndpointDeletedThroughTheAdminApiBeforeSending_404PageNamingTheEndpoint()
    {
        // Arrange
        var endpoint = (await Gateway.Service<WebhookService>().CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/webhooks");
        await DeleteThroughTheAdminApiAsync("/webhooks/" + endpoint.Id);

        // Act
        using var response = await console.PostAsync("/ui/webhooks",
            [new("_handler", "t" + endpoint.Id), new("__RequestVerificationToken", antiforgery), new("id", endpoint.Id)]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("webhook endpoint", endpoint.Id, "/ui/webhooks")), await AnswerAsync(response));
    }

    [GeneratedRegex("<p id=\"missing-row\">(.*?)</p>", RegexOptions.Singleline)]
    private static partial Regex MissingRowMessage();
}
