using System.Net;

namespace ApiGate.Gateway.Tests.AdminUi;

public sealed class PagesTests : AdminUiTestBase
{
    [Theory]
    [InlineData("/ui", "Dashboard")]
    [InlineData("/ui/routes", "Routes")]
    [InlineData("/ui/routes/new", "New route")]
    [InlineData("/ui/upstreams", "Upstreams")]
    [InlineData("/ui/upstreams/new", "New upstream")]
    [InlineData("/ui/plans", "Plans")]
    [InlineData("/ui/users", "Users")]
    [InlineData("/ui/keys", "API keys")]
    [InlineData("/ui/entitlements", "Entitlements")]
    [InlineData("/ui/usage", "Usage")]
    [InlineData("/ui/settings", "Settings")]
    [InlineData("/ui/audit", "Audit log")]
    [InlineData("/ui/webhooks", "Webhooks")]
    public async Task Page_SignedIn_RendersWithItsHeading(string path, string heading)
    {
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains(">" + heading + "</h1>", html, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "<h1[ >]")); // one page heading, the sections' h2 beneath it
        Assert.DoesNotMatch("<h[3-6][ >]", html);
        Assert.Contains("Signed in as </span><strong>" + TokenName + "</strong>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("key", "an API key", "API key")]
    [InlineData("jwt", "a JWT from the configured issuer", "JWT")]
    [InlineData("key_or_jwt", "an API key or a JWT", "key or JWT")]
    public async Task Routes_TryAPathOnAProtectedRoute_NamesTheCredentialItTakes(string scheme, string needs, string column)
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "guarded", Path = "/guarded/*", Upstream = "backend", AuthRequired = true, AuthScheme = scheme });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=/guarded/x");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains($"<td class=\"ag-wrap\" id=\"try-needs\">{needs}</td>", html, StringComparison.Ordinal);
        Assert.Contains($"<td>{column}</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewUpstream_TargetWithAPassword_RefusedAndThePasswordNotSentBack()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/upstreams/new");

        // Act
        using var refused = await console.PostAsync("/ui/upstreams/new", [new("_handler", "upstream"), new("__RequestVerificationToken", antiforgery),
            new("name", "backend"), new("targets", "http://10.0.0.5:8080\nhttp://svc:typed-secret@10.0.0.6:8080,weight=2")]);

        // Assert: the refusal at the field, the targets shown again with the user info masked
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var html = WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync());
        Assert.Contains("id=\"error-targets\"", html, StringComparison.Ordinal);
        Assert.Contains("targets[1].url: put credentials in the upstream's auth type and value", html, StringComparison.Ordinal); // the entry's error, at the list's field
        Assert.Contains("http://10.0.0.5:8080\nhttp://***@10.0.0.6:8080,weight=2</textarea>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("typed-secret", html, StringComparison.Ordinal);
        Assert.Empty(await Gateway.Upstreams.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Routes_TryAPathWhoseMatchTimesOut_SaysWhatTheGatewayAnswers()
    {
        // A host regex that backtracks for seconds on this host: the gateway gives up after its regex timeout and answers
        // 404 route_not_found; Try a path answered 500 "Something went wrong" and logged an error (attack run).
        // The lookbehind keeps the pattern on the backtracking engine (one that can run without it is matched again linearly).
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "slow", Path = "/slow", HostPattern = "(a+)+(?<!b)", HostMatchType = "regex", Upstream = "backend", AuthRequired = false });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=/slow&try_host=" + new string('a', 40) + "!");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("the gateway answers 404 route_not_found", html, StringComparison.Ordinal);
        Assert.Contains("timed out", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routes_TryAPathAgainstACatastrophicRegexThatCanRunLinearly_SaysTheMatchOfTheNextRoute()
    {
        // The same pattern without the lookbehind is matched again without backtracking: the host simply does not match it.
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "slow", Path = "/slow", HostPattern = "(a+)+", HostMatchType = "regex", Upstream = "backend", AuthRequired = false, Priority = 5 });
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "plain", Path = "/slow", Upstream = "backend", AuthRequired = false });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=/slow&try_host=" + new string('a', 40) + "!");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("timed out", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"ag-wrap\" id=\"try-route\">plain</td>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/users/%2e%2e/admin")] // a dot segment once decoded
    [InlineData("/users/%2F..%2Fsecret")] // an encoded slash
    [InlineData("/users/a%5C..%5Cb")] // escaped backslashes
    public async Task Routes_TryAPathTheGatewayRefuses_Says400InsteadOfAMatch(string path)
    {
        // The proxy refuses these before matching (400 invalid_path, Security/PathSafetyTests over raw sockets); Try a path
        // reported a match with a made-up forwarded path, or a 404 (attack run)
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "users", Path = "/users/{id}", Upstream = "backend", AuthRequired = false });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=" + Uri.EscapeDataString(path));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("400 invalid_path", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"try-forwarded\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routes_TryAPathWithAHeaderOnTwoLines_MatchesAConditionOnTheFirstValueAsTheGatewayDoes()
    {
        // Arrange: the gateway holds a condition when one of the header's lines has its value (RequestHeaders); Try a
        // path kept only the last line of a name, so a route stored with X-Tier=gold and x-tier=silver never matched there
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "gold", Path = "/tiered/*", Upstream = "backend", AuthRequired = false, Headers = ["X-Tier=gold"] });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=/tiered/x&try_headers=" + Uri.EscapeDataString("X-Tier: gold\nx-tier: silver"));
        var proxied = await Infrastructure.RawHttp.GetAsync(Gateway.Url, "/tiered/x", "X-Tier: gold", "x-tier: silver");

        // Assert
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(200, proxied.Status);
        Assert.Contains("<td class=\"ag-wrap\" id=\"try-route\">gold</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routes_TryAPathWithEscapes_MatchedOnTheDecodedPathAsTheGatewayDoes()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "users", Path = "/users/{id}", Upstream = "backend", AuthRequired = false });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=" + Uri.EscapeDataString("/users/%41nn?x=1"));

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("/users/Ann", html, StringComparison.Ordinal);
        Assert.DoesNotContain("invalid_path", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routes_TryAPathToAnUpstreamWithABasePath_ShowsWhatTheTargetReceives()
    {
        // The upstream's URL has a path (/v2), which the gateway puts in front of every forwarded path; Try a path showed
        // the path without it and without the query, so it was not the path the upstream receives
        await Gateway.AddUpstreamAsync("backend", Upstream.Url + "/v2");
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "orders", Path = "/orders/{id}", Upstream = "backend", AuthRequired = false });
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/routes?try_method=GET&try_path=" + Uri.EscapeDataString("/orders/7?x=1&y=2"));
        using var proxied = await Gateway.Client.GetAsync(Gateway.Url + "/orders/7?x=1&y=2");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal("/v2/orders/7?x=1&y=2", received.Path + received.Query);
        Assert.Contains("<code id=\"try-forwarded\">/v2/orders/7?x=1&amp;y=2</code>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_SecretSet_ShownOnlyAsSet()
    {
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        using var response = await console.GetAsync("/ui/settings");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("APIGATE_SECRET_KEY", html, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretKey, html, StringComparison.Ordinal);
        Assert.DoesNotContain(PreviousSecretKey, html, StringComparison.Ordinal);
        var previousRow = html[html.IndexOf("data-setting=\"secret_key_previous\"", StringComparison.Ordinal)..];
        Assert.Contains("(set)", previousRow[..previousRow.IndexOf("</tr>", StringComparison.Ordinal)], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_ChangeInConsole_ListedWithTokenName()
    {
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans");
        using (var created = await console.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("id", "gold"), new("name", "Gold"), new("enabled", "true")]))
        {
            Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        }

        using var response = await console.GetAsync("/ui/audit");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Created plan gold.", html, StringComparison.Ordinal);
        Assert.Contains("<td>" + TokenName + "</td>", html, StringComparison.Ordinal);
        Assert.True((await Gateway.Plans.GetAsync("gold", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task Users_MoreThanOnePage_PagerLinksToTheRest()
    {
        for (var i = 0; i < 105; i++)
        {
            var user = await Gateway.Users.CreateAsync(new Core.Management.UserChanges { Email = $"u{i:D3}@example.com" }, CancellationToken.None);
            Assert.True(user.Ok, user.Error?.ToString());
        }

        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using var first = await console.GetAsync("/ui/users");
        using var second = await console.GetAsync("/ui/users?page=2");

        var firstHtml = await first.Content.ReadAsStringAsync();
        var secondHtml = await second.Content.ReadAsStringAsync();
        Assert.Contains("Rows 1–100 of 105", firstHtml, StringComparison.Ordinal);
        Assert.Contains("u099@example.com", firstHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("u100@example.com", firstHtml, StringComparison.Ordinal);
        Assert.Contains("Rows 101–105 of 105", secondHtml, StringComparison.Ordinal);
        Assert.Contains("u104@example.com", secondHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Users_PagePastTheLast_ShowsTheLastPage()
    {
        for (var i = 0; i < 103; i++)
        {
            Assert.True((await Gateway.Users.CreateAsync(new Core.Management.UserChanges { Email = $"u{i:D3}@example.com" }, CancellationToken.None)).Ok);
        }

        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using var response = await console.GetAsync("/ui/users?page=40");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Rows 101–103 of 103", html, StringComparison.Ordinal);
        Assert.Contains("u102@example.com", html, StringComparison.Ordinal);
        Assert.DoesNotContain("u099@example.com", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_MoreThanOnePage_SecondPageHoldsTheOldestKeysWithTheirOwnersEmail()
    {
        var owner = (await Gateway.Users.CreateAsync(new Core.Management.UserChanges { Email = "owner@example.com" }, CancellationToken.None)).Value!;
        var prefixes = new List<string>();
        for (var i = 0; i < 102; i++)
        {
            var key = await Gateway.Keys.CreateAsync(new Core.Management.KeyChanges { User = owner.Email, Name = $"key{i:D3}" }, CancellationToken.None);
            Assert.True(key.Ok, key.Error?.ToString());
            prefixes.Add(key.Value!.Key.Prefix);
        }

        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using var first = await console.GetAsync("/ui/keys");
        using var second = await console.GetAsync("/ui/keys?page=2");

        var firstHtml = await first.Content.ReadAsStringAsync();
        var secondHtml = await second.Content.ReadAsStringAsync();
        Assert.Contains("Rows 1–100 of 102", firstHtml, StringComparison.Ordinal);
        Assert.Contains($"data-key=\"{prefixes[101]}\"", firstHtml, StringComparison.Ordinal);
        Assert.DoesNotContain($"data-key=\"{prefixes[0]}\"", firstHtml, StringComparison.Ordinal);
        Assert.Contains("Rows 101–102 of 102", secondHtml, StringComparison.Ordinal);
        Assert.Contains($"data-key=\"{prefixes[0]}\"", secondHtml, StringComparison.Ordinal);
        Assert.Contains("<td>owner@example.com</td>", secondHtml, StringComparison.Ordinal);
    }

    private const string SecretKey = "ui-test-secret-key-0123456789abcdef";

    private const string PreviousSecretKey = "ui-test-previous-key-fedcba9876543210";

    private protected override void Configure(Gateway.Configuration.GatewayOptions options)
    {
        options.SecretKey = SecretKey;
        options.SecretKeyPrevious = PreviousSecretKey;
    }
}
