using System.Net;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

public sealed class RouteFormTests : AdminUiTestBase
{
    [BrowserFact]
    public async Task CreateUpstreamAndRoute_ThroughForms_GatewayForwardsToThem()
    {
        await using var browser = await SignedInAsync();
        var page = browser.Page;

        await browser.GoAsync("/ui/upstreams/new");
        await page.FillAsync("#f-name", "backend");
        await page.FillAsync("#f-targets", Upstream.Url);
        await page.FillAsync("#f-timeout", "5s");
        await page.ClickAsync("#save-upstream");
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Created upstream backend.");
        await Assertions.Expect(page.Locator("[data-upstream=backend]")).ToContainTextAsync("timeout 5000 ms");

        await browser.GoAsync("/ui/routes/new");
        await page.FillAsync("#f-name", "orders");
        await page.FillAsync("#f-path", "/orders/*");
        await page.SelectOptionAsync("#f-upstream", new SelectOptionValue { Label = "backend" });
        await page.FillAsync("#f-path_rewrite", "/internal/$1");
        await page.UncheckAsync("#f-auth_required");
        await browser.ScreenshotAsync("admin-ui-route-form");
        await page.ClickAsync("#save-route");
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Created route orders.");
        await Assertions.Expect(page.Locator("#routes-table tr[data-route=orders]")).ToContainTextAsync("backend");
        await browser.ScreenshotAsync("admin-ui-routes");

        var status = await WaitForStatusAsync(Gateway.Url + "/orders/42", HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(Upstream.Received, r => r.Path == "/internal/42");
    }

    [BrowserTheory]
    [InlineData("route")]
    [InlineData("upstream")]
    [InlineData("plan")]
    public async Task Edit_RowChangedElsewhereAfterThePageOpened_409SayingSoAndTheOtherChangeKept(string kind)
    {
        // Arrange: the edit page open in the browser, then the same row changed through the admin API's services
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "orders", Path = "/orders/*", Upstream = "backend" });
        Assert.True((await Gateway.Plans.CreateAsync(new Core.Management.PlanInput { Id = "pro", Name = "Pro" }, CancellationToken.None)).Ok);
        var (id, editPage, name) = kind switch
        {
            "route" => ((await Gateway.Routes.GetAsync("orders", CancellationToken.None)).Value!.Id, "", "orders"),
            "upstream" => ((await Gateway.Upstreams.GetAsync("backend", CancellationToken.None)).Value!.Id, "", "backend"),
            _ => ("pro", "/ui/plans?edit=pro", "pro"),
        };
        editPage = editPage.Length > 0 ? editPage : $"/ui/{kind}s/{id}/edit";
        var error = kind == "plan" ? "#page-error" : "#form-error"; // the plan form is on its list's page
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync(editPage);
        var elsewhere = kind switch
        {
            "route" => (await Gateway.Routes.UpdateAsync(id, new Core.Management.RouteChanges { Description = "from the API" }, CancellationToken.None)).Ok,
            "upstream" => (await Gateway.Upstreams.UpdateAsync(id, new Core.Management.UpstreamChanges { Description = "from the API" }, CancellationToken.None)).Ok,
            _ => (await Gateway.Plans.UpdateAsync(id, new Core.Management.PlanInput { Description = "from the API" }, CancellationToken.None)).Ok,
        };
        Assert.True(elsewhere);

        // Act: the operator's own change, saved from the page opened before
        await page.FillAsync("#f-description", "from the console");
        var saved = await page.RunAndWaitForResponseAsync(() => page.ClickAsync($"#save-{kind}"), r => r.Request.Method == "POST");

        // Assert: refused, the other change kept, the operator's input still in the form
        Assert.Equal(409, saved.Status);
        await Assertions.Expect(page.Locator(error)).ToHaveTextAsync(
            $"This {kind} was changed (in another session, the CLI or the admin API) after this page was opened, so nothing was saved. " +
            $"Open the {kind} again to see its current settings, then make your change there.");
        await Assertions.Expect(page.Locator("#f-description")).ToHaveValueAsync("from the console");
        var stored = kind switch
        {
            "route" => (await Gateway.Routes.GetAsync(id, CancellationToken.None)).Value!.Description,
            "upstream" => (await Gateway.Upstreams.GetAsync(id, CancellationToken.None)).Value!.Description,
            _ => (await Gateway.Plans.GetAsync(id, CancellationToken.None)).Value!.Description,
        };
        Assert.Equal("from the API", stored);

