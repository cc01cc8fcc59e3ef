using System.Net;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// A portal form post that gives a field more than once (<c>Email=a&amp;Email=b</c>): refused with 400 and a page naming
/// the field, never its values, and nothing stored — on every form the portal shows.
/// </summary>
public sealed class PortalRepeatedFieldTests : PortalTestBase
{
    private const string NewPassword = "a brand new password";

    /// <summary>Every form of the portal, each with a field it reads (<c>_handler</c>, the form's name, for forms with no field of their own).</summary>
    public static TheoryData<string, string> Forms => new()
    {
        { "signup", "Email" },
        { "signup", "Password" },
        { "login", "Email" },
        { "login", "Password" },
        { "login", "Return" },
        { "login-resend", "ResendEmail" },
        { "forgot", "Email" },
        { "reset", "Token" },
        { "reset", "Password" },
        { "verify", "Token" },
        { "account-password", "Current" },
        { "account-password", "Replacement" },
        { "account-resend", "_handler" },
        { "keys-create", "Name" },
        { "keys-create", "Once" },
        { "keys-revoke", "KeyId" },
        { "plans-change", "_handler" },
        { "logout", "_handler" },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task Post_FieldGivenTwice_400NamingTheFieldNoValueShownAndNothingStored(string form, string field)
    {
        // Arrange: a post the form would accept (it would write: an account, a session, a token, a key, a plan, a logout)
        var (path, fields, client) = await AcceptedPostAsync(form);
        using (client)
        {
            var first = fields.Single(f => f.Key == field).Value;
            var second = field == "_handler" ? first : "other " + first;

            // Act
            var (response, before, after) = await PostAsync(client, path, [.. fields, new(field, second)]);

            // Assert
            var html = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(Refusal(field), TextOf(html, "form-refused"));
            if (field != "_handler") // (a form's name is no secret, and words such as "resend" are in the page's own sentence)
            {
                Assert.DoesNotContain(first, html, StringComparison.Ordinal);
                Assert.DoesNotContain(second, html, StringComparison.Ordinal);
            }

            Assert.Equal(before, after);
        }
    }

    [Theory]
    [InlineData("Email", "email", "Email")]
    [InlineData("email", "Email", "email")]
    [InlineData("Password", "PASSWORD", "Password")]
    public async Task SignUp_FieldGivenTwiceInOtherCapitals_400NamingItAsFirstSpeltAndNoAccount(string firstName, string secondName, string named)
    {
        // Arrange: the form reader and the page's binding read names ignoring case, so both spellings are one field
        using var client = CookieClient();
        (string, string) Field(string spelt) => (spelt, spelt.Equals("Email", StringComparison.OrdinalIgnoreCase) ? "case@customer.example" : Password);
        var fields = new List<(string, string)> { ("_handler", "signup"), Field(firstName) };
        fields.AddRange(new[] { "Email", "Password" }.Where(n => !n.Equals(firstName, StringComparison.OrdinalIgnoreCase)).Select(Field));
        fields.Add(Field(secondName));

        // Act
        var (response, before, after) = await PostAsync(client, "/portal/signup", fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2)).ToList());

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(Refusal(named), TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
        Assert.Equal(before, after);
        Assert.Null(await Gateway.Store.FindUserAsync("case@customer.example", CancellationToken.None));
    }

