using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>A table that scrolls sideways in its card shades the edge with more columns beyond it, and only that edge.</summary>
public sealed class TableScrollHintTests : AdminUiTestBase
{
    /// <summary>Brighter than a striped row (98 % white) with its text's anti-aliasing aside: paper with no shade on it.</summary>
    private const int Light = 245;

    [BrowserFact]
    public async Task RoutesTable_WiderThanAPhone_ShadedAtTheEdgeWithColumnsBeyondIt()
    {
        // Arrange: the routes table, wider than its card on a phone 390 px wide
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "orders", Path = "/orders/*", Upstream = "backend", PathRewrite = "/v2/orders/$1" });
        await using var browser = await SignedInAsync(390, 844);
        var page = browser.Page;
        Assert.Equal(200, await browser.GoAsync("/ui/routes"));
        var table = page.Locator("#routes-table .mud-table-container");
        var hidden = await table.EvaluateAsync<int>("t => t.scrollWidth - t.clientWidth");
        Assert.True(hidden > 0, $"the routes table fits its card at 390 px ({hidden} px hidden)");

        // Act: the table's box as drawn, scrolled to its end, and in a 1280 px window where it fits
        var start = Png.Decode(await table.ScreenshotAsync());
        await table.EvaluateAsync("t => { t.scrollLeft = t.scrollWidth; }");
        Assert.Equal(hidden, await table.EvaluateAsync<int>("t => Math.round(t.scrollLeft)"));
        var end = Png.Decode(await table.ScreenshotAsync());
        await page.SetViewportSizeAsync(1280, 800);
        Assert.Equal(200, await browser.GoAsync("/ui/routes"));
        Assert.Equal(0, await table.EvaluateAsync<int>("t => t.scrollWidth - t.clientWidth"));
        var fits = Png.Decode(await table.ScreenshotAsync());

        // Assert: a shaded edge is shaded from top to bottom; an edge with nothing beyond it is mostly bare paper
        Assert.Equal(0, LightPixels(start, start.Width - 3));
        Assert.True(LightPixels(start, 2) > start.Height / 2, $"left edge at the start: {LightPixels(start, 2)} of {start.Height} pixels light");
        Assert.Equal(0, LightPixels(end, 2));
        Assert.True(LightPixels(end, end.Width - 3) > end.Height / 2, $"right edge at the end: {LightPixels(end, end.Width - 3)} of {end.Height} pixels light");
        Assert.True(LightPixels(fits, 2) > fits.Height / 2, $"left edge at 1280 px: {LightPixels(fits, 2)} of {fits.Height} pixels light");
        Assert.True(LightPixels(fits, fits.Width - 3) > fits.Height / 2, $"right edge at 1280 px: {LightPixels(fits, fits.Width - 3)} of {fits.Height} pixels light");
    }

    /// <summary>The light pixels of column <paramref name="x"/>, its first and last pixel aside: the box's top and bottom fall between whole pixels, so those two may be the page around it.</summary>
    private static int LightPixels(Png image, int x) => Enumerable.Range(1, image.Height - 2).Count(y => image.Brightness(x, y) >= Light);
}
