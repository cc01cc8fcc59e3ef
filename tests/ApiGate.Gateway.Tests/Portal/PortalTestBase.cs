using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// A gateway with the portal on, sending email to a real SMTP server on loopback (<see cref="TestSmtpServer"/>), one
/// upstream and a key-protected route <c>/api/*</c>; the default plan (free) and a visible paid plan (pro).
/// </summary>
public abstract partial class PortalTestBase : GatewayTestBase, IAsyncLifetime
{
    private protected const string Password = "correct horse battery";

    private protected TestSmtpServer Smtp { get; } = TestSmtpServer.Start();

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Smtp.DisposeAsync();
    }

    private protected override void Configure(GatewayOptions options)
    {
        options.PortalEnabled = true;
        options.PortalAppName = "Acme API";
        options.SmtpUrl = Smtp.Url;
        options.SmtpFrom = "Acme API <no-reply@acme.example>";
        ConfigurePortal(options);
    }

    /// <summary>More settings for a test class.</summary>
    private protected virtual void ConfigurePortal(GatewayOptions options)
    {
    }

    /// <summary>For <see cref="ConfigurePortal"/>: no SMTP server (<c>APIGATE_SMTP_URL</c> unset).</summary>
    private protected static void WithoutSmtp(GatewayOptions options)
    {
        options.SmtpUrl = "";
        options.SmtpFrom = "";
    }

    /// <summary>
    /// A pending portal user with <see cref="Password"/> whose address was never confirmed, written straight to the
    /// store (as one made while the portal could still send email).
    /// </summary>
    private protected async Task CreateUnconfirmedAccountAsync(string email)
    {
        var user = (await Gateway.Users.BuildNewAsync(new UserChanges { Email = email, Status = ApiGate.Core.Identity.UserStatus.Pending }, CancellationToken.None)).Value!;
        await Gateway.Store.CreatePortalUserAsync(user, new ApiGate.Core.Portal.PortalAccount
        {
            UserId = user.Id,
            PasswordHash = ApiGate.Gateway.Portal.PortalPasswords.Hash(Password),
            CreatedAt = user.CreatedAt,
            UpdatedAt = user.CreatedAt,
        }, CancellationToken.None);
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "Orders", Path = "/api/*", Upstream = "backend", AuthRequired = true, Methods = "GET,POST" });
        Assert.True((await Gateway.Plans.UpdateAsync("free", new PlanInput { Visible = true }, CancellationToken.None)).Ok);
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro", PriceMonthly = 4900, RequestsPerMonth = 100_000, RateLimitPerMinute = 600, Visible = true }, CancellationToken.None)).Ok);
    }

    /// <summary>A client that keeps cookies and does not follow redirects, for HTTP-level tests of the pages.</summary>
    /// <summary>
    /// Logs in through the login page in <paramref name="browser"/> with <see cref="Password"/>, and waits until the
    /// browser is at <paramref name="landing"/> (a path and query; null: only the form sent).
    /// </summary>
    private protected static async Task LogInAsync(BrowserPage browser, string email, string? landing = "/portal")
    {
        await browser.GoAsync("/portal/login");
        await browser.Page.FillAsync("#email", email);
        await browser.Page.FillAsync("#password", Password);
        await browser.Page.ClickAsync("#log-in");
        if (landing is not null)
        {
            await BrowserPage.ArrivedAtAsync(browser.Page, landing);
        }
    }

    private protected HttpClient CookieClient() => new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
    {
        BaseAddress = new Uri(Gateway.Url),
    };

    /// <summary>Gets the page, then posts its form <paramref name="form"/> with the antiforgery token and <paramref name="fields"/>.</summary>
    private protected static Task<HttpResponseMessage> PostFormAsync(HttpClient client, string path, string form, params (string Name, string Value)[] fields) =>
        FormPosts.PostAsync(client, path, form, fields);

    /// <summary>The text of the element with this id in a page (its nested elements included, tags stripped, entities decoded).</summary>
    private protected static string TextOf(string html, string id)
    {
        var start = html.IndexOf($"id=\"{id}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no #{id} in the page");
        var open = html.LastIndexOf('<', start);
        var tag = html[(open + 1)..].Split([' ', '>'], 2)[0];
        var depth = 0;
        var at = open;
        do
        {
            var nextOpen = html.IndexOf("<" + tag, at + 1, StringComparison.Ordinal);
            var nextClose = html.IndexOf("</" + tag + ">", at + 1, StringComparison.Ordinal);
            Assert.True(nextClose >= 0, $"#{id} is not closed");
            if (at == open)
            {
                depth = 1;
            }

            if (nextOpen >= 0 && nextOpen < nextClose)
            {
                depth++;
                at = nextOpen;
            }
            else
            {
                depth--;
                at = nextClose;
            }
        }
        while (depth > 0);

        var inner = html[(html.IndexOf('>', open) + 1)..at];
        return WebUtility.HtmlDecode(Regex.Replace(Regex.Replace(inner, "<[^>]+>", ""), "\\s+", " ")).Trim();
    }
}
