using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace ApiGate.Gateway.Tests.AdminUi;

public sealed class DashboardTests(ITestOutputHelper output) : AdminUiTestBase
{
    [BrowserFact]
    public async Task Dashboard_AfterTraffic_ChartsRenderWithTheRequests()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await Gateway.CreateKeyAsync("grace@example.com", new PlanInput { Id = "team", Name = "Team", RequestsPerMonth = 25, IsDefault = true });
        for (var i = 0; i < 21; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/item/" + i);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        foreach (var code in new[] { 404, 404, 429 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/item/status?code=" + code);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(code, (int)response.StatusCode);
        }

        await using var browser = await SignedInAsync();
        var page = browser.Page;
        // Usage reaches the store in batches: reload until the 24 requests are there (bounded).
        for (var attempt = 0; attempt < 50 && (await page.Locator("#stat-requests .ag-stat-value").TextContentAsync())?.Trim() != "24"; attempt++)
        {
            await Task.Delay(200);
            await browser.GoAsync("/ui");
        }

        await Assertions.Expect(page.Locator("#stat-requests .ag-stat-value")).ToHaveTextAsync("24");
        await Assertions.Expect(page.Locator("#stat-error-rate .ag-stat-value")).ToHaveTextAsync("12.5%");
        // The error rate by code: the upstream's 404s and 429, of 24 requests, most first
        Assert.Equal(["40428.3%", "42914.2%"], await page.Locator("#errors-by-code tbody tr").AllTextContentsAsync());
        foreach (var chart in new[] { "#chart-requests", "#chart-status", "#chart-latency", "#chart-top-users", "#chart-top-routes", "#near-quota" })
        {
            Assert.True(await page.Locator(chart + " svg path").CountAsync() > 0, chart + " drew no SVG paths");
        }

        await Assertions.Expect(page.Locator("#chart-top-users")).ToContainTextAsync("grace@example.com");
        await Assertions.Expect(page.Locator("#chart-top-routes")).ToContainTextAsync("api");
        await Assertions.Expect(page.Locator("#near-quota table")).ToContainTextAsync("96%"); // 24 of 25: the upstream's 4xx count too
        await Assertions.Expect(page.Locator("#this-instance")).ToContainTextAsync("This instance");
        // The tables under the charts look alike: flat in their card (no shadow, whose corners a scrolling box cut into stray marks), their cells padded alike
        Assert.Equal(
            ["errors-by-code: 10px, none", "top-users-table: 10px, none", "top-routes-table: 10px, none", "near-quota: 10px, none"],
            await page.Locator(".ag-grid table").EvaluateAllAsync<string[]>(
                """
                tables => tables.map(t => {
                  const table = t.closest('.mud-table');
                  return `${table.id || t.closest('.ag-card').id}: ${getComputedStyle(t.querySelector('th')).paddingLeft}, ${getComputedStyle(table).boxShadow}`;
                })
                """));
        await browser.ScreenshotAsync("admin-ui-dashboard");

        // The usage explorer shows the same traffic for the user: per day, per route, and the errors by code
        await browser.GoAsync("/ui/usage?user=grace%40example.com&days=7");
        await Assertions.Expect(page.Locator("#chart-usage-days h2")).ToHaveTextAsync("Requests per day: grace@example.com");
        Assert.True(await page.Locator("#chart-usage-days svg path").CountAsync() > 0, "the per-day chart drew no SVG paths");
        Assert.Equal(["api24240"], await page.Locator("#usage-routes tbody tr").AllTextContentsAsync());
        Assert.Equal(["40428.3%", "42914.2%"], await page.Locator("#usage-errors-by-code tbody tr").AllTextContentsAsync());
        await browser.ScreenshotAsync("admin-ui-usage");
    }

    [BrowserFact]
    public async Task EmptyDashboard_NoErrorAnswers_LineSpacedBelowTheStatusChartsLabels()
    {
        // Arrange: no traffic, so the status chart's card says there were no error answers instead of listing them
        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;
        var gaps = new List<string>();

        // Act: the space between the lowest of the chart's labels and the line under it, on a desktop and a phone
        foreach (var width in new[] { 1280, 390 })
        {
            await page.SetViewportSizeAsync(width, 844);
            Assert.Equal(200, await browser.GoAsync("/ui"));
            await Assertions.Expect(page.Locator("#errors-by-code-none")).ToHaveTextAsync("No error answers in the last hour.");
            var gap = await page.EvaluateAsync<double>(
                """
                () => {
                  const labels = Math.max(...[...document.querySelectorAll('#chart-status svg text')].map(t => t.getBoundingClientRect().bottom));
                  return document.getElementById('errors-by-code-none').getBoundingClientRect().top - labels;
                }
                """);
            if (gap < 6)
            {
                gaps.Add($"at {width} px the line starts {gap:0.#} px below the chart's labels");
            }
        }

        // Assert: at least the space a table under a chart leaves above its first line (its cells' 6 px padding); it
        // touched the labels
        Assert.Empty(gaps);
    }

    [BrowserFact]
    public async Task AuditPage_ChangesThroughTheApiAndTheConsole_ListedNewestFirstWithTheTokenName()
    {
        // Arrange: one change through the admin API, one through the console
        using (var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/admin/plans") { Content = new StringContent("""{"id":"gold","name":"Gold"}""", System.Text.Encoding.UTF8, "application/json") })
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/routes/new");
        await page.FillAsync("#f-name", "orders");
        await page.FillAsync("#f-path", "/orders/*");
        await page.ClickAsync("#save-route");
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Created route orders.");

        // Act
        await browser.GoAsync("/ui/audit");

        // Assert: newest first — the route, the sign-in, the plan
        var rows = page.Locator("#audit-table tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        await Assertions.Expect(rows.Nth(0)).ToContainTextAsync("POST /ui/routes/new");
        await Assertions.Expect(rows.Nth(0)).ToContainTextAsync("Created route orders.");
        await Assertions.Expect(rows.Nth(0)).ToContainTextAsync(TokenName);
        await Assertions.Expect(rows.Nth(1)).ToContainTextAsync("POST /ui/login");
        await Assertions.Expect(rows.Nth(1)).ToContainTextAsync("Signed in to the console.");
        await Assertions.Expect(rows.Nth(2)).ToContainTextAsync("POST /admin/plans");
        await browser.ScreenshotAsync("admin-ui-audit");
    }

    [BrowserFact]
    public async Task Dashboard_100kStoredEvents_RendersAndReportsTheTime()
    {
        var now = DateTimeOffset.UtcNow;
        var batch = new List<UsageEvent>(5000);
        const int total = 100_000, lastHour = 6_000;
        for (var i = 0; i < total; i++)
        {
            // 6,000 in the last 50 minutes, the rest over this month's past (or the last 25 days).
            var at = i < lastHour ? now.AddMinutes(-(i % 50)) : now.AddMinutes(-60 - (i % (25 * 24 * 60)));
            batch.Add(new UsageEvent
            {
                UserId = "user-" + (i % 100), KeyId = "key-" + (i % 100), RouteId = "route-" + (i % 20), UpstreamId = "up", Method = "GET",
                Path = "/p", Status = i % 50 == 0 ? 500 : 200, LatencyMs = i % 97, Units = 1, ClientIp = "127.0.0.1", RequestId = "r" + i, Timestamp = at,
            });
            if (batch.Count == batch.Capacity)
            {
                await Gateway.Store.AddUsageEventsAsync(batch, CancellationToken.None);
                batch.Clear();
            }
        }

        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using (var warm = await console.GetAsync("/ui"))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var watch = Stopwatch.StartNew();
        using var response = await console.GetAsync("/ui");
        var html = await response.Content.ReadAsStringAsync();
        watch.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("6,000", html, StringComparison.Ordinal);
        output.WriteLine($"dashboard with {total:N0} stored usage events: {watch.Elapsed.TotalMilliseconds:F0} ms (server render + transfer, SQLite)");
    }
}
