using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Admin;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// A console form sent after its row was deleted through the admin API answers as the admin API does: 404, here with a
/// page naming what no longer exists and a link back to its list, and nothing changed. A row that is still there but no
/// longer on the page the form was sent from (the list changed) gets what the form asked.
/// </summary>
public sealed partial class MissingRowTests : AdminUiTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;

    private async Task DeleteThroughTheAdminApiAsync(string path)
    {
        var response = await AdminTestBase.SendAsync(Gateway, Token, HttpMethod.Delete, path);
        Assert.True(response.Status is HttpStatusCode.NoContent or HttpStatusCode.OK, $"DELETE {path}: {(int)response.Status} {response.Raw}");
    }

    /// <summary>A console client signed in with the admin token.</summary>
    private async Task<ConsoleHttp> SignedInConsoleAsync()
    {
        var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        return console;
    }

    /// <summary>The fields of a list's row form as the page sends them: its name, the antiforgery token, the row's id and label.</summary>
    private static KeyValuePair<string, string>[] RowForm(string handler, string antiforgery, string id, string label) =>
        [new("_handler", handler), new("__RequestVerificationToken", antiforgery), new("id", id), new("label", label)];

    /// <summary>The 404 page's message (inner HTML) about <paramref name="name"/>, its link to <paramref name="list"/> named <paramref name="listName"/> (by default the kind's plural).</summary>
    internal static string Expected(string kind, string name, string list, string? listName = null) =>
        $"There is no {kind} <strong>{name}</strong> any more: it may have been deleted through the admin API, the CLI or another session. " +
        $"Nothing was changed. <a href=\"{list}\">Back to the {listName ?? kind + "s"}</a>.";

    /// <summary>The 404 page's message (inner HTML) about <paramref name="id"/>, which the console never showed as a row, its link to <paramref name="list"/>.</summary>
    internal static string ExpectedNotFound(string kind, string id, string list, string? listName = null) =>
        $"There is no {kind} <strong>{id}</strong>. Nothing was changed. <a href=\"{list}\">Back to the {listName ?? kind + "s"}</a>.";

    /// <summary>An id of 200 characters starting with markup, as a request may make one up.</summary>
    internal static readonly string LongMadeUpId = "<script>x" + new string('a', 191);

    /// <summary><see cref="LongMadeUpId"/> as the 404 page shows it: cut to 64 characters, escaped.</summary>
    internal static string LongMadeUpIdShown => WebUtility.HtmlEncode(LongMadeUpId[..64]) + "…";

    /// <summary>The 404 page's message (inner HTML), or the whole body when it has none.</summary>
    internal static async Task<(HttpStatusCode Status, string Message)> AnswerAsync(HttpResponseMessage response)
    {
        var html = await response.Content.ReadAsStringAsync();
        var match = MissingRowMessage().Match(html);
        return (response.StatusCode, match.Success ? match.Groups[1].Value : html);
    }

    [BrowserFact]
    public async Task EditRoute_OpenedByTheAddressOfARouteNeverStored_404PageSaysItIsNotFoundWithALinkToTheRoutes()
    {
        // Arrange
        await using var browser = await SignedInAsync();
        var page = browser.Page;

        // Act
        var response = await page.GotoAsync(ConsoleUrl + "/ui/routes/no-such-route/edit");

        // Assert
        Assert.Equal(404, response!.Status);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("This route was not found");
        await Assertions.Expect(page.Locator("#missing-row")).ToHaveTextAsync("There is no route no-such-route. Nothing was changed. Back to the routes.");
        await browser.ScreenshotAsync("admin-ui-row-not-found");
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
        await BrowserPage.ArrivedAtAsync(page, "/ui/routes");
        await Assertions.Expect(page.Locator("#routes-empty")).ToHaveCountAsync(1);
        Assert.Null(await Gateway.Store.FindRouteAsync("orders", None));
    }

    [Fact]
    public async Task EditRoute_OpenedForARouteNotStored_404PageSaysItIsNotFoundNotThatItIsGone()
    {
        // Arrange
        using var console = await SignedInConsoleAsync();

        // Act
        using var response = await console.GetAsync("/ui/routes/orders/edit");

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, ExpectedNotFound("route", "orders", "/ui/routes")), await AnswerAsync(response));
    }

    [Fact]
    public async Task EditRoute_OpenedWithALongMadeUpIdHoldingMarkup_404PageShowsItCutTo64CharactersAndEscaped()
    {
        // Arrange
        using var console = await SignedInConsoleAsync();

        // Act
        using var response = await console.GetAsync("/ui/routes/" + Uri.EscapeDataString(LongMadeUpId) + "/edit");

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, ExpectedNotFound("route", LongMadeUpIdShown, "/ui/routes")), await AnswerAsync(response));
    }

    [Fact]
    public async Task RevokeKey_PostNamingAMadeUpIdWithoutALabel_404PageSaysTheKeyIsNotFound()
    {
        // Arrange
        await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/keys");

        // Act
        using var response = await console.PostAsync("/ui/keys",
            [new("_handler", "rkey_madeup"), new("__RequestVerificationToken", antiforgery), new("id", "key_madeup")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, ExpectedNotFound("key", "key_madeup", "/ui/keys")), await AnswerAsync(response));
    }

    [Fact]
    public async Task EditPlan_DeletedThroughTheAdminApiBeforeSaving_404PageNamingThePlan()
    {
        // Arrange
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "gold", Name = "Gold" }, None)).Ok);
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/plans?edit=gold");
        var label = await LabelFromAsync(console, "/ui/plans?edit=gold", "plan");
        await DeleteThroughTheAdminApiAsync("/plans/gold");

        // Act
        using var response = await console.PostAsync("/ui/plans?edit=gold",
            [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("editing", "gold"), new("label", label), new("name", "Gold plus"), new("enabled", "true")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("plan", "gold", "/ui/plans")), await AnswerAsync(response));
        Assert.False((await Gateway.Plans.GetAsync("gold", None)).Ok);
    }

    [Fact]
    public async Task EditPlan_PostNamingALongMadeUpPlanWithoutALabel_404PageSaysItIsNotFoundCutTo64CharactersAndEscaped()
    {
        // Arrange
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/plans");

        // Act
        using var response = await console.PostAsync("/ui/plans",
            [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("editing", LongMadeUpId), new("name", "Gold plus"), new("enabled", "true")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, ExpectedNotFound("plan", LongMadeUpIdShown, "/ui/plans")), await AnswerAsync(response));
    }

    /// <summary>The field <paramref name="field"/> (sealed) of the row form named <paramref name="formName"/> on the console page <paramref name="path"/>, as sent back.</summary>
    internal static async Task<string> LabelFromAsync(ConsoleHttp console, string path, string formName, string field = "label")
    {
        using var response = await console.GetAsync(path);
        var match = Regex.Match(await response.Content.ReadAsStringAsync(),
            $"name=\"_handler\" value=\"{Regex.Escape(WebUtility.HtmlEncode(formName))}\".*?name=\"{field}\" value=\"([^\"]*)\"", RegexOptions.Singleline);
        Assert.True(match.Success, $"no row form {formName} with a field {field} on {path}");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    [Fact]
    public async Task ChangeUsersPlan_UserDeletedWithALabelMadeUpInThePost_404PageSaysTheIdIsNotFoundNotNamingThatLabel()
    {
        // Arrange
        var (_, user, _) = await Gateway.CreateKeyAsync("ann@example.com");
        await Gateway.CreateKeyAsync("boss@example.com");
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/users");
        await DeleteThroughTheAdminApiAsync("/users/" + user.Id);

        // Act: the label names another user, who is still there
        using var response = await console.PostAsync("/ui/users",
            [new("_handler", "p" + user.Id), new("__RequestVerificationToken", antiforgery), new("id", user.Id), new("label", "boss@example.com"), new("plan", "")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, ExpectedNotFound("user", user.Id, "/ui/users")), await AnswerAsync(response));
    }

    [Fact]
    public async Task ChangeUsersPlan_UserDeletedThroughTheAdminApiBeforeSending_404PageNamingTheUser()
    {
        // Arrange
        var (_, user, _) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/users");
        var label = await LabelFromAsync(console, "/ui/users", "p" + user.Id);
        await DeleteThroughTheAdminApiAsync("/users/" + user.Id);

        // Act
        using var response = await console.PostAsync("/ui/users",
            [new("_handler", "p" + user.Id), new("__RequestVerificationToken", antiforgery), new("id", user.Id), new("label", label), new("plan", "")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("user", "ann@example.com", "/ui/users")), await AnswerAsync(response));
        Assert.False((await Gateway.Users.GetAsync(user.Id, None)).Ok);
    }

    [Fact]
    public async Task RevokeKey_KeyDeletedWithItsUserThroughTheAdminApiBeforeSending_404PageNamingTheKey()
    {
        // Arrange
        var (_, user, key) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/keys");
        var label = await LabelFromAsync(console, "/ui/keys", "r" + key.Id);
        await DeleteThroughTheAdminApiAsync("/users/" + user.Id);

        // Act
        using var response = await console.PostAsync("/ui/keys",
            RowForm("r" + key.Id, antiforgery, key.Id, label));

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("key", key.Prefix + "…", "/ui/keys")), await AnswerAsync(response));
    }

    [Fact]
    public async Task RevokeKey_RevokedThroughTheAdminApiBeforeSending_RevokedAsTheAdminApiAnswers()
    {
        // Arrange
        var (_, _, key) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/keys");
        var label = await LabelFromAsync(console, "/ui/keys", "r" + key.Id);
        await DeleteThroughTheAdminApiAsync("/keys/" + key.Id);

        // Act
        using var response = await console.PostAsync("/ui/keys",
            RowForm("r" + key.Id, antiforgery, key.Id, label));

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
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/upstreams");
        var label = await LabelFromAsync(console, "/ui/upstreams", "d" + upstream.Id);
        await DeleteThroughTheAdminApiAsync("/upstreams/backend");

        // Act
        using var response = await console.PostAsync("/ui/upstreams",
            RowForm("d" + upstream.Id, antiforgery, upstream.Id, label));

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("upstream", "backend", "/ui/upstreams")), await AnswerAsync(response));
    }

    [Fact]
    public async Task DeleteEntitlement_DeletedThroughTheAdminApiBeforeSending_404PageNamingTheEntitlement()
    {
        // Arrange
        var entitlement = (await Gateway.Entitlements.CreateAsync(new EntitlementInput { Name = "tier", ValueType = "string", DefaultValue = "basic" }.ToChanges().Value!, None)).Value!;
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/entitlements");
        var label = await LabelFromAsync(console, "/ui/entitlements", "d" + entitlement.Id);
        await DeleteThroughTheAdminApiAsync("/entitlements/" + entitlement.Id);

        // Act
        using var response = await console.PostAsync("/ui/entitlements",
            RowForm("d" + entitlement.Id, antiforgery, entitlement.Id, label));

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("entitlement", "tier", "/ui/entitlements")), await AnswerAsync(response));
    }

    [Fact]
    public async Task SendWebhookTest_EndpointDeletedThroughTheAdminApiBeforeSending_404PageNamingTheEndpoint()
    {
        // Arrange
        var endpoint = (await Gateway.Service<WebhookService>().CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/webhooks");
        var label = await LabelFromAsync(console, "/ui/webhooks", "t" + endpoint.Id);
        await DeleteThroughTheAdminApiAsync("/webhooks/" + endpoint.Id);

        // Act
        using var response = await console.PostAsync("/ui/webhooks",
            RowForm("t" + endpoint.Id, antiforgery, endpoint.Id, label));

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("webhook endpoint", endpoint.Id, "/ui/webhooks")), await AnswerAsync(response));
    }

    [Fact]
    public async Task LinkSubject_UserDeletedThroughTheAdminApiBeforeSending_404PageNamingTheUser()
    {
        // Arrange
        var (_, user, _) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        const string Subjects = "/ui/users?q=ann%40example.com&subjects=ann%40example.com";
        var antiforgery = await console.TokenFromAsync(Subjects);
        var label = await LabelFromAsync(console, Subjects, "link-subject");
        await DeleteThroughTheAdminApiAsync("/users/" + user.Id);

        // Act
        using var response = await console.PostAsync(Subjects,
            [.. RowForm("link-subject", antiforgery, user.Id, label), new("subject", "auth0|ann"), new("issuer", "https://login.example.com/")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("user", "ann@example.com", "/ui/users")), await AnswerAsync(response));
        Assert.False((await Gateway.Users.GetAsync(user.Id, None)).Ok);
    }

    [Fact]
    public async Task LinkSubject_SubjectsNamingALongMadeUpUser_404PageSaysTheUserIsNotFoundCutTo64CharactersAndEscaped()
    {
        // Arrange
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/users");

        // Act
        using var response = await console.PostAsync("/ui/users?subjects=" + Uri.EscapeDataString(LongMadeUpId),
            [new("_handler", "link-subject"), new("__RequestVerificationToken", antiforgery), new("id", "usr_madeup"), new("subject", "auth0|ann"), new("issuer", "https://login.example.com/")]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, ExpectedNotFound("user", LongMadeUpIdShown, "/ui/users")), await AnswerAsync(response));
    }

    [Fact]
    public async Task UnlinkSubject_UnlinkedThroughTheAdminApiBeforeSending_404PageNamingTheSubjectWithALinkToTheUsersSubjects()
    {
        // Arrange
        var (_, user, _) = await Gateway.CreateKeyAsync("ann@example.com");
        Assert.True((await Gateway.Users.LinkIdentityAsync(user.Id, new IdentityLink("https://login.example.com/", "auth0|ann"), None)).Ok);
        using var console = await SignedInConsoleAsync();
        const string Subjects = "/ui/users?q=ann%40example.com&subjects=ann%40example.com";
        var antiforgery = await console.TokenFromAsync(Subjects);
        var link = await LabelFromAsync(console, Subjects, "uhttps://login.example.com/ auth0|ann", "link");
        await DeleteThroughTheAdminApiAsync($"/users/{user.Id}/identities?subject=auth0%7Cann&issuer=https%3A%2F%2Flogin.example.com%2F");

        // Act
        using var response = await console.PostAsync(Subjects,
            [new("_handler", "uhttps://login.example.com/ auth0|ann"), new("__RequestVerificationToken", antiforgery), new("id", user.Id),
             new("subject", "auth0|ann"), new("issuer", "https://login.example.com/"), new("link", link)]);

        // Assert
        Assert.Equal(
            (HttpStatusCode.NotFound, Expected("JWT subject", "auth0|ann of https://login.example.com/", "/ui/users?q=ann%40example.com&amp;subjects=ann%40example.com", "JWT subjects of ann@example.com")),
            await AnswerAsync(response));
    }

    [Fact]
    public async Task UnlinkSubject_ALongSubjectMadeUpInThePost_404PageSaysItIsNotFoundCutTo64CharactersAndEscaped()
    {
        // Arrange
        var (_, user, _) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        const string Subjects = "/ui/users?q=ann%40example.com&subjects=ann%40example.com";
        var antiforgery = await console.TokenFromAsync(Subjects);

        // Act
        using var response = await console.PostAsync(Subjects,
            [new("_handler", "uhttps://login.example.com/ " + LongMadeUpId), new("__RequestVerificationToken", antiforgery), new("id", user.Id),
             new("subject", LongMadeUpId), new("issuer", "https://login.example.com/")]);

        // Assert
        Assert.Equal(
            (HttpStatusCode.NotFound, ExpectedNotFound("JWT subject", LongMadeUpIdShown, "/ui/users?q=ann%40example.com&amp;subjects=ann%40example.com", "JWT subjects of ann@example.com")),
            await AnswerAsync(response));
    }

    [Fact]
    public async Task Redeliver_EndpointDeletedThroughTheAdminApiBeforeSending_404PageNamingTheEndpoint()
    {
        // Arrange
        var webhooks = Gateway.Service<WebhookService>();
        var endpoint = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;
        Assert.True((await webhooks.TestAsync(endpoint.Id, None)).Ok);
        var delivery = Assert.Single((await webhooks.DeliveriesAsync(endpoint.Id, 10, None)).Value!);
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/webhooks?deliveries=" + endpoint.Id);
        var label = await LabelFromAsync(console, "/ui/webhooks?deliveries=" + endpoint.Id, "r" + delivery.Id);
        await DeleteThroughTheAdminApiAsync("/webhooks/" + endpoint.Id);

        // Act
        using var response = await console.PostAsync("/ui/webhooks?deliveries=" + endpoint.Id,
            [.. RowForm("r" + delivery.Id, antiforgery, endpoint.Id, label), new("delivery", delivery.Id.ToString(CultureInfo.InvariantCulture))]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, Expected("webhook endpoint", endpoint.Id, "/ui/webhooks")), await AnswerAsync(response));
    }

    [Fact]
    public async Task Redeliver_ALongDeliveryIdMadeUpInThePost_404PageSaysTheDeliveryIsNotFoundCutTo64CharactersAndEscaped()
    {
        // Arrange: the endpoint is there, with its sealed label; the delivery id is not one it has
        var endpoint = (await Gateway.Service<WebhookService>().CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;
        using var console = await SignedInConsoleAsync();
        var deliveries = "/ui/webhooks?deliveries=" + endpoint.Id;
        var antiforgery = await console.TokenFromAsync(deliveries);
        var label = await LabelFromAsync(console, "/ui/webhooks", "t" + endpoint.Id);

        // Act
        using var response = await console.PostAsync(deliveries,
            [.. RowForm("r" + LongMadeUpId, antiforgery, endpoint.Id, label), new("delivery", LongMadeUpId)]);

        // Assert
        Assert.Equal(
            (HttpStatusCode.NotFound, ExpectedNotFound("webhook delivery", LongMadeUpIdShown, deliveries, "deliveries to " + endpoint.Id)),
            await AnswerAsync(response));
    }

    [Fact]
    public async Task Redeliver_DeliveryNoLongerAmongTheLatestShown_QueuedAgain()
    {
        // Arrange: the page lists an endpoint's latest 50 deliveries; 50 newer ones push the first off it
        var webhooks = Gateway.Service<WebhookService>();
        var endpoint = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;
        Assert.True((await webhooks.TestAsync(endpoint.Id, None)).Ok);
        var first = Assert.Single((await webhooks.DeliveriesAsync(endpoint.Id, 10, None)).Value!);
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/webhooks?deliveries=" + endpoint.Id);
        for (var i = 0; i < 50; i++)
        {
            Assert.True((await webhooks.TestAsync(endpoint.Id, None)).Ok);
        }

        // Act
        using var response = await console.PostAsync("/ui/webhooks?deliveries=" + endpoint.Id,
            [new("_handler", "r" + first.Id), new("__RequestVerificationToken", antiforgery), new("delivery", first.Id.ToString(CultureInfo.InvariantCulture)), new("id", endpoint.Id)]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.StartsWith($"/ui/webhooks?deliveries={endpoint.Id}&done=", console.PathOf(response), StringComparison.Ordinal);
        Assert.Contains(await Gateway.Store.ListAdminAuditAsync(10, None), a => a.Path == "/ui/webhooks" && a.Note == $"Queued delivery {first.Id} again.");
    }

    [Fact]
    public async Task ChangeUsersPlan_UserNowOnAnotherPageOfTheList_PlanChanged()
    {
        // Arrange: a list of two pages; the form is sent from the second page for a user that is on the first one now
        // (users before it were deleted, say), so its form is not on the page the post renders
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "gold", Name = "Gold" }, None)).Ok);
        for (var i = 0; i < 101; i++)
        {
            Assert.True((await Gateway.Users.CreateAsync(new UserChanges { Email = $"user{i:000}@example.com" }, None)).Ok);
        }

        var moved = (await Gateway.Users.ListPageAsync(null, 0, 100, None)).Items[0];
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/users?page=2");

        // Act
        using var response = await console.PostAsync("/ui/users?page=2",
            [new("_handler", "p" + moved.Id), new("__RequestVerificationToken", antiforgery), new("id", moved.Id), new("label", moved.Email), new("plan", "gold")]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("gold", (await Gateway.Users.GetAsync(moved.Id, None)).Value!.PlanId);
    }

    [Fact]
    public async Task RevokeKey_KeyNowOnTheNextPageOfTheList_Revoked()
    {
        // Arrange: the list shows the newest keys first, 100 a page; 100 keys created after the page was shown push the
        // key to the second page
        var (_, user, key) = await Gateway.CreateKeyAsync("ann@example.com");
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/keys");
        for (var i = 0; i < 100; i++)
        {
            Assert.True((await Gateway.Keys.CreateAsync(new KeyChanges { User = user.Id, Name = "ci " + i }, None)).Ok);
        }

        // Act
        using var response = await console.PostAsync("/ui/keys",
            RowForm("r" + key.Id, antiforgery, key.Id, key.Prefix + "…"));

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.NotNull((await Gateway.Keys.GetAsync(key.Id, None)).Value!.RevokedAt);
    }

    [Fact]
    public async Task RevokeKey_KeyNowOnTheNextPageOfTheList_ItsRowAddedToThePageNamesItsOwnerByEmail()
    {
        // Arrange: ann's key pushed to the second page by 100 newer keys of boss's; its revoke form sent from the first
        // page. The row is added to the page rendered for the post (so its form is found), which the redirect after the
        // revoke replaces: the page is rendered here as the post renders it.
        var (_, _, key) = await Gateway.CreateKeyAsync("ann@example.com");
        var (_, boss, _) = await Gateway.CreateKeyAsync("boss@example.com");
        for (var i = 0; i < 100; i++)
        {
            Assert.True((await Gateway.Keys.CreateAsync(new KeyChanges { User = boss.Id, Name = "ci " + i }, None)).Ok);
        }

        using var console = await SignedInConsoleAsync(); // the pages' services are built for the first page served
        await using var scope = Gateway.Service<ApiGate.Web.Shared.WebPagesContainer>().Services!.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
        ((IHostEnvironmentNavigationManager)scope.ServiceProvider.GetRequiredService<NavigationManager>()).Initialize(ConsoleUrl + "/", ConsoleUrl + "/ui/keys");
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/ui/keys";
        context.Request.Form = new FormCollection(new Dictionary<string, StringValues> { ["_handler"] = "r" + key.Id, ["id"] = key.Id });

        // Act
        var html = await ConsolePageRenderer.RenderAsync<ApiGate.Web.Admin.Pages.KeysPage>(scope.ServiceProvider, context);

        // Assert
        var row = Regex.Match(html, $"<tr data-key=\"{Regex.Escape(key.Prefix)}\">(.*?)</tr>", RegexOptions.Singleline);
        Assert.True(row.Success, "the key's row is not on the page");
        Assert.Equal("ann@example.com", Regex.Matches(row.Groups[1].Value, "<td>(.*?)</td>", RegexOptions.Singleline)[2].Groups[1].Value);
    }

    [Fact]
    public async Task DeleteUpstream_UpstreamNowOnAnotherPageOfTheList_Deleted()
    {
        // Arrange: two pages of upstreams by name; the form is sent from the second page for the first upstream (the
        // upstreams before it were deleted since, say)
        for (var i = 0; i < 101; i++)
        {
            await Gateway.AddUpstreamAsync($"backend{i:000}", Upstream.Url);
        }

        var moved = (await Gateway.Upstreams.GetAsync("backend000", None)).Value!;
        using var console = await SignedInConsoleAsync();
        var antiforgery = await console.TokenFromAsync("/ui/upstreams?page=2");

        // Act
        using var response = await console.PostAsync("/ui/upstreams?page=2",
            RowForm("d" + moved.Id, antiforgery, moved.Id, "backend000"));

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.False((await Gateway.Upstreams.GetAsync("backend000", None)).Ok);
    }

    [Fact]
    public async Task DeleteRoute_RouteNowOnAnotherPageOfTheList_Deleted()
    {
        // Arrange: two pages of routes; the form is sent from the second page for a route on the first one
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        for (var i = 0; i < 101; i++)
        {
            await Gateway.AddRouteAsync(new RouteInput { Name = $"r{i:000}", Path = $"/r{i:000}/*", Upstream = "backend" }, reload: false);
        }

        using var console = await SignedInConsoleAsync();
        var firstPage = await (await console.GetAsync("/ui/routes")).Content.ReadAsStringAsync();
        var name = FirstRouteRow().Match(firstPage).Groups[1].Value;
        var moved = (await Gateway.Store.FindRouteAsync(name, None))!;
        var antiforgery = await console.TokenFromAsync("/ui/routes?page=2");

        // Act
        using var response = await console.PostAsync("/ui/routes?page=2",
            RowForm("d" + moved.Id, antiforgery, moved.Id, name));

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Null(await Gateway.Store.FindRouteAsync(name, None));
    }

    [GeneratedRegex("<tr data-route=\"([^\"]+)\"")]
    private static partial Regex FirstRouteRow();

    [GeneratedRegex("<p id=\"missing-row\">(.*?)</p>", RegexOptions.Singleline)]
    private static partial Regex MissingRowMessage();
}