        // Act + Assert: a second try from the refused form is refused too; the page opened again saves
        await page.ClickAsync($"#save-{kind}");
        await Assertions.Expect(page.Locator(error)).ToContainTextAsync("nothing was saved");
        await browser.GoAsync(editPage);
        await page.FillAsync("#f-description", "from the console");
        await page.ClickAsync($"#save-{kind}");
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync($"Saved {kind} {name}.");
    }

    [BrowserFact]
    public async Task CreateRoute_InvalidPath_ShowsServiceMessageAtPathField()
    {
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/routes/new");

        await page.FillAsync("#f-name", "broken");
        await page.FillAsync("#f-path", "orders");
        await page.ClickAsync("#save-route");

        var expected = (await Gateway.Routes.CreateAsync(new Core.Management.RouteChanges { Name = "broken", Path = "orders" }, CancellationToken.None)).Error!;
        Assert.Equal("path", expected.Field);
        await Assertions.Expect(page.Locator("#error-path")).ToHaveTextAsync(expected.Message);
        await Assertions.Expect(page.Locator("#f-path")).ToHaveValueAsync("orders");
        await Assertions.Expect(page.Locator("#f-path")).ToHaveAttributeAsync("aria-invalid", "true");
        Assert.Empty(await Gateway.Routes.ListAsync(CancellationToken.None));
    }

    [BrowserFact]
    public async Task TryAPath_MatchingRoute_ShowsRouteAndRewrittenPath()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "users", Path = "/users/{id}", MatchType = "exact", Upstream = "backend", PathRewrite = "/v2/people/{id}" });
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/routes");

        await page.FillAsync("#f-try_path", "/users/7");
        await page.ClickAsync("#try-submit");

        await Assertions.Expect(page.Locator("#try-route")).ToHaveTextAsync("users");
        await Assertions.Expect(page.Locator("#try-forwarded")).ToHaveTextAsync("/v2/people/7");
        await Assertions.Expect(page.Locator("#try-upstream")).ToContainTextAsync("backend");
        Assert.Equal(0, Upstream.Served);
    }

    [BrowserFact]
    public async Task EditRoute_StoredWithAnIndentedTransformPastTheBound_OtherFieldSaved_TransformKeptAsStored()
    {
        // Arrange: an indented transform adding 150 headers, stored before the bound of 100 (the browser sends a
        // textarea's line breaks back as CR LF, so the text is not byte-identical to the stored one)
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", CancellationToken.None))!;
        var transform = System.Text.Json.JsonSerializer.Serialize(
            new { headers = new { add = Enumerable.Range(0, 150).ToDictionary(i => "X-Add-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => "1") } },
            new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        await Gateway.Store.CreateRouteAsync(new Core.Routing.RouteDefinition
        {
            Id = "rt_wide", Name = "wide", Slug = "wide", PathPattern = "/wide/*", UpstreamId = backend.Id, RequestTransform = transform,
            CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/routes/wide/edit");

        // Act
        await page.FillAsync("#f-description", "kept as it is");
        await page.ClickAsync("#save-route");

        // Assert
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Saved route wide.");
        var stored = (await Gateway.Store.FindRouteAsync("wide", CancellationToken.None))!;
        Assert.Equal(("kept as it is", transform), (stored.Description, stored.RequestTransform));
    }

    [BrowserFact]
    public async Task EditRoute_StoredWithTwoSpellingsOfAHeader_OtherFieldSaved_ConditionsKeptAsStored()
    {
        // Arrange: X-Tier=gold and x-tier=silver, as a store written by an earlier build may hold them
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", CancellationToken.None))!;
        await Gateway.Store.CreateRouteAsync(new Core.Routing.RouteDefinition
        {
            Id = "rt_tiered", Name = "tiered", Slug = "tiered", PathPattern = "/tiered/*", UpstreamId = backend.Id,
            Headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["X-Tier"] = "gold", ["x-tier"] = "silver" },
            CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/routes/tiered/edit");

        // Act
        await page.FillAsync("#f-description", "edited in the console");
        await page.ClickAsync("#save-route");

        // Assert
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Saved route tiered.");
        var stored = (await Gateway.Store.FindRouteAsync("tiered", CancellationToken.None))!;
        Assert.Equal("edited in the console", stored.Description);
        Assert.Equal([("X-Tier", "gold"), ("x-tier", "silver")], stored.Headers.Select(h => (h.Key, h.Value)).Order());
    }

    /// <summary>Polls until the gateway answers <paramref name="expected"/> (config changes apply within the poll interval); bounded.</summary>
    internal static async Task<HttpStatusCode> WaitForStatusAsync(string url, HttpStatusCode expected)
    {
        using var client = TestGateway.CreateClient();
        var status = HttpStatusCode.InternalServerError;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var response = await client.GetAsync(url);
            status = response.StatusCode;
            if (status == expected)
            {
                break;
            }

            await Task.Delay(100);
        }

        return status;
    }
}
