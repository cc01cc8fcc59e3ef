using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// The console's edit forms posted over HTTP as a crafted client would: a field the form always sends left out, a value
/// the browser never sends, a name or pattern with invisible characters. Each is refused or shown escaped; nothing
/// stored changes.
/// </summary>
public sealed partial class EditFormPostTests : AdminUiTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\"")]
    private static partial Regex HiddenField();

    [GeneratedRegex("""id="error-(?<field>[a-z_]+)" role="alert">(?<message>[^<]*)<""")]
    private static partial Regex FieldError();

    [Theory]
    [InlineData("route")]
    [InlineData("upstream")]
    [InlineData("plan")]
    public async Task EditPost_WithoutTheVersionField_400SayingToReloadAndNothingStored(string kind)
    {
        // Arrange
        var (console, path, fields) = await OpenEditFormAsync(kind);
        using var _ = console;
        fields.RemoveAll(f => f.Key == "_version");

        // Act
        using var response = await console.PostAsync(path, [.. fields, new("description", "crafted")]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("The form's _version field (the version it was opened at) is missing, so nothing was saved: "
            + "it tells whether someone else changed this since. Reload the page and make the change again.",
            WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        Assert.Equal("", await StoredDescriptionAsync(kind));
    }

    [Fact]
    public async Task EditPost_AsTheBrowserSendsIt_Saved()
    {
        // Arrange: the hidden fields of the form, the checkbox ticked (its hidden "false", then "true")
        var (console, path, fields) = await OpenEditFormAsync("route");
        using var _ = console;

        // Act
        using var response = await console.PostAsync(path, [.. fields, new("description", "from the form"), new("enabled", "false"), new("enabled", "true")]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("from the form", await StoredDescriptionAsync("route"));
        Assert.True((await Gateway.Routes.GetAsync("orders", None)).Value!.Enabled);
    }

    [Theory]
    [InlineData("route", "enabled", "yes")]
    [InlineData("route", "auth_required", "on")]
    [InlineData("route", "cors_credentials", "1")]
    [InlineData("upstream", "enabled", "yes")]
    [InlineData("plan", "visible", "yes")]
    [InlineData("plan", "enabled", "TRUE")]
    public async Task EditPost_CheckboxWithAValueTheBrowserNeverSends_400AtTheFieldAndNothingStored(string kind, string field, string value)
    {
        // Arrange
        var (console, path, fields) = await OpenEditFormAsync(kind);
        using var _ = console;

        // Act
        using var response = await console.PostAsync(path, [.. fields, new("description", "crafted"), new(field, "false"), new(field, value)]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single(FieldError().Matches(await response.Content.ReadAsStringAsync()));
        Assert.Equal((field, "is not true or false (what the checkbox sends: true when ticked, false when not)"),
            (error.Groups["field"].Value, WebUtility.HtmlDecode(error.Groups["message"].Value)));
        Assert.Equal("", await StoredDescriptionAsync(kind));
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("")]
    public async Task WebhookDisable_EnabledFieldNotTrueOrFalse_400SayingSoAndTheEndpointStaysAsItWas(string value)
    {
        // Arrange
        var webhooks = Gateway.Service<WebhookService>();
        var endpoint = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using var page = await console.GetAsync("/ui/webhooks");
        var form = Regex.Match(await page.Content.ReadAsStringAsync(), "<form[^>]*>(?:(?!</form>).)*>Disable</button>", RegexOptions.Singleline).Value;
        var fields = HiddenField().Matches(form).Select(m => new KeyValuePair<string, string>(m.Groups[1].Value, WebUtility.HtmlDecode(m.Groups[2].Value)))
            .Where(f => f.Key != "enabled").ToList();

        // Act
        using var response = await console.PostAsync("/ui/webhooks", [.. fields, new("enabled", value)]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("The form's enabled field is not true or false (what the checkbox sends: true when ticked, false when not), so nothing was changed. Reload the page and try again.",
            WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        Assert.True((await webhooks.GetAsync(endpoint.Id, None)).Value!.Enabled);
    }

    [Fact]
    public async Task RoutesList_PatternAndNamesWithInvisibleOrReorderingCharacters_ShownAsTheirEscapes()
    {
        // Arrange: a path pattern with a zero-width space and a byte-order mark (patterns may hold them), and a plan
        // and an upstream whose names were stored before such names were refused (straight into the store)
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "files", Path = "/files/\u200Breport\uFEFF/*", Upstream = "backend" });
        await Gateway.Store.CreatePlanAsync(new PlanDefinition { Id = "legacy", Name = "Gold\u202E7$ only" }, None);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var routes = await console.GetAsync("/ui/routes");
        using var plans = await console.GetAsync("/ui/plans");
        var routesHtml = await routes.Content.ReadAsStringAsync();
        var plansHtml = await plans.Content.ReadAsStringAsync();

        // Assert: as the access log shows such a path
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (routes.StatusCode, plans.StatusCode));
        Assert.Contains("<code>/files/%E2%80%8Breport%EF%BB%BF/*</code>", routesHtml, StringComparison.Ordinal);
        Assert.Contains("<td>Gold%E2%80%AE7$ only</td>", plansHtml, StringComparison.Ordinal);
        Assert.DoesNotContain(routesHtml + plansHtml, c => c is '\u200B' or '\uFEFF' or '\u202E');
    }

    [Theory]
    [InlineData("user-1", "/ui", "<td class=\"ag-wrap\">rt%E2%80%AEgnp.exe</td>")] // the dashboard's leaders' table and chart label
    [InlineData("usr_gone1", "/ui/usage?user=usr_gone1", "<tr><td class=\"ag-wrap\">rt%E2%80%AEgnp.exe</td>")] // a (deleted) user's per-route table
    public async Task UsageOfARouteIdWithAReorderingCharacter_DashboardAndUsagePage_ShowItsEscape(string userId, string page, string shown)
    {
        // Arrange: usage of a route no longer stored, so the page names it by the id the usage recorded
        await Gateway.Store.AddUsageEventsAsync([new Core.Usage.UsageEvent
        {
            UserId = userId, KeyId = "key-1", RouteId = "rt\u202Egnp.exe", UpstreamId = "up", Method = "GET", Path = "/p", Status = 200,
            LatencyMs = 1, Units = 1, ClientIp = "127.0.0.1", RequestId = "r1", Timestamp = DateTimeOffset.UtcNow,
        }], None);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var response = await console.GetAsync(page);
        var html = await response.Content.ReadAsStringAsync();

        // Assert: as the access log shows it
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(shown, html, StringComparison.Ordinal);
        Assert.DoesNotContain('\u202E', html);
    }

    [Fact]
    public async Task CreatePlan_NameWithASoftHyphen_400AtTheNameAndNothingStored()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans");

        // Act
        using var response = await console.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("id", "pro"),
            new("name", "Pro\u00ADfessional"), new("enabled", "false"), new("enabled", "true")]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single(FieldError().Matches(await response.Content.ReadAsStringAsync()));
        Assert.Equal(("name", "must not contain invisible characters (U+00AD at position 4)"),
            (error.Groups["field"].Value, WebUtility.HtmlDecode(error.Groups["message"].Value)));
        Assert.False((await Gateway.Plans.GetAsync("pro", None)).Ok);
    }

    /// <summary>
    /// Creates a row of <paramref name="kind"/> (route "orders", upstream "backend", plan "pro"), signs in and opens its
    /// edit page: the page's address and the hidden fields of its form as the browser would send them.
    /// </summary>
    private async Task<(ConsoleHttp Console, string Path, List<KeyValuePair<string, string>> Fields)> OpenEditFormAsync(string kind)
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "orders", Path = "/orders/*", Upstream = "backend" });
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None)).Ok);
        var path = kind switch
        {
            "route" => $"/ui/routes/{(await Gateway.Routes.GetAsync("orders", None)).Value!.Id}/edit",
            "upstream" => $"/ui/upstreams/{(await Gateway.Upstreams.GetAsync("backend", None)).Value!.Id}/edit",
            _ => "/ui/plans?edit=pro",
        };
        var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using var page = await console.GetAsync(path);
        var html = await page.Content.ReadAsStringAsync();
        var form = Regex.Match(html, $"<form[^>]*>(?:(?!</form>).)*id=\"save-{kind}\"", RegexOptions.Singleline).Value;
        Assert.Contains("name=\"_version\"", form, StringComparison.Ordinal);
        return (console, path, [.. HiddenField().Matches(form)
            .Where(m => m.Groups[2].Value != "false") // the checkboxes' hidden "false": each test sends its own
            .Select(m => new KeyValuePair<string, string>(m.Groups[1].Value, WebUtility.HtmlDecode(m.Groups[2].Value)))]);
    }

    private async Task<string> StoredDescriptionAsync(string kind) => kind switch
    {
        "route" => (await Gateway.Routes.GetAsync("orders", None)).Value!.Description,
        "upstream" => (await Gateway.Upstreams.GetAsync("backend", None)).Value!.Description,
        _ => (await Gateway.Plans.GetAsync("pro", None)).Value!.Description,
    };
}
