using System.Net;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>Every table of the console and the portal has one look: flat in its card, its cells padded alike.</summary>
public sealed class TableLookTests : AdminUiTestBase
{
    private const string Password = "correct horse battery";

    /// <summary>The look of a table in <c>.ag-table</c>: no shadow, dense cells padded 6 px by 10 px.</summary>
    private const string Look = "shadow none, cells padded 6px 10px";

    private protected override void Configure(GatewayOptions options)
    {
        options.PortalEnabled = true;
        options.PortalRequireVerification = false;
    }

    [BrowserFact]
    public async Task EveryPageWithRows_EveryTable_FlatWithItsCellsPaddedAlike()
    {
        // Arrange: a row in every list and table of the console (traffic with an error answer and a user near the quota
        // for the dashboard and the usage page, a tried path, a linked JWT subject, a webhook delivery), and a portal
        // customer with a key that has been used
        var upstream = await Gateway.AddUpstreamAsync("demo-echo", Upstream.Url);
        var route = await Gateway.AddRouteAsync(new RouteInput { Name = "demo-api", Path = "/api/*", Upstream = "demo-echo", PathRewrite = "/echo/$1", AuthRequired = true });
        var (key, _, _) = await Gateway.CreateKeyAsync("grace@example.com", new PlanInput { Id = "team", Name = "Team", RequestsPerMonth = 10, PriceMonthly = 2900, IsDefault = true });
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "max_projects", ValueType = EntitlementValueType.Number, DefaultValue = "1", HeaderName = "X-Max-Projects" }, CancellationToken.None)).Ok);
        Assert.True((await Gateway.Users.LinkIdentityAsync("grace@example.com", new IdentityLink("https://login.example.com/", "auth0|123"), CancellationToken.None)).Ok);
        var webhooks = Gateway.Service<WebhookService>();
        var endpoint = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, CancellationToken.None)).Value!.Endpoint;
        Assert.True((await webhooks.TestAsync(endpoint.Id, CancellationToken.None)).Ok);
        await Gateway.Store.ChangeStoredSettingsAsync([new("log.level", "debug")], DateTimeOffset.UtcNow, CancellationToken.None);
        await CallAsync(key, 8);

        const string customer = "ada@customer.example";
        Assert.True((await Gateway.Service<PortalAccountService>().SignUpAsync(customer, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        await using var portal = await BrowserHost.OpenAsync(Gateway.Url, 1280, 800);
        await portal.GoAsync("/portal/login");
        await portal.Page.FillAsync("#email", customer);
        await portal.Page.FillAsync("#password", Password);
        await portal.Page.ClickAsync("#log-in");
        await BrowserPage.ArrivedAtAsync(portal.Page, "/portal");
        Assert.Equal(200, await portal.GoAsync("/portal/keys"));
        await portal.Page.FillAsync("#key-name", "laptop");
        await portal.Page.Locator("#key-name").PressAsync("Enter");
        await Assertions.Expect(portal.Page.Locator("#new-key")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^ak_[0-9a-f]{64}$"));
        await CallAsync((await portal.Page.Locator("#new-key").TextContentAsync())!, 1);

        await using var console = await SignedInAsync(1280, 800);
        // Usage reaches the store in batches, and the test delivery is sent in the background: reload until they are
        // there (bounded).
        await ReloadUntilAsync(console, "/ui", "#near-quota table");
        await ReloadUntilAsync(console, "/ui", "#errors-by-code");
        await ReloadUntilAsync(portal, "/portal", "#errors-table");
        await ReloadUntilAsync(console, "/ui/webhooks?deliveries=" + endpoint.Id, "#deliveries-table tbody tr");
        var consolePages = new[]
        {
            "/ui", "/ui/routes?try_method=GET&try_path=%2Fapi%2Fitem", "/ui/routes/new", $"/ui/routes/{route.Id}/edit", "/ui/upstreams",
            "/ui/upstreams/new", $"/ui/upstreams/{upstream.Id}/edit", "/ui/plans", "/ui/users?subjects=grace%40example.com", "/ui/keys",
            "/ui/keys?for=grace%40example.com", "/ui/entitlements", "/ui/usage?user=grace%40example.com", "/ui/webhooks",
            "/ui/webhooks?deliveries=" + endpoint.Id, "/ui/settings", "/ui/audit",
        };
        var portalPages = new[] { "/portal", "/portal/keys", "/portal/plans", "/portal/reference", "/portal/account" };
        var looks = new List<(string Table, string Look)>();

        // Act
        await LooksAsync(console, consolePages, looks);
        await LooksAsync(portal, portalPages, looks);

        // Assert: each table with rows was there, and all of them look the same
        string[] tables =
            [
                "/ui #errors-by-code", "/ui #top-users-table", "/ui #top-routes-table", "/ui #near-quota", "/ui #this-instance-table",
                "/ui/routes #try-table", "/ui/routes #routes-table", "/ui/upstreams #upstream demo-echo", "/ui/plans #plans-table",
                "/ui/users #jwt-subjects-table", "/ui/users #users-table", "/ui/keys #keys-table", "/ui/keys #keys-table",
                "/ui/entitlements #entitlements-table", "/ui/usage #usage-routes", "/ui/usage #usage-errors-by-code",
                "/ui/webhooks #webhooks-table", "/ui/webhooks #webhooks-table",
                "/ui/webhooks #deliveries-table", "/ui/settings #stored-table", "/ui/settings #settings-table",
                "/ui/audit #audit-table", "/portal #top-routes", "/portal #errors-table", "/portal/keys #keys-table", "/portal/account #account-table",
            ];
        Assert.Equal(tables.Select(t => $"{t}: {Look}"), looks.Select(l => $"{l.Table}: {l.Look}"));
    }

    /// <summary>Sends <paramref name="count"/> requests with the key on the route /api/*, the last one answered 404 by the upstream.</summary>
    private async Task CallAsync(string key, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var last = i == count - 1;
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + (last ? "/api/item/status?code=404" : "/api/item/" + i));
            request.Headers.Add("X-API-Key", key);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(last ? HttpStatusCode.NotFound : HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static async Task ReloadUntilAsync(BrowserPage browser, string path, string selector)
    {
        Assert.Equal(200, await browser.GoAsync(path));
        for (var attempt = 0; attempt < 50 && await browser.Page.Locator(selector).CountAsync() == 0; attempt++)
        {
            await Task.Delay(200);
            await browser.GoAsync(path);
        }

        Assert.True(await browser.Page.Locator(selector).CountAsync() > 0, $"no {selector} on {path}");
    }

    /// <summary>
    /// Adds the look of each table on each page to <paramref name="looks"/>, in the page's order, with the page's path and
    /// the table's name (its id, else its card's, else the upstream its card is of).
    /// </summary>
    private static async Task LooksAsync(BrowserPage browser, IEnumerable<string> paths, List<(string Table, string Look)> looks)
    {
        foreach (var path in paths)
        {
            Assert.Equal(200, await browser.GoAsync(path));
            var found = await browser.Page.EvaluateAsync<string[][]>(
                """
                () => [...document.querySelectorAll('main table')].map(t => {
                  const table = t.closest('.mud-table') ?? t, card = t.closest('.ag-card');
                  const name = table.id || card?.id || (card?.dataset.upstream ? 'upstream ' + card.dataset.upstream : '?');
                  const paddings = [...new Set([...t.querySelectorAll('th, td')].map(c => getComputedStyle(c).padding))];
                  return [name, `shadow ${getComputedStyle(table).boxShadow}, cells padded ${paddings.join(' / ')}`];
                })
                """);
            foreach (var table in found)
            {
                looks.Add(($"{path.Split('?')[0]} #{table[0]}", table[1]));
            }
        }
    }
}
