using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// One test's browser tab in a context of its own (its own cookies) on the shared <see cref="BrowserHost"/>; relative
/// URLs go to the gateway it was opened for. Dispose closes the context.
/// </summary>
internal sealed class BrowserPage(IBrowserContext context, IPage page) : IAsyncDisposable
{
    private const string ScrollHeight = "document.documentElement.scrollHeight";

    public IBrowserContext Context { get; } = context;

    public IPage Page { get; } = page;

    /// <summary>
    /// Waits until the tab's address is <paramref name="pathAndQuery"/> on the gateway (the whole path and query), as after
    /// a form post's redirect or a followed link. It polls the address, as an assertion does, and waits for no load
    /// event: under a loaded CI box Chromium now and then never reported one for the new page (45 s timeouts after the
    /// page was there, first for the load event, then for DOMContentLoaded too); then it polls the document until its
    /// HTML is parsed.
    /// </summary>
    public static async Task ArrivedAtAsync(IPage page, string pathAndQuery)
    {
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("^https?://[^/]+" + System.Text.RegularExpressions.Regex.Escape(pathAndQuery) + "$"));
        await page.WaitForFunctionAsync("() => document.readyState !== 'loading'", null, new() { PollingInterval = 50 });
    }

    /// <summary>Goes to a path (relative to the gateway) and returns the response's status.</summary>
    public async Task<int> GoAsync(string path)
    {
        var response = await Page.GotoAsync(path);
        return response?.Status ?? 0;
    }

    /// <summary>
    /// Saves a full-page PNG as <paramref name="name"/>.png (docs/images with APIGATE_SCREENSHOTS=1, else a temp directory);
    /// returns its path. The window is made as tall as the page for the capture, then given its size back: Chromium's
    /// own full-page capture keeps the window's height for whatever is sized to the window, so the console's drawer (fixed,
    /// as tall as the window) ended a window's height down the image with bare background below it, which a reader of the
    /// docs never sees on a scrolled screen.
    /// </summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var path = Path.Combine(BrowserHost.ScreenshotDirectory(), name + ".png");
        await FullPageAsync(path);
        return path;
    }

    /// <summary>The whole page as a PNG, captured as <see cref="ScreenshotAsync"/> does; saved at <paramref name="path"/> too when given.</summary>
    public async Task<byte[]> FullPageAsync(string? path = null)
    {
        var window = Page.ViewportSize ?? throw new InvalidOperationException("the tab has no fixed window size");
        try
        {
            var height = await Page.EvaluateAsync<int>(ScrollHeight);
            if (height > window.Height)
            {
                await Page.SetViewportSizeAsync(window.Width, height);
                // A page sized to the window (a bare page of at least the window's height, plus margins) grows with it:
                // it has nothing below the window but more of its background, so it is captured in its own window.
                if (await Page.EvaluateAsync<int>(ScrollHeight) > height)
                {
                    await Page.SetViewportSizeAsync(window.Width, window.Height);
                }
            }

            return await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        }
        finally
        {
            await Page.SetViewportSizeAsync(window.Width, window.Height);
        }
    }

    /// <summary>
    /// On a phone-sized page (375 px): the content has the whole width, the drawer is hidden and "Log out" is on the
    /// screen; then the menu button (named "Menu") opens from the keyboard and its link <paramref name="link"/> is shown,
    /// the page is saved as <paramref name="screenshot"/>, and the link is returned for the caller to follow.
    /// </summary>
    public async Task<ILocator> AssertPhoneLayoutAndOpenMenuAsync(string link, string screenshot)
    {
        var main = await Page.Locator("#main").BoundingBoxAsync();
        Assert.Equal(0, main!.X);
        Assert.Equal(375, main.Width);
        await Assertions.Expect(Page.Locator(".mud-drawer")).ToBeHiddenAsync();
        var logout = await Page.Locator("#logout").BoundingBoxAsync();
        Assert.True(logout!.X + logout.Width <= 375, $"Log out ends at {logout.X + logout.Width} px of 375");
        await Assertions.Expect(Page.Locator("#nav-menu summary")).ToHaveAccessibleNameAsync("Menu");
        await Page.Locator("#nav-menu summary").FocusAsync();
        await Page.Keyboard.PressAsync("Enter");
        var found = Page.Locator("#nav-menu").GetByRole(AriaRole.Link, new() { Name = link });
        await Assertions.Expect(found).ToBeVisibleAsync();
        await ScreenshotAsync(screenshot);
        return found;
    }

    /// <summary>Each of <paramref name="paths"/> at 375 and 320 px wide: the ones wider than the screen, with their width.</summary>
    public async Task<List<string>> PagesWiderThanAPhoneAsync(IEnumerable<string> paths)
    {
        var wider = new List<string>();
        foreach (var width in new[] { 375, 320 }) // a common phone's width, and the narrowest still in use
        {
            await Page.SetViewportSizeAsync(width, 800);
            wider.AddRange(await PagesWiderThanTheWindowAsync(paths));
        }

        return wider;
    }

    /// <summary>
    /// At the tab's current width, with the drawer hidden: checks the menu lists exactly <paramref name="links"/> in
    /// order, then from <paramref name="home"/> opens the menu and follows each link in turn. Returns what went wrong,
    /// each naming its page: a link that led to another address or heading, a page wider than the window (its
    /// <c>scrollWidth</c>).
    /// </summary>
    public async Task<List<string>> FollowEveryMenuLinkAsync(string home, IReadOnlyList<(string Link, string Path, string Heading)> links)
    {
        var problems = new List<string>();
        Assert.Equal(200, await GoAsync(home));
        await Assertions.Expect(Page.Locator(".mud-drawer")).ToBeHiddenAsync();
        Assert.Equal(links.Select(l => l.Link), (await Page.Locator("#nav-menu a").AllTextContentsAsync()).Select(t => t.Trim()));
        var width = await Page.EvaluateAsync<int>("window.innerWidth");
        foreach (var (link, path, heading) in links)
        {
            Assert.Equal(200, await GoAsync(home));
            await Page.Locator("#nav-menu summary").ClickAsync();
            await Page.Locator("#nav-menu").GetByRole(AriaRole.Link, new() { Name = link, Exact = true }).ClickAsync();
            await ArrivedAtAsync(Page, path);
            var h1 = await Page.Locator("h1").AllInnerTextsAsync();
            if (h1.Count != 1 || h1[0] != heading)
            {
                problems.Add($"menu link {link}: {path} shows heading [{string.Join(", ", h1)}], not {heading}");
            }

            if (await WiderThanAsync(path, width) is { } wider)
            {
                problems.Add(wider);
            }
        }

        return problems;
    }

    /// <summary>Each of <paramref name="paths"/> at the tab's current width: the ones wider than the window, with their width.</summary>
    public async Task<List<string>> PagesWiderThanTheWindowAsync(IEnumerable<string> paths)
    {
        var wider = new List<string>();
        var width = await Page.EvaluateAsync<int>("window.innerWidth");
        foreach (var path in paths)
        {
            Assert.Equal(200, await GoAsync(path));
            if (await WiderThanAsync(path, width) is { } problem)
            {
                wider.Add(problem);
            }
        }

        return wider;
    }

    /// <summary>The page now shown (<paramref name="path"/>) when it is wider than <paramref name="width"/>, with its width; else null.</summary>
    private async Task<string?> WiderThanAsync(string path, int width)
    {
        var scrollWidth = await Page.EvaluateAsync<int>("document.documentElement.scrollWidth");
        return scrollWidth > width ? $"{path} at {width} px: {scrollWidth} px wide" : null;
    }

    /// <summary>
    /// Every chart on the page at the tab's current width: each drawn label (<c>svg text</c>; one hidden by the page's
    /// style has no box and is skipped) whose letters are under <paramref name="minimumPx"/> on the screen (its font size
    /// in the chart's own units times the scale the SVG is drawn at), and each pair of x-axis labels of one chart whose
    /// boxes intersect. Returns the charts' titles with how many labels each drew, and what went wrong, naming
    /// <paramref name="page"/>, the chart and the label.
    /// </summary>
    public async Task<(List<string> Charts, List<string> Problems)> ChartLabelProblemsAsync(string page, double minimumPx)
    {
        var found = await Page.EvaluateAsync<string[][]>(
            """
            ([page, minimum]) => {
              const charts = [], problems = [];
              for (const svg of document.querySelectorAll('.mud-chart svg')) {
                const chart = svg.closest('.ag-card')?.querySelector('h2')?.textContent.trim() ?? '(a chart without a title)';
                const xAxis = [];
                let drawn = 0;
                for (const text of svg.querySelectorAll('text')) {
                  const label = text.textContent.trim();
                  const box = text.getBoundingClientRect();
                  if (label === '' || box.width === 0) continue;
                  drawn++;
                  const scale = text.getScreenCTM();
                  const px = parseFloat(getComputedStyle(text).fontSize) * Math.hypot(scale.a, scale.b);
                  if (px < minimum) problems.push(`${page}, ${chart}: label "${label}" is ${px.toFixed(1)} px high, under ${minimum} px`);
                  if (text.closest('.mud-charts-xaxis')) xAxis.push([label, box]);
                }
                for (let i = 0; i < xAxis.length; i++) {
                  for (let j = i + 1; j < xAxis.length; j++) {
                    const [a, p] = xAxis[i], [b, q] = xAxis[j];
                    if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) problems.push(`${page}, ${chart}: x-axis labels "${a}" and "${b}" overlap`);
                  }
                }
                charts.push(`${chart}: ${drawn > 0 ? 'labels' : 'no labels'}`);
              }
              return [charts, problems];
            }
            """,
            new object[] { page, minimumPx });
        return ([.. found[0]], [.. found[1]]);
    }

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}
