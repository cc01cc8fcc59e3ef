using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.AdminUi;

public sealed class ConsoleHttpTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
    private TestGateway _gateway = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        // The config poll runs on this fake clock: at 100 ms, advancing it by hours ran a quarter of a million poll ticks
        // (over a minute); no test here waits for a poll, each write applies itself.
        _gateway = await TestGateway.StartAsync(o =>
        {
            o.AdminUiSessionIdle = TimeSpan.FromHours(8);
            o.ConfigPollInterval = TimeSpan.FromHours(1);
        }, timeProvider: _clock);
        _token = (await new AdminTokenService(_gateway.Store, TimeProvider.System).CreateAsync("http-tests", CancellationToken.None)).Value!.Token;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Session_IdleLongerThanSetting_RedirectsToLoginAsExpired()
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        _clock.Advance(TimeSpan.FromHours(7));
        using (var active = await console.GetAsync("/ui"))
        {
            Assert.Equal(HttpStatusCode.OK, active.StatusCode); // used within 8 h: the idle clock restarts
        }

        _clock.Advance(TimeSpan.FromHours(7) + TimeSpan.FromMinutes(59));
        using (var stillActive = await console.GetAsync("/ui/routes"))
        {
            Assert.Equal(HttpStatusCode.OK, stillActive.StatusCode);
        }

        _clock.Advance(TimeSpan.FromHours(8));
        using var expired = await console.GetAsync("/ui/routes");

        Assert.Equal(HttpStatusCode.Found, expired.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui%2Froutes&expired=1", console.PathOf(expired));
        Assert.False(console.HasCookie("apigate_ui_session"));
    }

    [Theory]
    [InlineData("not-a-session")]
    [InlineData("' OR 1=1 --")]
    [InlineData("%2e%2e%2f%00")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Session_ForgedCookieValue_RedirectsToLogin(string value)
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token); // a real session exists in the store; the forged value must not reach it
        console.SetCookie("apigate_ui_session", value);

        using var response = await console.GetAsync("/ui/routes");

        // (A value that is not a valid cookie value at all is dropped by the server's cookie parser: no "expired" hint then.)
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.StartsWith("/ui/login?return=%2Fui%2Froutes", console.PathOf(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_AdminTokenRevoked_NextPageSendsToLoginAsExpiredAndTheSessionIsEnded()
    {
        // Arrange: a console signed in with a token that is then revoked through the CLI or the admin API
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        Assert.True((await new AdminTokenService(_gateway.Store, TimeProvider.System).RevokeAsync("http-tests", CancellationToken.None)).Ok);
        _clock.Advance(ApiGate.Gateway.Admin.AdminAuthenticator.TrustFor + TimeSpan.FromSeconds(1)); // past the token's trust in memory

        // Act
        using var response = await console.GetAsync("/ui/routes");

        // Assert: signed out at once, and the session is gone from the store (not just refused while the token is revoked)
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui%2Froutes&expired=1", console.PathOf(response));
        Assert.Equal(0, await _gateway.Store.CountWebSessionsAsync(ApiGate.Core.Identity.WebSessionKind.Admin, _clock.GetUtcNow() - TimeSpan.FromDays(1), CancellationToken.None));
    }

    [Theory]
    [InlineData("/ui/routes\r\nSet-Cookie: planted=1")]
    [InlineData("/ui/\t/evil.example")]
    [InlineData("/ui/keys\u2028")]
    public async Task Login_ReturnWithAControlCharacterOrLineSeparator_RedirectedToTheConsolesHome(string escapedReturn)
    {
        // Arrange: a login link whose way back holds a line break (header injection), a tab (which browsers drop from a
        // URL, leaving '//') or a line separator
        using var console = new ConsoleHttp(_gateway.Url);
        var antiforgery = await console.TokenFromAsync("/ui/login");

        // Act
        using var response = await console.PostAsync("/ui/login",
            [new("_handler", "login"), new("__RequestVerificationToken", antiforgery), new("Token", _token), new("Return", System.Text.RegularExpressions.Regex.Unescape(escapedReturn))]);

        // Assert: the console's home on this gateway, not the path given; no header of the attacker's
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(_gateway.Url + "/ui", response.Headers.Location!.OriginalString);
        Assert.DoesNotContain(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("planted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignInAgain_TheEarlierSessionEnds()
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var earlier = console.Cookie("apigate_ui_session")!;

        // Act: a second sign-in from the same browser, then the earlier cookie replayed.
        await console.SignInAsync(_token);
        var later = console.Cookie("apigate_ui_session")!;
        console.SetCookie("apigate_ui_session", earlier);
        using var replayed = await console.GetAsync("/ui/routes");
        console.SetCookie("apigate_ui_session", later);
        using var current = await console.GetAsync("/ui/routes");

        // Assert
        Assert.NotEqual(earlier, later);
        Assert.Equal(HttpStatusCode.Found, replayed.StatusCode);
        Assert.StartsWith("/ui/login", console.PathOf(replayed), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
    }

    [Theory]
    [InlineData("/ui")]
    [InlineData("/ui/login")]
    [InlineData("/ui/routes")]
    [InlineData("/ui/keys")]
    public async Task Pages_Any_AreNeverCached(string path)
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        using var response = await console.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cacheControl = response.Headers.CacheControl!;
        Assert.True(cacheControl.NoStore);
        Assert.True(cacheControl.NoCache);
        Assert.True(cacheControl.MustRevalidate);
        Assert.Equal(TimeSpan.Zero, cacheControl.MaxAge);
        Assert.False(cacheControl.Public);
        Assert.Contains("no-cache", response.Headers.Pragma.ToString(), StringComparison.Ordinal);
        Assert.Equal("0", response.Content.Headers.GetValues("Expires").Single());
    }

    [Fact]
    public async Task Pages_NotSignedIn_RedirectAndAreNeverCached()
    {
        using var console = new ConsoleHttp(_gateway.Url);

        using var response = await console.GetAsync("/ui/keys");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui%2Fkeys", console.PathOf(response));
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ui/login", HttpStatusCode.OK)]
    [InlineData("/ui/keys", HttpStatusCode.Found)]
    public async Task Pages_Head_AnsweredAsGetWithoutABody(string path, HttpStatusCode status)
    {
        // Arrange: what an uptime check sends
        using var client = Infrastructure.TestGateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, _gateway.Url + path);

        // Act
        using var response = await client.SendAsync(request);

        // Assert: the GET's status and headers (before: 405), no body
        Assert.Equal(status, response.StatusCode);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Assets_Fingerprinted_CachedForAYear()
    {
        using var console = new ConsoleHttp(_gateway.Url);
        using var login = await console.GetAsync("/ui/login");
        var html = await login.Content.ReadAsStringAsync();
        var css = System.Text.RegularExpressions.Regex.Match(html, "/ui/_assets/mudblazor\\.min\\.[0-9a-f]{12}\\.css").Value;

        using var response = await console.GetAsync(css);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/css; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("public, max-age=31536000, immutable", response.Headers.CacheControl?.ToString());
        Assert.Contains(".mud-appbar", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ui/_assets/site.000000000000.css")]
    [InlineData("/ui/_assets/unknown.js")]
    public async Task Assets_UnknownName_404WithThePagesSecurityHeadersAndAShortBody(string path)
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        using var login = await console.GetAsync("/ui/login");

        // Act
        using var response = await console.GetAsync(path);

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(ConsoleHttp.SecurityHeaders, ConsoleHttp.SecurityHeadersOf(response));
        Assert.Equal(ConsoleHttp.SecurityHeadersOf(login), ConsoleHttp.SecurityHeadersOf(response));
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("Not found: there is no asset at this address.\n", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/ui/users?q=ann&q=bob", "q")]
    [InlineData("/ui/keys?page=1&for=ann&PAGE=2", "page")]
    public async Task Query_ParameterGivenTwice_400PageNamingIt(string path, string name)
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        // Act
        using var response = await console.GetAsync(path);

        // Assert: refused as the admin API refuses ?user=a&user=b, not read as "ann,bob"
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"<p id=\"query-refused\">The query parameter <code>{name}</code> is given more than once in the address, so nothing was shown or changed: give it once. "
            + "<a href=\"/ui\">Back to the dashboard</a>.</p>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
    }

    [Theory]
    [InlineData("/ui/keys", "create-key", "user", "reload@example.com")]
    [InlineData("/ui/webhooks", "create-webhook", "url", "http://127.0.0.1:47601/hooks")]
    public async Task CreateFormShowingASecretOnce_PageReloaded_SamePostRefusedWithAMessageAndOneCreated(string path, string form, string field, string value)
    {
        // Arrange: the create form's post as the browser sends it (every field it holds, hidden ones included)
        Assert.True((await _gateway.Users.CreateAsync(new UserChanges { Email = "reload@example.com" }, CancellationToken.None)).Ok);
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        using var page = await console.GetAsync(path);
        var html = await page.Content.ReadAsStringAsync();
        var formHtml = System.Text.RegularExpressions.Regex.Match(html, $"<form[^>]*>(?:(?!</form>).)*id=\"{form}\"", System.Text.RegularExpressions.RegexOptions.Singleline).Value;
        List<KeyValuePair<string, string>> fields = [.. System.Text.RegularExpressions.Regex.Matches(formHtml, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\"")
            .Select(m => new KeyValuePair<string, string>(m.Groups[1].Value, WebUtility.HtmlDecode(m.Groups[2].Value))), new(field, value), new("events", "key.created")];
        using var created = await console.PostAsync(path, fields);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);

        // Act: the reload sends that post again
        using var reloaded = await console.PostAsync(path, fields);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, reloaded.StatusCode);
        var answer = await reloaded.Content.ReadAsStringAsync();
        Assert.Contains("This form was sent already (the page was reloaded, or the button pressed twice), so nothing was created now: the list below shows what the first one made.",
            answer, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"new-", answer, StringComparison.Ordinal);
        Assert.Equal(1, path == "/ui/keys" ? (await _gateway.Store.ListKeysAsync(null, CancellationToken.None)).Count : (await _gateway.Store.ListWebhookEndpointsAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Get_PathWithNoPage_404WithAPageSayingSoAndLinkingToTheDashboard()
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        // Act: a mistyped address (the route editor is at /ui/routes/<id>/edit)
        using var response = await console.GetAsync("/ui/routes/orders");

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("<p id=\"no-page\">There is no page at <code>/ui/routes/orders</code>. <a href=\"/ui\">Back to the dashboard</a>.</p>",
            await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
    }

    [Theory]
    [InlineData("/ui/routes/orders%E2%80%AEtxt.exe", "There is no page at <code>/ui/routes/orders%E2%80%AEtxt.exe</code>.")]
    [InlineData("/ui/routes/rt_%E2%80%8Bx/edit", "There is no route <strong>rt_%E2%80%8Bx</strong>.")]
    public async Task Get_AddressWithAnInvisibleOrReorderingCharacter_404PageShowsItsEscape(string path, string shown)
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        // Act: an address whose decoded path holds U+202E (reverses what follows) or U+200B (invisible)
        using var response = await console.GetAsync(path);

        // Assert: the page names it as the access log does, not as a disguised text
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains(shown, page, StringComparison.Ordinal);
        Assert.DoesNotContain("\u202E", page, StringComparison.Ordinal);
        Assert.DoesNotContain("\u200B", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateRoute_FieldHoldingANulCharacter_400WithAPageSayingTheFormCouldNotBeReadAndNothingWritten()
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var antiforgery = await console.TokenFromAsync("/ui/routes/new");

        // Act: the framework's form reader refuses a NUL anywhere in the body
        using var refused = await console.PostAsync("/ui/routes/new",
            [new("_handler", "route"), new("__RequestVerificationToken", antiforgery), new("name", "orders\u0000"), new("path", "/orders/*"), new("enabled", "true")]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("text/html; charset=utf-8", refused.Content.Headers.ContentType?.ToString());
        Assert.Contains("<p id=\"form-refused\">The form could not be read (a field held a character no form may carry, such as NUL; a field name was too long or there were too many fields; or the body was not a form), " +
            "so nothing was changed. Open <a href=\"/ui/routes/new\">the page</a> again and resend the form.</p>", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("DENY", Assert.Single(refused.Headers.GetValues("X-Frame-Options")));
        Assert.Empty(await _gateway.Routes.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CreateRoute_FormDeclaredInUtf7_400WithAPageSayingTheCharacterSetIsNotReadAndNothingWritten()
    {
        // Arrange: a form the page would accept, but for its declared character set, which .NET refuses to decode
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var antiforgery = await console.TokenFromAsync("/ui/routes/new");
        var content = new FormUrlEncodedContent([new("_handler", "route"), new("__RequestVerificationToken", antiforgery), new("name", "orders"), new("path", "/orders/*"), new("enabled", "true")]);
        content.Headers.ContentType!.CharSet = "utf-7";

        // Act
        using var refused = await console.PostAsync("/ui/routes/new", content);

        // Assert: the client's error (before: 500, "Something went wrong on the gateway", and an error logged)
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("text/html; charset=utf-8", refused.Content.Headers.ContentType?.ToString());
        Assert.Contains("<p id=\"form-refused\">The form was sent in a character set the gateway does not read (a browser sends UTF-8), " +
            "so nothing was changed. Open <a href=\"/ui/routes/new\">the page</a> again and resend the form.</p>", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("DENY", Assert.Single(refused.Headers.GetValues("X-Frame-Options")));
        Assert.Empty(await _gateway.Routes.ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("first@example.com", "Email", "second@example.com")]
    [InlineData("false", "email", "second@example.com")] // shaped like a checkbox's hidden "false" and its value, but not one
    public async Task CreateUser_FieldGivenTwice_400NamingTheFieldNoValueShownAndNothingStored(string first, string again, string second)
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var antiforgery = await console.TokenFromAsync("/ui/users");

        // Act: the form sends email once; a crafted post gives it twice
        using var refused = await console.PostAsync("/ui/users", [new("_handler", "create-user"), new("__RequestVerificationToken", antiforgery),
            new("email", first), new("name", "Ann"), new("plan", "free"), new(again, second)]);

        // Assert: before, the second address was stored without a word
        var html = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("<p id=\"form-refused\">The field <code>email</code> is given more than once in the form (field names are compared ignoring case), " +
            "so nothing was changed: each field is sent once. Open <a href=\"/ui/users\">the page</a> again and resend the form.</p>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("@example.com", html, StringComparison.Ordinal); // neither value shown
        Assert.Equal(0, (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Total);
    }

    [Theory]
    [InlineData("name", "Ann%ED%A0%80")]
    [InlineData("name", "%FF")]
    [InlineData("email", "ann%FF%40example.com")]
    public async Task CreateUser_FieldNotValidUtf8_400NamingTheFieldAndNothingStored(string field, string encoded)
    {
        // Arrange: the create-user form, one value percent-encoded bytes that are not UTF-8
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var antiforgery = await console.TokenFromAsync("/ui/users");
        var values = new Dictionary<string, string> { ["email"] = "ann%40example.com", ["name"] = "Ann", ["plan"] = "free" };
        values[field] = encoded;
        var body = "_handler=create-user&__RequestVerificationToken=" + Uri.EscapeDataString(antiforgery) + string.Concat(values.Select(v => "&" + v.Key + "=" + v.Value));

        // Act
        using var refused = await console.PostAsync("/ui/users", new StringContent(body, System.Text.Encoding.ASCII, "application/x-www-form-urlencoded"));

        // Assert: before, the user was stored with the escape text ("%ED%A0%80") as its name
        await AssertUserRefusedAsNotUtf8Async(refused, field);
    }

    [Theory]
    [InlineData(new byte[] { 0x41, 0x6E, 0xED, 0xA0, 0x80 }, null)]
    [InlineData(new byte[] { 0x41, 0x6E, 0xFF }, "iso-8859-1")]
    public async Task CreateUser_MultipartFieldNotValidUtf8_400NamingTheFieldAndNothingStored(byte[] name, string? charset)
    {
        // Arrange: the same form as multipart/form-data, the name's bytes raw and not UTF-8; a character set named for the
        // whole body is ignored by the form reader (each part is read in UTF-8 unless it names its own), so before, the
        // name was stored with U+FFFD in it
        // Act
        using var refused = await PostUserFormWithNamePartAsync(new ByteArrayContent(name), bodyCharset: charset);

        // Assert
        await AssertUserRefusedAsNotUtf8Async(refused, "name");
    }

    [Theory]
    [InlineData("utf-16", new byte[] { 0x52, 0x00, 0x00, 0xD8 }, "utf-16")] // "R" and a high surrogate on its own
    [InlineData("utf-16BE", new byte[] { 0x00, 0x52, 0x00 }, "utf-16BE")] // "R" and half a character
    [InlineData("iso-8859-1", new byte[] { 0xFF, 0xFE, 0x52, 0x00, 0x6E }, "utf-16")] // a UTF-16 byte order mark the reader follows, then half a character
    public async Task CreateUser_MultipartFieldInItsOwnCharsetWithBytesNotValidInIt_400NamingTheField(string charset, byte[] name, string readIn)
    {
        // Arrange: the name's part declares its own character set (the form reader reads a part in it, or in the set a
        // byte order mark names) and holds bytes that set cannot read
        var part = new ByteArrayContent(name);
        part.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/plain") { CharSet = charset };

        // Act
        using var refused = await PostUserFormWithNamePartAsync(part);

        // Assert: before, the user was stored with U+FFFD in its name
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        await AssertRefusedAsNotValidAsync(await refused.Content.ReadAsStringAsync(), readIn);
    }

    [Fact]
    public async Task CreateUser_MultipartFieldInUtf16_StoredAsRead()
    {
        // Arrange: a part in UTF-16 that reads whole
        var part = new ByteArrayContent(System.Text.Encoding.Unicode.GetBytes("Ren\u00E9"));
        part.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/plain") { CharSet = "utf-16" };

        // Act
        using var response = await PostUserFormWithNamePartAsync(part);

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var users = (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Items;
        Assert.Equal("Ren\u00E9", Assert.Single(users).Name);
    }

    /// <summary>
    /// Signs in and posts the console's create-user form as multipart/form-data, with <paramref name="name"/> as the name's
    /// part (ann@example.com on the free plan); <paramref name="bodyCharset"/>, when given, is named for the whole body.
    /// </summary>
    private async Task<HttpResponseMessage> PostUserFormWithNamePartAsync(HttpContent name, string? bodyCharset = null)
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var antiforgery = await console.TokenFromAsync("/ui/users");
        using var content = new MultipartFormDataContent
        {
            { new StringContent("create-user"), "_handler" },
            { new StringContent(antiforgery), "__RequestVerificationToken" },
            { new StringContent("ann@example.com"), "email" },
            { name, "name" },
            { new StringContent("free"), "plan" },
        };
        if (bodyCharset is not null)
        {
            content.Headers.ContentType!.Parameters.Add(new System.Net.Http.Headers.NameValueHeaderValue("charset", bodyCharset));
        }

        return await console.PostAsync("/ui/users", content);
    }

    [Theory]
    [InlineData("us-ascii")]
    [InlineData("ascii")]
    public async Task CreateUser_DeclaredAsciiWithRawUtf8Bytes_400NamingTheFieldAndNothingStored(string charset)
    {
        // Arrange: the create-user form declared ASCII, the name's bytes valid UTF-8 past ASCII, sent raw ("René")
        byte[] name = [.. "Ren"u8, 0xC3, 0xA9];

        // Act
        var refused = await PostCreateUserRawAsync(charset, name);

        // Assert: before, the user was stored named "Ren??" without a word
        Assert.Equal(400, refused.Status);
        Assert.Contains("<p id=\"form-refused\">The value of the field <code>name</code> holds non-ASCII bytes but the form declared itself ASCII, so nothing was changed "
            + "(a browser sends its forms in UTF-8). Open <a href=\"/ui/users\">the page</a> again and resend the form.</p>", refused.Body, StringComparison.Ordinal);
        Assert.Equal(0, (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Total);
    }

    [Theory]
    [InlineData("iso-8859-1")]
    [InlineData("windows-1252")]
    public async Task CreateUser_DeclaredSingleByteCharsetWithEscapeNotValidUtf8_400NamingTheField(string charset)
    {
        // Arrange: a form declared in a one-byte character set, the name's last byte percent-escaped (%E9, é in it). The
        // form reader decodes the raw bytes in that set but the escapes as UTF-8, and keeps an invalid one as its text.
        // Act
        var refused = await PostCreateUserRawAsync(charset, "Ren%E9"u8.ToArray());

        // Assert: before, the user was stored named "Ren%E9" without a word
        Assert.Equal(400, refused.Status);
        Assert.Contains("<p id=\"form-refused\">The value of the field <code>name</code> is not valid UTF-8, so nothing was changed "
            + "(a browser sends its forms in UTF-8). Open <a href=\"/ui/users\">the page</a> again and resend the form.</p>", refused.Body, StringComparison.Ordinal);
        Assert.Equal(0, (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Total);
    }

    [Fact]
    public async Task CreateUser_DeclaredLatin1WithRawByteAndUtf8Escape_StoredAsRead()
    {
        // Arrange: a raw byte read in the declared set (0xE9, é) and an escape that is valid UTF-8 (%C3%A9, é): both read as sent
        byte[] name = [.. "Ren"u8, 0xE9, .. "+Ren%C3%A9"u8];

        // Act
        var response = await PostCreateUserRawAsync("iso-8859-1", name);

        // Assert
        await AssertStoredAsync(response.Status, "Ren\u00e9 Ren\u00e9");
    }

    [Theory]
    [InlineData("utf-16")]
    [InlineData("utf-16BE")]
    [InlineData("utf-32")]
    public async Task CreateUser_DeclaredMultiByteCharsetWithEscapeNotValidUtf8_400NamingTheField(string charset)
    {
        // Arrange: the whole form written in a multi-byte character set, the name's last byte percent-escaped (%E9). The
        // form reader decodes the text in that set but the escapes as UTF-8, and keeps an invalid one as its text, as it
        // does for a one-byte set
        var text = System.Text.Encoding.GetEncoding(charset);

        // Act
        var refused = await PostCreateUserRawAsync(charset, text.GetBytes("Ren%E9"), text);

        // Assert: before, the user was stored named "Ren%E9" without a word
        Assert.Equal(400, refused.Status);
        Assert.Contains("<p id=\"form-refused\">The value of the field <code>name</code> is not valid UTF-8, so nothing was changed "
            + "(a browser sends its forms in UTF-8). Open <a href=\"/ui/users\">the page</a> again and resend the form.</p>", refused.Body, StringComparison.Ordinal);
        Assert.Equal(0, (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Total);
    }

    [Theory]
    [InlineData("utf-16", new byte[] { 0x00, 0xD8, 0x78, 0x00 })] // a high surrogate followed by "x"
    [InlineData("utf-16", new byte[] { 0x78 })] // half a character at the end
    [InlineData("utf-16BE", new byte[] { 0xDC, 0x00, 0x00, 0x78 })] // a low surrogate on its own
    [InlineData("utf-32", new byte[] { 0x00, 0x00, 0x11, 0x00 })] // past U+10FFFF
    public async Task CreateUser_DeclaredMultiByteCharsetWithRawBytesNotValidInIt_400NamingTheField(string charset, byte[] invalid)
    {
        // Arrange: the whole form written in a multi-byte character set, the name ending in bytes that set cannot read. The
        // form reader reads them as U+FFFD
        var text = System.Text.Encoding.GetEncoding(charset);

        // Act
        var refused = await PostCreateUserRawAsync(charset, [.. text.GetBytes("Ren"), .. invalid], text);

        // Assert: before, the user was stored named "Ren\uFFFD" without a word
        Assert.Equal(400, refused.Status);
        await AssertRefusedAsNotValidAsync(refused.Body, text.WebName);
    }

    [Fact]
    public async Task CreateUser_DeclaredUtf16WithCharactersWhoseBytesHoldTheSetsAmpersand_400NamingTheField()
    {
        // Arrange: U+2600 U+0100 is 00 26 00 01 in UTF-16LE, holding the set's "&" (26 00) across the two characters. The
        // form reader splits the field there, wherever the bytes are, and reads the halves on either side as U+FFFD
        var text = System.Text.Encoding.Unicode;

        // Act
        var refused = await PostCreateUserRawAsync("utf-16", text.GetBytes("Ren\u2600\u0100"), text);

        // Assert: before, the user was stored named "Ren\uFFFD" without a word
        Assert.Equal(400, refused.Status);
        await AssertRefusedAsNotValidAsync(refused.Body, "utf-16");
    }

    [Theory]
    // a character written in the declared set (é) and an escape that is valid UTF-8 (%C3%A9, é): both read as sent
    [InlineData("Ren\u00e9+Ren%C3%A9", "Ren\u00e9 Ren\u00e9")]
    // U+FFFD sent as a character of the declared set is text like any other, not a byte it cannot read
    [InlineData("Ren\uFFFD", "Ren\uFFFD")]
    // U+3D00 U+0100 is 00 3D 00 01 in UTF-16LE, holding the set's "=" (3D 00); the form reader looks for "=" only in a
    // field's name, so the value is read whole
    [InlineData("Ren\u3D00\u0100", "Ren\u3D00\u0100")]
    public async Task CreateUser_DeclaredUtf16Text_StoredAsRead(string sent, string stored)
    {
        // Arrange
        var text = System.Text.Encoding.Unicode;

        // Act
        var response = await PostCreateUserRawAsync("utf-16", text.GetBytes(sent), text);

        // Assert
        await AssertStoredAsync(response.Status, stored);
    }

    /// <summary>The create-user form was refused naming the field <c>name</c> and <paramref name="charset"/>, and no user stored.</summary>
    private async Task AssertRefusedAsNotValidAsync(string page, string charset)
    {
        Assert.Contains($"<p id=\"form-refused\">The value of the field <code>name</code> is not valid {charset}, the character set the form declared, "
            + "so nothing was changed (a browser sends its forms in UTF-8). Open <a href=\"/ui/users\">the page</a> again and resend the form.</p>",
            page, StringComparison.Ordinal);
        Assert.Equal(0, (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Total);
    }

    /// <summary>The create-user form was taken (302) and its one user stored named <paramref name="name"/>.</summary>
    private async Task AssertStoredAsync(int status, string name)
    {
        Assert.Equal(302, status);
        var users = (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Items;
        Assert.Equal(name, Assert.Single(users).Name);
    }

    /// <summary>
    /// Signs in and posts the create-user form as raw bytes, declared in <paramref name="charset"/>, with the name's bytes
    /// as given (raw bytes and percent escapes alike): what a client other than a browser may send. The other fields are
    /// written in <paramref name="text"/> (ASCII when not given).
    /// </summary>
    private async Task<RawResponse> PostCreateUserRawAsync(string charset, byte[] name, System.Text.Encoding? text = null)
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var antiforgery = await console.TokenFromAsync("/ui/users");
        byte[] body = [.. (text ?? System.Text.Encoding.ASCII).GetBytes("_handler=create-user&__RequestVerificationToken=" + Uri.EscapeDataString(antiforgery)
            + "&email=ann%40example.com&plan=free&name="), .. name];
        var head = $"POST /ui/users HTTP/1.1\r\nHost: {new Uri(_gateway.Url).Authority}\r\nConnection: close\r\nCookie: {console.CookieHeader}\r\n"
            + $"Content-Type: application/x-www-form-urlencoded; charset={charset}\r\nContent-Length: {body.Length}\r\n\r\n";
        return await RawHttp.SendAsync(_gateway.Url, [.. System.Text.Encoding.ASCII.GetBytes(head), .. body]);
    }

    /// <summary>The create-user form was refused with 400 naming <paramref name="field"/> as not UTF-8, and no user was stored.</summary>
    private async Task AssertUserRefusedAsNotUtf8Async(HttpResponseMessage refused, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains($"<p id=\"form-refused\">The value of the field <code>{field}</code> is not valid UTF-8, so nothing was changed (a browser sends its forms in UTF-8). " +
            "Open <a href=\"/ui/users\">the page</a> again and resend the form.</p>", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, (await _gateway.Users.ListPageAsync(null, 0, 100, CancellationToken.None)).Total);
    }

    [Fact]
    public async Task CreateRoute_WithoutAntiforgeryToken_RefusedWith400AndNothingWritten()
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var fields = new List<KeyValuePair<string, string>> { new("_handler", "route"), new("name", "sneaky"), new("path", "/sneaky/*"), new("enabled", "true") };

        using var refused = await console.PostAsync("/ui/routes/new", fields);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("id=\"form-refused\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await _gateway.Routes.ListAsync(CancellationToken.None));

        // The same post with the page's token goes through: the token was the only thing missing.
        fields.Add(new("__RequestVerificationToken", await console.TokenFromAsync("/ui/routes/new")));
        using var accepted = await console.PostAsync("/ui/routes/new", fields);
        Assert.Equal(HttpStatusCode.Found, accepted.StatusCode);
        Assert.Equal("sneaky", Assert.Single(await _gateway.Routes.ListAsync(CancellationToken.None)).Name);
    }

    [Theory]
    [InlineData("Sec-Fetch-Site", "same-site")]   // another port of this host, or a sibling subdomain
    [InlineData("Sec-Fetch-Site", "cross-site")]
    [InlineData("Origin", "http://evil.example")]
    [InlineData("Origin", "null")]
    public async Task CreateRoute_ValidTokenButPostedFromAnotherOrigin_RefusedAndNothingWritten(string header, string value)
    {
        // Arrange: a token pair that is valid (a cookie planted from a sibling site could supply one).
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        List<KeyValuePair<string, string>> fields =
            [new("_handler", "route"), new("name", "sneaky"), new("path", "/sneaky/*"), new("enabled", "true"), new("__RequestVerificationToken", await console.TokenFromAsync("/ui/routes/new"))];

        // Act
        using var refused = await console.PostAsync("/ui/routes/new", fields, (header, value));
        using var sameOrigin = await console.PostAsync("/ui/routes/new", fields, ("Sec-Fetch-Site", "same-origin"), ("Origin", _gateway.Url));

        // Assert: the browser's word on the form's origin decides; the same post from the console's own page is taken.
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("id=\"form-refused\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Found, sameOrigin.StatusCode);
        Assert.Equal("sneaky", Assert.Single(await _gateway.Routes.ListAsync(CancellationToken.None)).Name);
    }

    [Fact]
    public async Task CreateRoute_PostedFromAnInternationalisedHostNamedByItsOrigin_Accepted()
    {
        // Arrange: a console reached as bücher.example; the browser sends Host and Origin in punycode, and no
        // Sec-Fetch-Site (browsers without Fetch Metadata)
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        List<KeyValuePair<string, string>> fields =
            [new("_handler", "route"), new("name", "idn"), new("path", "/idn/*"), new("enabled", "true"), new("__RequestVerificationToken", await console.TokenFromAsync("/ui/routes/new"))];

        // Act
        using var posted = await console.PostAsync("/ui/routes/new", fields, ("Host", "xn--bcher-kva.example"), ("Origin", "http://xn--bcher-kva.example"));

        // Assert: the page's own origin (before: compared with the Unicode form of the Host, and refused)
        Assert.Equal(HttpStatusCode.Found, posted.StatusCode);
        Assert.Equal("idn", Assert.Single(await _gateway.Routes.ListAsync(CancellationToken.None)).Name);
    }

    [Fact]
    public async Task LoginPage_HostWithALabelThatIsNotPunycode_400NotAServerFailure()
    {
        var response = await RawHttp.SendAsync(_gateway.Url, System.Text.Encoding.ASCII.GetBytes("GET /ui/login HTTP/1.1\r\nHost: xn--zz.example\r\nConnection: close\r\n\r\n"));

        Assert.Equal(400, response.Status);
    }

    [Fact]
    public async Task DoneNote_OnlyTheConsolesOwnIsShown()
    {
        // Arrange: a real change, whose redirect carries its note; and a link with a note of someone else's making.
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        using var created = await console.PostAsync("/ui/routes/new",
            [new("_handler", "route"), new("name", "orders"), new("path", "/orders/*"), new("enabled", "true"), new("__RequestVerificationToken", await console.TokenFromAsync("/ui/routes/new"))]);

        // Act
        using var followed = await console.GetAsync(console.PathOf(created)!);
        using var forged = await console.GetAsync("/ui/keys?done=" + Uri.EscapeDataString("Security notice: sign in again at https://evil.example/ui"));

        // Assert
        Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        Assert.DoesNotContain("Created route", console.PathOf(created), StringComparison.Ordinal); // sealed, not readable in the URL
        Assert.Contains("Created route orders.", await followed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, forged.StatusCode);
        var forgedPage = await forged.Content.ReadAsStringAsync();
        Assert.DoesNotContain("id=\"done\"", forgedPage, StringComparison.Ordinal);
        Assert.DoesNotContain("Security notice: sign in again", forgedPage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_WithoutAntiforgeryToken_RefusedAndSessionStays()
    {
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        using var refused = await console.PostAsync("/ui/logout", [new("_handler", "logout")]);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var still = await console.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task Logout_WithATokenPairFromAnotherSession_RefusedAndSessionStays()
    {
        // Arrange: someone signed in on their own takes the form token and antiforgery cookie of their page, and plants
        // the cookie in another signed-in browser (from a sibling subdomain, say).
        using var attacker = new ConsoleHttp(_gateway.Url);
        await attacker.SignInAsync(_token);
        var token = await attacker.TokenFromAsync("/ui");
        using var victim = new ConsoleHttp(_gateway.Url);
        await victim.SignInAsync(_token);
        victim.SetCookie("apigate_af", attacker.Cookie("apigate_af")!);

        // Act
        using var refused = await victim.PostAsync("/ui/logout", [new("_handler", "logout"), new("__RequestVerificationToken", token)]);
        using var own = await attacker.PostAsync("/ui/logout", [new("_handler", "logout"), new("__RequestVerificationToken", token)]);

        // Assert: the pair is good only in the session it was rendered for
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var still = await victim.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.Equal(HttpStatusCode.Found, own.StatusCode);
        Assert.False(attacker.HasCookie("apigate_ui_session"));
    }

    [Fact]
    public async Task FormPostedAfterTheSessionEnded_SentToLogInWithTheWayBack()
    {
        // Arrange: a page rendered while signed in; then the session ends (here: the cookie no longer names one)
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);
        var token = await console.TokenFromAsync("/ui");
        console.SetCookie("apigate_ui_session", "ended");

        // Act
        using var posted = await console.PostAsync("/ui/logout", [new("_handler", "logout"), new("__RequestVerificationToken", token)]);

        // Assert: to the login page (not "form refused"), told the session ended; the stale cookie is deleted
        Assert.Equal(HttpStatusCode.SeeOther, posted.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui%2Flogout&expired=1", console.PathOf(posted));
        Assert.False(console.HasCookie("apigate_ui_session"));
    }

    [Fact]
    public async Task Login_FormLargerThanAnyConsolePageReads_413AndNoSession()
    {
        using var console = new ConsoleHttp(_gateway.Url);
        var antiforgery = await console.TokenFromAsync("/ui/login");

        // The right token, with 5 MB of fields no console form has (each under the form reader's own 4 MB a value).
        using var response = await console.PostAsync("/ui/login",
            [new("_handler", "login"), new("__RequestVerificationToken", antiforgery), new("Token", _token),
             .. Enumerable.Range(0, 5).Select(i => new KeyValuePair<string, string>("Padding" + i, new string('x', 1_000_000)))],
            ("Expect", "100-continue")); // the body waits for the server's word: refused, it is never sent (nor broken off mid-send)

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.False(console.HasCookie("apigate_ui_session"));
        await console.SignInAsync(_token); // an ordinary form still signs in
    }

    [Fact]
    public async Task Login_FormLargerThanTheLoginFormNeeds_413AndNoSession()
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        var antiforgery = await console.TokenFromAsync("/ui/login");

        // Act: the right token with 100 kB of padding, far under what a signed-in page reads but read before any sign-in
        using var response = await console.PostAsync("/ui/login",
            [new("_handler", "login"), new("__RequestVerificationToken", antiforgery), new("Token", _token), new("Padding", new string('x', 100_000))],
            ("Expect", "100-continue"));

        // Assert
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.False(console.HasCookie("apigate_ui_session"));
    }

    [Theory]
    [InlineData("/ui/routes", "delete-everything")]
    [InlineData("/ui/login", "no-such-form")]
    public async Task Post_NamingAFormThePageDoesNotShow_400WithAPageSayingNothingWasChanged(string path, string form)
    {
        // Arrange: a form name the page never rendered (an old tab after the page changed, a crafted post), with a good token
        using var console = new ConsoleHttp(_gateway.Url);
        if (path != "/ui/login")
        {
            await console.SignInAsync(_token);
        }

        var antiforgery = await console.TokenFromAsync(path);

        // Act
        using var response = await console.PostAsync(path, [new("_handler", form), new("__RequestVerificationToken", antiforgery)]);

        // Assert: the framework's empty 400 becomes a page that says what happened
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"<p id=\"form-refused\">This form is not on the page any more (the page has changed since it was opened), so nothing was changed. Open <a href=\"{path}\">the page</a> again to see what it offers now.</p>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_WrongTokenRepeatedly_ThrottledWith429AfterFiveFailures()
    {
        using var console = new ConsoleHttp(_gateway.Url);
        var statuses = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var antiforgery = await console.TokenFromAsync("/ui/login");
            using var response = await console.PostAsync("/ui/login",
                [new("_handler", "login"), new("__RequestVerificationToken", antiforgery), new("Token", "agt_" + new string('1', 64))]);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 5), HttpStatusCode.TooManyRequests], statuses);

        // Even the right token waits until the window has passed.
        var token = await console.TokenFromAsync("/ui/login");
        using (var locked = await console.PostAsync("/ui/login", [new("_handler", "login"), new("__RequestVerificationToken", token), new("Token", _token)]))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        }

        _clock.Advance(TimeSpan.FromMinutes(5));
        await console.SignInAsync(_token);
    }
}
