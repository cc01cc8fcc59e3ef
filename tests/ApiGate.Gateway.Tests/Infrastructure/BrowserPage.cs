using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// One test's browser tab in a context of its own (its own cookies) on the shared <see cref="BrowserHost"/>; relative
/// URLs go to the gateway it was opened for. Dispose closes the context.
/// </summary>
internal sealed class BrowserPage(IBrowserContext context, IPage page) : IAsyncDisposable
{
    public IBrowserContext Context { get; } = context;

    public IPage Page { get; } = page;

    /// <summary>
    /// For waiting on the page a form post redirects to: done once its HTML is parsed, without waiting for the load
    /// event — under a loaded CI box Chromium now and then never reported that event for the redirect's page (45 s
    /// timeouts after the page was there). The assertions that follow wait for their elements themselves.
    /// </summary>
    public static readonly PageWaitForURLOptions AfterPost = new() { WaitUntil = WaitUntilState.DOMContentLoaded };

    /// <summary>Goes to a path (relative to the gateway) and returns the response's status.</summary>
    public async Task<int> GoAsync(string path)
    {
        var response = await Page.GotoAsync(path);
        return response?.Status ?? 0;
    }

    /// <summary>Saves a full-page PNG as <paramref name="name"/>.png (docs/images with APIGATE_SCREENSHOTS=1, else a temp directory); returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var path = Path.Combine(BrowserHost.ScreenshotDirectory(), name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}
