using System.Diagnostics;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// The one headless Chromium of a test run, started on first use through Playwright with the system browser
/// (<see cref="ExecutablePath"/>; Playwright never downloads one) and shared by every browser test, each in its own
/// context (<see cref="BrowserPage"/>: separate cookies). Closed at process exit, then killed by PID if still there.
/// </summary>
internal static class BrowserHost
{
    /// <summary>Overrides where Chromium is.</summary>
    public const string ExecutableVariable = "APIGATE_TEST_CHROMIUM";

    /// <summary>Set to 1 to write screenshots to docs/images instead of a temp directory.</summary>
    public const string ScreenshotsVariable = "APIGATE_SCREENSHOTS";

    // Chromium ignores switches it does not know; this one finds this run's browser processes in /proc for the PID kill.
    private static readonly string Marker = "--apigate-test-browser=" + Guid.NewGuid().ToString("N");
    private static readonly SemaphoreSlim StartLock = new(1, 1);
    private static IPlaywright? _playwright;
    private static IBrowser? _browser;

    /// <summary>Chromium's path: <c>APIGATE_TEST_CHROMIUM</c>, else Debian's <c>/usr/bin/chromium</c>.</summary>
    public static string ExecutablePath => Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Whether the run is CI (<c>CI=true</c>), where a missing browser is a failure.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether screenshots go to docs/images (<c>APIGATE_SCREENSHOTS=1</c>).</summary>
    public static bool WritesDocsScreenshots => Environment.GetEnvironmentVariable(ScreenshotsVariable) == "1";

    /// <summary>The shared browser, started on first call.</summary>
    public static async Task<IBrowser> GetAsync()
    {
        if (_browser is { IsConnected: true } running)
        {
            return running;
        }

        await StartLock.WaitAsync();
        try
        {
            if (_browser is { IsConnected: true } started)
            {
                return started;
            }

            if (!File.Exists(ExecutablePath))
            {
                throw new InvalidOperationException($"no Chromium at {ExecutablePath}: install Debian's chromium (apt-get install chromium) or set {ExecutableVariable}");
            }

            Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
            _playwright ??= await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", Marker],
                Timeout = 60_000,
            });
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            return _browser;
        }
        finally
        {
            StartLock.Release();
        }
    }

    /// <summary>Opens a fresh browser context and page whose relative URLs resolve against <paramref name="baseUrl"/>.</summary>
    public static async Task<BrowserPage> OpenAsync(string baseUrl, int width = 1440, int height = 900)
    {
        var browser = await GetAsync();
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl.TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            IgnoreHTTPSErrors = true,
        });
        // How long a step may wait for the page (a navigation, an element) before the test fails. Generous: under the
        // full parallel suite on two cores a first render of a page can take seconds; a passing step never waits it out.
        context.SetDefaultTimeout(45_000);
        // The same for web-first assertions (Expect(…).ToHaveTextAsync …), which have a clock of their own (5 s unless
        // set): a page that takes six seconds to render under load must not fail an assertion it would pass.
        Assertions.SetDefaultExpectTimeout(45_000);
        var page = await context.NewPageAsync();
        return new BrowserPage(context, page);
    }

    /// <summary>Where screenshots go: docs/images of the repository, or a temp directory of this run.</summary>
    public static string ScreenshotDirectory()
    {
        if (WritesDocsScreenshots && RepositoryRoot.Find() is { } root)
        {
            return Directory.CreateDirectory(Path.Combine(root, "docs", "images")).FullName;
        }

        return Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "apigate-tests", "screenshots")).FullName;
    }

    private static void OnProcessExit(object? sender, EventArgs e)
    {
        try
        {
            _browser?.CloseAsync().Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // closing failed: the PID kill below ends it
        }

        _playwright?.Dispose();
        foreach (var pid in MarkedProcesses())
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
                // already gone
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
    }

    /// <summary>PIDs of this run's Chromium processes (their command line carries <see cref="Marker"/>).</summary>
    private static List<int> MarkedProcesses()
    {
        var pids = new List<int>();
        if (!Directory.Exists("/proc"))
        {
            return pids;
        }

        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(entry, "cmdline")).Contains(Marker, StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // the process ended while we looked
            }
            catch (UnauthorizedAccessException)
            {
                // not ours
            }
        }

        return pids;
    }
}