    [Fact]
    public async Task Login_FieldNamesInLowerCase_ReadAsTheFormsFieldsAndSignedIn()
    {
        // Why Email and email are one field: the page binds either spelling to its Email field.
        // Arrange
        await SignUpAsync("lower@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var (response, _, _) = await PostAsync(client, "/portal/login", [new("_handler", "login"), new("email", "lower@customer.example"), new("password", Password)]);

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(Gateway.Url + "/portal", response.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData("known@customer.example", "")]
    [InlineData("", "known@customer.example")]
    public async Task Forgot_EmailGivenTwiceOneOfThemEmpty_400NamingEmailAndNoResetLink(string first, string second)
    {
        // Arrange
        await SignUpAsync("known@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var (response, before, after) = await PostAsync(client, "/portal/forgot", [new("_handler", "forgot"), new("Email", first), new("Email", second)]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(Refusal("Email"), TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
        Assert.Equal(before, after);
    }

    [Theory]
    [InlineData("näme", "näme", "<code>n&#228;me</code>")]
    [InlineData("äpfel", "ÄPFEL", "<code>&#228;pfel</code>")]
    [InlineData("<i>x</i>", "<I>X</I>", "<code>&lt;i&gt;x&lt;/i&gt;</code>")]
    [InlineData("a\u200Bb", "a\u200Bb", "<code>a%E2%80%8Bb</code>")]
    [InlineData("{0}", "{0}", "<code>{0}</code>")]
    public async Task Login_FieldTheFormDoesNotHaveGivenTwice_400NamingItEscapedAndNoSession(string firstName, string secondName, string shown)
    {
        // Arrange: a correct login, plus a field of no form's given twice (non-ASCII, in other capitals, markup, invisible, braces)
        await SignUpAsync("extra@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var (response, before, after) = await PostAsync(client, "/portal/login",
            [new("_handler", "login"), new(firstName, "1"), new("Email", "extra@customer.example"), new("Password", Password), new(secondName, "2")]);

        // Assert: named as first spelt, HTML-escaped, an invisible character written as its escape
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"<p id=\"form-refused\">The field {shown} is given more than once in the form (field names are compared ignoring case), so nothing was changed: "
            + "each field is sent once. Open <a href=\"/portal/login\">the page</a> again and resend the form.</p>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, after);
        Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : [], c => c.StartsWith("apigate_portal_session=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Login_NonAsciiFieldOfNoFormGivenOnce_Ignored()
    {
        // Arrange
        await SignUpAsync("once@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var (response, _, _) = await PostAsync(client, "/portal/login",
            [new("_handler", "login"), new("näme", "1"), new("Email", "once@customer.example"), new("Password", Password)]);

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(Gateway.Url + "/portal", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Login_AntiforgeryTokenGivenTwice_400TokenRefusedAndNoSession()
    {
        // Arrange: the page's own token, twice
        await SignUpAsync("token@customer.example", verify: true);
        using var client = CookieClient();
        var token = FormPosts.TokenIn(await client.GetStringAsync("/portal/login"), "/portal/login");
        var before = await StoreContentAsync();

        // Act
        var response = await client.PostAsync("/portal/login", new FormUrlEncodedContent([
            new("__RequestVerificationToken", token), new("_handler", "login"), new("Email", "token@customer.example"), new("Password", Password),
            new("__RequestVerificationToken", token)]));

        // Assert: refused by the token check, which reads the repeated field as one value it did not issue
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("The form's security token (antiforgery) was missing or no longer valid, so nothing was changed. Open the page again and resend the form.",
            TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
        Assert.Equal(before, await StoreContentAsync());
    }

    [Theory]
    [InlineData("signup", "Password", "%ED%A0%80")]
    [InlineData("signup", "Email", "new%FF@customer.example")]
    [InlineData("keys-create", "Name", "ci %ED%A0%80 server")]
    [InlineData("keys-create", "Name", "ci %FF")]
    public async Task Post_FieldNotValidUtf8_400NamingTheFieldAndNothingStored(string form, string field, string encoded)
    {
        // Arrange: a post the form would accept but for one value, percent-encoded bytes that are not UTF-8
        var (path, fields, client) = await AcceptedPostAsync(form);
        using (client)
        {
            var token = FormPosts.TokenIn(await client.GetStringAsync(path), path);
            var body = "__RequestVerificationToken=" + Uri.EscapeDataString(token) + string.Concat(fields.Select(f =>
                "&" + Uri.EscapeDataString(f.Key) + "=" + (f.Key == field ? encoded : Uri.EscapeDataString(f.Value))));
            var before = await StoreContentAsync();

            // Act
            using var response = await client.PostAsync(path, new StringContent(body, Encoding.ASCII, "application/x-www-form-urlencoded"));

            // Assert: before, the escape text ("%ED%A0%80") was stored as the value
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(
                $"The value of the field {field} is not valid UTF-8, so nothing was changed (a browser sends its forms in UTF-8). Open the page again and resend the form.",
                TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
            Assert.Equal(before, await StoreContentAsync());
        }
    }

    [Theory]
    [InlineData("us-ascii")]
    [InlineData("ascii")]
    public async Task SignUp_DeclaredAsciiWithRawUtf8Bytes_400NamingTheFieldAndNoAccount(string charset)
    {
        // Arrange: the sign-up form declared ASCII, the password's last character valid UTF-8 past ASCII, sent raw ("…batteré")
        var cookies = new CookieContainer();
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = cookies })
        {
            BaseAddress = new Uri(Gateway.Url),
        };
        var token = FormPosts.TokenIn(await client.GetStringAsync("/portal/signup"), "/portal/signup");
        byte[] body = [.. Encoding.ASCII.GetBytes("__RequestVerificationToken=" + Uri.EscapeDataString(token)
            + "&_handler=signup&Email=ascii%40customer.example&Password=correct+horse+batter"), 0xC3, 0xA9];
        var head = $"POST /portal/signup HTTP/1.1\r\nHost: {new Uri(Gateway.Url).Authority}\r\nConnection: close\r\n"
            + $"Cookie: {cookies.GetCookieHeader(new Uri(Gateway.Url + "/portal/signup"))}\r\n"
            + $"Content-Type: application/x-www-form-urlencoded; charset={charset}\r\nContent-Length: {body.Length}\r\n\r\n";
        var before = await StoreContentAsync();

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, [.. Encoding.ASCII.GetBytes(head), .. body]);

        // Assert: before, the account was made with the password "correct horse batter??", which the customer never typed
        Assert.Equal(400, response.Status);
        Assert.Equal(
            "The value of the field Password holds non-ASCII bytes but the form declared itself ASCII, so nothing was changed (a browser sends its forms in UTF-8). "
            + "Open the page again and resend the form.",
            TextOf(response.Body, "form-refused"));
        Assert.Equal(before, await StoreContentAsync());
    }

    [Fact]
    public async Task SignUp_MultipartFieldNotValidUtf8_400NamingTheFieldAndNoAccount()
    {
        // Arrange: the same form as multipart/form-data, the password's bytes raw and not UTF-8
        var (path, fields, client) = await AcceptedPostAsync("signup");
        using (client)
        {
            var token = FormPosts.TokenIn(await client.GetStringAsync(path), path);
            using var content = new MultipartFormDataContent { { new StringContent(token), "__RequestVerificationToken" } };
            foreach (var (name, value) in fields)
            {
                content.Add(name == "Password" ? new ByteArrayContent([.. Encoding.UTF8.GetBytes(value), 0xFF]) : new StringContent(value), name);
            }

            var before = await StoreContentAsync();

            // Act
            using var response = await client.PostAsync(path, content);

            // Assert
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(
                "The value of the field Password is not valid UTF-8, so nothing was changed (a browser sends its forms in UTF-8). Open the page again and resend the form.",
                TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
            Assert.Equal(before, await StoreContentAsync());
            Assert.Null(await Gateway.Store.FindUserAsync("new@customer.example", CancellationToken.None));
        }
    }

    [Fact]
    public async Task SignUp_ValidUtf8PercentEncodedAndEscapeTextTyped_Accepted()
    {
        // Arrange: a password with non-ASCII characters and the text "%FF" typed by the user (sent as %25FF)
        using var client = CookieClient();
        var token = FormPosts.TokenIn(await client.GetStringAsync("/portal/signup"), "/portal/signup");
        var body = "__RequestVerificationToken=" + Uri.EscapeDataString(token) + "&_handler=signup&Email=typed%40customer.example&Password=p%C3%A4ss+%25FF+word+long";

        // Act
        using var response = await client.PostAsync("/portal/signup", new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"));

        // Assert: the account holds the password as typed
        var user = await Gateway.Store.FindUserAsync("typed@customer.example", CancellationToken.None);
        Assert.NotNull(user);
        var account = await Gateway.Store.FindPortalAccountAsync(user.Id, CancellationToken.None);
        Assert.True(PortalPasswords.Verify(account!.PasswordHash, "p\u00e4ss %FF word long", out _));
    }

    private static string Refusal(string field) =>
        $"The field {field} is given more than once in the form (field names are compared ignoring case), so nothing was changed: each field is sent once. Open the page again and resend the form.";

    /// <summary>
    /// For a form of the theory: the path it posts to, the fields of a post it would accept (its name in
    /// <c>_handler</c> first, as the page sends it) and a client (signed in when the form is behind the session).
    /// </summary>
    private async Task<(string Path, List<KeyValuePair<string, string>> Fields, HttpClient Client)> AcceptedPostAsync(string form)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        List<KeyValuePair<string, string>> Fields(string name, params (string Name, string Value)[] fields) =>
            [new("_handler", name), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))];

        switch (form)
        {
            case "signup":
                return ("/portal/signup", Fields("signup", ("Email", "new@customer.example"), ("Password", Password)), CookieClient());
            case "login":
                await SignUpAsync("login@customer.example", verify: true);
                return ("/portal/login", Fields("login", ("Email", "login@customer.example"), ("Password", Password), ("Return", "/portal/keys")), CookieClient());
            case "login-resend":
                await CreateUnconfirmedAccountAsync("unconfirmed@customer.example");
                return ("/portal/login", Fields("resend", ("ResendEmail", "unconfirmed@customer.example")), CookieClient());
            case "forgot":
                await SignUpAsync("forgot@customer.example", verify: true);
                return ("/portal/forgot", Fields("forgot", ("Email", "forgot@customer.example")), CookieClient());
            case "reset":
                await SignUpAsync("reset@customer.example", verify: true);
                Assert.True((await accounts.RequestResetAsync("reset@customer.example", Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
                var resetToken = TokenOf(TestSmtpServer.LinkIn(await Smtp.NextToAsync("reset@customer.example"), "/portal/reset"));
                return ("/portal/reset?token=" + resetToken, Fields("reset", ("Token", resetToken), ("Password", NewPassword)), CookieClient());
            case "verify":
                Assert.True((await accounts.SignUpAsync("verify@customer.example", Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
                var verifyToken = TokenOf(TestSmtpServer.LinkIn(await Smtp.NextToAsync("verify@customer.example"), "/portal/verify"));
                return ("/portal/verify?token=" + verifyToken, Fields("verify", ("Token", verifyToken)), CookieClient());
            case "account-password":
                return ("/portal/account", Fields("password", ("Current", Password), ("Replacement", NewPassword)), await SignedInAsync("account@customer.example"));
            case "account-resend":
                return ("/portal/account", Fields("resend"), await SignedInAsync("resend@customer.example"));
            case "keys-create":
                return ("/portal/keys", Fields("create", ("Name", "ci server"), ("Once", "0123456789abcdef0123456789abcdef")), await SignedInAsync("create@customer.example"));
            case "keys-revoke":
                var revoker = await SignedInAsync("revoke@customer.example");
                var customer = (await Gateway.Store.FindUserAsync("revoke@customer.example", CancellationToken.None))!;
                var key = (await Gateway.Service<PortalKeyService>().CreateAsync(customer, "production", null, CancellationToken.None)).Key!;
                return ("/portal/keys", Fields("revoke", ("KeyId", key.Key.Id)), revoker);
            case "plans-change":
                Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "hobby", Name = "Hobby", Visible = true }, CancellationToken.None)).Ok);
                return ("/portal/plans", Fields("change-hobby"), await SignedInAsync("plans@customer.example"));
            case "logout":
                return ("/portal/logout", Fields("logout"), await SignedInAsync("logout@customer.example"));
            default:
                throw new ArgumentOutOfRangeException(nameof(form), form, "no such form in the theory");
        }
    }

    /// <summary>
    /// Gets <paramref name="path"/>, then posts <paramref name="fields"/> after the page's antiforgery token, exactly as
    /// given (repeats, capitals and order kept); returns the answer and the store's content just before and after the post.
    /// </summary>
    private async Task<(HttpResponseMessage Response, string Before, string After)> PostAsync(HttpClient client, string path, List<KeyValuePair<string, string>> fields)
    {
        var token = FormPosts.TokenIn(await client.GetStringAsync(path), path);
        var before = await StoreContentAsync();
        var response = await client.PostAsync(path, new FormUrlEncodedContent([new("__RequestVerificationToken", token), .. fields]));
        return (response, before, await StoreContentAsync());
    }

    /// <summary>
    /// Every row of every table a portal form writes to (accounts, users, keys, tokens, sessions, attempt counts, plans,
    /// audit, webhook events …), as text: equal before and after a post when the post stored nothing. The usage and
    /// health tables, which the gateway writes in the background, are left out.
    /// </summary>
    private async Task<string> StoreContentAsync()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Gateway.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'usage%' "
                + "AND name NOT IN ('quota_usage', 'target_health') ORDER BY name";
            await using var reader = await list.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        Assert.Contains("portal_accounts", tables);
        var content = new StringBuilder();
        foreach (var table in tables)
        {
            await using var select = connection.CreateCommand();
            select.CommandText = $"SELECT * FROM \"{table}\"";
            await using var reader = await select.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                rows.Add(string.Join('|', Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i) is byte[] b ? Convert.ToHexString(b) : reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
            }

            rows.Sort(StringComparer.Ordinal);
            content.Append(table).Append(": ").AppendJoin('\n', rows).Append('\n');
        }

        return content.ToString();
    }

    private static string TokenOf(string link) => Uri.UnescapeDataString(link[(link.IndexOf("token=", StringComparison.Ordinal) + 6)..]);

    /// <summary>A confirmed customer signed in through the login form, in a client that keeps its cookie.</summary>
    private async Task<HttpClient> SignedInAsync(string email)
    {
        await SignUpAsync(email, verify: true);
        var client = CookieClient();
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/login", "login", ("Email", email), ("Password", Password))).StatusCode);
        return client;
    }

    private async Task SignUpAsync(string email, bool verify)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync(email, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/verify");
        if (verify)
        {
            Assert.True((await accounts.VerifyAsync(TokenOf(link), CancellationToken.None)).Ok);
        }
    }
}
