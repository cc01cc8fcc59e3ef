using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's charts at a desktop's and a phone's width: axis labels large enough to read, none over another, the dashboard's charts all of one size.</summary>
public sealed class ChartLabelTests : AdminUiTestBase
{
    [BrowserFact]
    public async Task DashboardAndUsage_AfterTraffic_AxisLabelsReadableAt1280And390AndApart()
    {
        // Arrange: requests of one user through a key-protected route, two of them refused by the upstream
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await Gateway.CreateKeyAsync("grace@example.com", new PlanInput { Id = "team", Name = "Team", RequestsPerMonth = 12, IsDefault = true });
        foreach (var path in new[] { "/api/a", "/api/b", "/api/c", "/api/d", "/api/e", "/api/f", "/api/g", "/api/h", "/api/item/status?code=404", "/api/item/status?code=429" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(path.EndsWith("404", StringComparison.Ordinal) ? HttpStatusCode.NotFound : path.EndsWith("429", StringComparison.Ordinal) ? HttpStatusCode.TooManyRequests : HttpStatusCode.OK, response.StatusCode);
        }

        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;
        // Usage reaches the store in batches: reload until the ten requests are there (bounded).
        for (var attempt = 0; attempt < 50 && (await page.Locator("#stat-requests .ag-stat-value").TextContentAsync())?.Trim() != "10"; attempt++)
        {
            await Task.Delay(200);
            await browser.GoAsync("/ui");
        }

        await Assertions.Expect(page.Locator("#stat-requests .ag-stat-value")).ToHaveTextAsync("10");
        var problems = new List<string>();

        // Act: each page at a desktop's width (labels of 11 px at least) and a phone's (9 px at least)
        foreach (var (width, minimum) in new[] { (1280, 11.0), (390, 9.0) })
        {
            await page.SetViewportSizeAsync(width, 800);
            Assert.Equal(200, await browser.GoAsync("/ui"));
            var (charts, found) = await browser.ChartLabelProblemsAsync($"dashboard at {width} px", minimum);
            Assert.Equal(
                [
                    "Requests per minute (last hour): labels", "Answers by status class, errors by code (last hour): labels", "Latency p50 / p99 per minute (ms): labels",
                    "Top users this month (units): labels", "Top routes this month (requests): labels", "Users near their monthly quota (≥ 80%): labels",
                ],
                charts);
            problems.AddRange(found);
            // One size for every chart of the dashboard: a chart drawn in a shorter box is scaled down, its labels too
            var scales = await page.Locator(".mud-chart svg").EvaluateAllAsync<string[]>(
                "svgs => svgs.map(s => `${s.closest('.ag-card').querySelector('h2').textContent.trim()}: ${s.getScreenCTM().a.toFixed(3)}`)");
            var first = scales[0][(scales[0].LastIndexOf(' ') + 1)..];
            problems.AddRange(scales.Where(s => !s.EndsWith(" " + first, StringComparison.Ordinal)).Select(s => $"dashboard at {width} px, {s} times its units, not {first} as the first chart"));
            problems.AddRange(await EmptyBandsAsync(page, $"dashboard at {width} px"));

            Assert.Equal(200, await browser.GoAsync("/ui/usage?user=grace%40example.com&days=30"));
            (charts, found) = await browser.ChartLabelProblemsAsync($"usage at {width} px", minimum);
            Assert.Equal(["Requests per day: grace@example.com: labels"], charts);
            problems.AddRange(found);
            problems.AddRange(await EmptyBandsAsync(page, $"usage at {width} px"));
        }

        // Assert
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    /// <summary>
    /// Each chart on the page whose box is more than 2 px taller than its drawing (MudBlazor's 350 units high, at the scale
    /// it is drawn at): the drawing is centred in the box, so the rest is an empty band above and below it; and each
    /// chart whose own box runs more than 2 px below its drawing and legend.
    /// </summary>
    private static async Task<IEnumerable<string>> EmptyBandsAsync(IPage page, string where)
    {
        var boxes = await page.Locator(".mud-chart").EvaluateAllAsync<string[]>(
            """
            charts => charts.map(c => {
              const title = c.closest('.ag-card').querySelector('h2').textContent.trim(), s = c.querySelector('svg');
              const box = s.getBoundingClientRect().height, drawing = 350 * s.getScreenCTM().d;
              if (box - drawing > 2) return `${title}: a box ${box.toFixed(0)} px high for a drawing ${drawing.toFixed(0)} px high`;
              const bottom = Math.max(...[...c.querySelectorAll('*')].map(e => e.getBoundingClientRect().bottom));
              const below = c.getBoundingClientRect().bottom - bottom;
              return below > 2 ? `${title}: ${below.toFixed(0)} px of the chart's box empty below its drawing and legend` : '';
            })
            """);
        return boxes.Where(b => b.Length > 0).Select(b => $"{where}, {b}");
    }
}
