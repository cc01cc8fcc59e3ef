using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The portal's pages over plain HTTP: enumeration-safe answers, cookie flags, antiforgery, bad input, reserved paths.</summary>
public sealed class PortalHttpTests : PortalTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void ConfigurePortal(GatewayOptions options) => options.LogWriter = _log.Writer;

    [Fact]
    public async Task Forgot_KnownAndUnknownEmail_SameAnswerAndStatus()
    {
        // Arrange
        await SignUpAsync("known@customer.example");
        using var client = CookieClient();

        // Act: the form posts alone are timed
        Task<(HttpResponseMessage Response, TimeSpan Took)> SendAsync(string email) =>
            FormPosts.PostTimedAsync(client, "/portal/forgot", "forgot", ("Email", email));

        var (known, knownTime) = await SendAsync("known@customer.example");
        var (unknown, unknownTime) = await SendAsync("unknown@customer.example");

        // Assert: the same answer, neither sooner than the fixed answer time (the registered address's token and message
        // are made inside it)
        Assert.Equal(known.StatusCode, unknown.StatusCode);
        Assert.True(knownTime >= PortalOptions.ResetAnswerTime, $"registered address answered after {knownTime}");
        Assert.True(unknownTime >= PortalOptions.ResetAnswerTime, $"unknown address answered after {unknownTime}");
        Assert.Equal("If known@customer.example has an account, we sent it a link to reset the password. It works for one hour.",
            TextOf(await known.Content.ReadAsStringAsync(), "message-ok"));
        Assert.Equal("If unknown@customer.example has an account, we sent it a link to reset the password. It works for one hour.",
            TextOf(await unknown.Content.ReadAsStringAsync(), "message-ok"));
    }

    [Fact]
    public async Task Post_NamingAFormThePageDoesNotShow_400WithAPageSayingNothingWasChanged()
    {
        // Arrange: the forgot-password page, posted with a form name it never rendered and a good token
        using var client = CookieClient();
        var token = FormPosts.TokenIn(await client.GetStringAsync("/portal/forgot"), "/portal/forgot");

        // Act
        var response = await client.PostAsync("/portal/forgot", Form(("_handler", "no-such-form"), ("__RequestVerificationToken", token)));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("This form is not on the page any more (the page has changed since it was opened), so nothing was changed. Open the page again to see what it offers now.",
            TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
    }

    [Fact]
    public async Task CreateKey_AnswerShowingTheNewKey_NeverCachedFramedNorSentAsAReferrer()
    {
        // Arrange
        var (client, _) = await SignedInAsync("shown-once@customer.example");
        using (client)
        {
            // Act: the post's answer is the page that shows the whole key, once
            var created = await PostFormAsync(client, "/portal/keys", "create", ("Name", "ci server"));

            // Assert: no cache (a shared proxy's or the browser's back button) keeps it, no other site frames it, and no
            // link followed from it tells another site where it came from
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            Assert.StartsWith("ak_", TextOf(await created.Content.ReadAsStringAsync(), "new-key"), StringComparison.Ordinal);
            Assert.Equal(AdminUi.ConsoleHttp.SecurityHeaders, AdminUi.ConsoleHttp.SecurityHeadersOf(created));
        }
    }

    [Fact]
    public async Task CreateKey_PageShowingTheNewKeyReloaded_SamePostRefusedWithAMessageAndOneKeyCreated()
    {
        // Arrange: the create form's post as the browser sends it (every field it holds, hidden ones included)
        var (client, _) = await SignedInAsync("reload@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("reload@customer.example", CancellationToken.None))!;
            var page = await client.GetStringAsync("/portal/keys");
            var form = Regex.Match(page, "<form[^>]*>(?:(?!</form>).)*id=\"create-key\"", RegexOptions.Singleline).Value;
            var fields = Regex.Matches(form, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\"")
                .Select(m => (m.Groups[1].Value, WebUtility.HtmlDecode(m.Groups[2].Value)))
                .Append(("Name", "ci server")).ToArray(); // the form names itself (_handler) in a hidden field too
            var created = await client.PostAsync("/portal/keys", Form(fields));
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);

            // Act: the reload sends that post again
            var reloaded = await client.PostAsync("/portal/keys", Form(fields));

            // Assert
            Assert.Equal(HttpStatusCode.BadRequest, reloaded.StatusCode);
            var html = await reloaded.Content.ReadAsStringAsync();
            Assert.Equal("This form was sent already (the page was reloaded, or the button pressed twice), so no key was created now: your keys are listed below.",
                TextOf(html, "message-error"));
            Assert.DoesNotContain("id=\"new-key\"", html, StringComparison.Ordinal);
            Assert.Single(await Gateway.Service<PortalKeyService>().ListAsync(customer, CancellationToken.None));
        }
    }

    [Fact]
    public async Task RevokeKey_IdOfAnotherCustomersKeyInTheForm_400NoSuchKeyAndThatKeyStaysActive()
    {
        // Arrange: two customers with a key each; the second edits the id in its own revoke form
        var keys = Gateway.Service<PortalKeyService>();
        await SignUpAsync("victim@customer.example", verify: true);
        var victim = (await Gateway.Store.FindUserAsync("victim@customer.example", CancellationToken.None))!;
        var victimsKey = (await keys.CreateAsync(victim, "production", null, CancellationToken.None)).Key!;
        var (client, _) = await SignedInAsync("attacker@customer.example");
        using (client)
        {
            var attacker = (await Gateway.Store.FindUserAsync("attacker@customer.example", CancellationToken.None))!;
            Assert.NotNull((await keys.CreateAsync(attacker, "mine", null, CancellationToken.None)).Key);

            // Act
            var response = await PostFormAsync(client, "/portal/keys", "revoke", ("KeyId", victimsKey.Key.Id));

            // Assert
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("No such key.", TextOf(await response.Content.ReadAsStringAsync(), "message-error"));
            Assert.Null((await Gateway.Store.FindKeyAsync(victimsKey.Key.Id, CancellationToken.None))!.RevokedAt);
        }
    }

    [Fact]
    public async Task Get_PathWithNoPage_404WithAPageSayingSoEscapedAndLinkingToTheStart()
    {
        // Arrange
        var (client, _) = await SignedInAsync("lost@customer.example");
        using (client)
        {
            // Act: an address with markup in it, as a link someone else made
            var response = await client.GetAsync("/portal/%3Cb%3Ekeys");

            // Assert
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
            Assert.Contains("<p id=\"no-page\">There is no page at <code>/portal/&lt;b&gt;keys</code>. <a href=\"/portal\">Back to the start</a>.</p>",
                await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Name", "ci\u0000server")] // a NUL anywhere in the body
    [InlineData(null, "x")] // a field name of 2,049 characters, one past the reader's limit
    public async Task CreateKey_FormTheReaderRefuses_400WithAPageSayingTheFormCouldNotBeReadAndNoKey(string? field, string value)
    {
        // Arrange
        var email = field is null ? "long-name@customer.example" : "nul@customer.example";
        var (client, _) = await SignedInAsync(email);
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync(email, CancellationToken.None))!;

            // Act: the framework's form reader refuses the body
            var response = await PostFormAsync(client, "/portal/keys", "create", (field ?? new string('f', 2049), value));

            // Assert
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
            Assert.Equal("The form could not be read (a field held a character no form may carry, such as NUL; a field name was too long or there were too many fields; or the body was not a form), so nothing was changed. Open the page again and resend the form.",
                TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
            Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
            Assert.Empty(await Gateway.Service<PortalKeyService>().ListAsync(customer, CancellationToken.None));
        }
    }

    [Fact]
    public async Task CreateKey_NameWithATagCharacter_RefusedNamingItsCodePointAndNoKey()
    {
        // Arrange
        var (client, _) = await SignedInAsync("tags@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("tags@customer.example", CancellationToken.None))!;

            // Act: U+E0041 TAG LATIN CAPITAL LETTER A, invisible, outside the BMP
            var response = await PostFormAsync(client, "/portal/keys", "create", ("Name", "ci\U000E0041server"));

            // Assert
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("The name must not contain invisible characters (U+E0041 at position 3).", TextOf(await response.Content.ReadAsStringAsync(), "message-error"));
            Assert.Empty(await Gateway.Service<PortalKeyService>().ListAsync(customer, CancellationToken.None));
        }
    }

    [Fact]
    public async Task CreateKey_NameWithAWordJoiner_RefusedNamingTheNameAndTheCharacterAndNoKey()
    {
        // Arrange
        var (client, _) = await SignedInAsync("joiner@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("joiner@customer.example", CancellationToken.None))!;

            // Act
            var response = await PostFormAsync(client, "/portal/keys", "create", ("Name", "ci\u2060server"));

            // Assert
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("The name must not contain invisible characters (U+2060 at position 3).", TextOf(await response.Content.ReadAsStringAsync(), "message-error"));
            Assert.Empty(await Gateway.Service<PortalKeyService>().ListAsync(customer, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Logout_WithATokenPairFromAnotherSession_RefusedAndSessionStays()
    {
        // Arrange: a customer signed in on their own takes the form token and antiforgery cookie of their page, and plants
        // the cookie in another customer's signed-in browser (from a sibling subdomain, say).
        var (attacker, attackerCookies) = await SignedInAsync("attacker@customer.example");
        var (victim, victimCookies) = await SignedInAsync("victim@customer.example");
        using (attacker)
        using (victim)
        {
            var token = FormPosts.TokenIn(await attacker.GetStringAsync("/portal"), "/portal");
            var planted = attackerCookies.GetCookies(new Uri(Gateway.Url + "/portal")).Single(c => c.Name == "apigate_af");
            victimCookies.Add(new Cookie(planted.Name, planted.Value, planted.Path, planted.Domain));

            // Act
            var refused = await victim.PostAsync("/portal/logout", Form(("_handler", "logout"), ("__RequestVerificationToken", token)));
            var own = await attacker.PostAsync("/portal/logout", Form(("_handler", "logout"), ("__RequestVerificationToken", token)));

            // Assert: the pair is good only in the session it was rendered for
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await victim.GetAsync("/portal")).StatusCode);
            Assert.Equal(HttpStatusCode.Redirect, own.StatusCode);
            Assert.Equal(HttpStatusCode.Redirect, (await attacker.GetAsync("/portal")).StatusCode);
        }
    }

    [Fact]
    public async Task Logout_FromThePageAPasswordChangeReturned_WorksUnderTheNewSession()
    {
        // Arrange: a password change ends the session the page was posted under and opens a new one
        var (client, _) = await SignedInAsync("changer@customer.example");
        using (client)
        {
            var changed = await PostFormAsync(client, "/portal/account", "password", ("Current", Password), ("Replacement", "a new horse battery"));
            Assert.Equal(HttpStatusCode.Redirect, changed.StatusCode);
            var after = await client.GetAsync(changed.Headers.Location!);
            var page = await after.Content.ReadAsStringAsync();
            Assert.Equal("Your password is changed.", TextOf(page, "message-ok"));
            var token = FormPosts.TokenIn(page, "the page after the change");

            // Act: the forms of that page (here: log out) are posted under the new session
            var logout = await client.PostAsync("/portal/logout", Form(("_handler", "logout"), ("__RequestVerificationToken", token)));

            // Assert
            Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
            Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/portal")).StatusCode);
        }
    }

    [Fact]
    public async Task ChangePassword_AnotherBrowserSignedIn_ThatSessionEndsWhileThisOneContinues()
    {
        // Arrange: the customer is signed in twice (their laptop, and a browser someone else may hold)
        var (laptop, _) = await SignedInAsync("twice@customer.example");
        using var other = CookieClient();
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(other, "/portal/login", "login", ("Email", "twice@customer.example"), ("Password", Password))).StatusCode);
        using (laptop)
        {
            // Act: the password is changed on the laptop
            var changed = await PostFormAsync(laptop, "/portal/account", "password", ("Current", Password), ("Replacement", "a new horse battery"));
            Assert.Equal(HttpStatusCode.Redirect, changed.StatusCode);
            var otherPage = await other.GetAsync("/portal/keys");
            var laptopPage = await laptop.GetAsync("/portal/keys");

            // Assert: the page says other sessions are logged out, and so they are; the laptop stays signed in
            Assert.Equal(HttpStatusCode.Redirect, otherPage.StatusCode);
            Assert.Equal("/portal/login?return=%2Fportal%2Fkeys&expired=1", otherPage.Headers.Location!.OriginalString);
            Assert.Equal(HttpStatusCode.OK, laptopPage.StatusCode);
        }
    }

    [Fact]
    public async Task Page_CustomerSuspendedByTheOperator_SignedOutAndStillSoAfterReactivation()
    {
        // Arrange: a signed-in customer the operator suspends (apigate users update --status suspended)
        var (client, cookies) = await SignedInAsync("suspended@customer.example");
        var session = cookies.GetCookies(new Uri(Gateway.Url + "/portal"))["apigate_portal_session"]!.Value;
        using (client)
        {
            Assert.True((await Gateway.Users.UpdateAsync("suspended@customer.example", new UserChanges { Status = ApiGate.Core.Identity.UserStatus.Suspended }, CancellationToken.None)).Ok);

            // Act: the next page; then the operator reactivates the customer and the same cookie is sent again (the
            // browser dropped it, but whoever copied it has not)
            var suspended = await client.GetAsync("/portal/keys");
            Assert.True((await Gateway.Users.UpdateAsync("suspended@customer.example", new UserChanges { Status = ApiGate.Core.Identity.UserStatus.Active }, CancellationToken.None)).Ok);
            using var replay = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(Gateway.Url) };
            using var replayed = new HttpRequestMessage(HttpMethod.Get, "/portal/keys") { Headers = { { "Cookie", "apigate_portal_session=" + session } } };
            var reactivated = await replay.SendAsync(replayed);

            // Assert: the suspension ended the session itself, so reactivating does not bring it back: the customer logs in again
            Assert.Equal(HttpStatusCode.Redirect, suspended.StatusCode);
            Assert.Equal("/portal/login?return=%2Fportal%2Fkeys&expired=1", suspended.Headers.Location!.OriginalString);
            Assert.Equal(HttpStatusCode.Redirect, reactivated.StatusCode);
            Assert.Equal("/portal/login?return=%2Fportal%2Fkeys&expired=1", reactivated.Headers.Location!.OriginalString);
        }
    }

    [Theory]
    [InlineData("wrong current password", "a new horse battery", "The current password is incorrect.", "current")]
    [InlineData(Password, "short", "Password must be at least 10 characters.", "new-password")]
    public async Task ChangePassword_Refused_MessageOnPageItsFieldMarked(string current, string replacement, string message, string field)
    {
        // Arrange
        var (client, _) = await SignedInAsync("marked@customer.example");
        using (client)
        {
            // Act
            var response = await PostFormAsync(client, "/portal/account", "password", ("Current", current), ("Replacement", replacement));

            // Assert: the field at fault is marked, not the other one
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var html = await response.Content.ReadAsStringAsync();
            Assert.Equal(message, TextOf(html, "message-error"));
            Assert.Equal([field], MarkedInvalid(html));
        }
    }

    [Fact]
    public async Task Plans_FreeMonthlyPlanWithAnOveragePrice_NotChosenHereAndAChangeRefused()
    {
        // Arrange: 0 a month but 0.01 per request past the quota — requests past it are let through and owed, so moving
        // there is not free, and without a billing provider there is nothing that collects the overage
        Assert.True((await Gateway.Plans.CreateAsync(
            new PlanInput { Id = "payg", Name = "Pay as you go", PriceMonthly = 0, OveragePrice = 1, RequestsPerMonth = 1_000, Visible = true }, CancellationToken.None)).Ok);
        var (client, _) = await SignedInAsync("overage@customer.example");
        var customer = (await Gateway.Store.FindUserAsync("overage@customer.example", CancellationToken.None))!;

        // Act
        string html;
        using (client)
        {
            html = await client.GetStringAsync("/portal/plans");
        }

        var change = await Gateway.Service<PortalPlanService>().ChangeAsync(customer, "payg", CancellationToken.None);

        // Assert
        Assert.DoesNotContain("id=\"choose-payg\"", html, StringComparison.Ordinal);
        Assert.Contains("Past the quota: 0.01 per request", html, StringComparison.Ordinal);
        Assert.Equal((false, "Pay as you go cannot be chosen here. Please contact the operator to change plans."), (change.Ok, change.Message));
        Assert.Equal("free", (await Gateway.Store.FindUserAsync(customer.Id, CancellationToken.None))!.PlanId);
    }

    [Fact]
    public async Task Plans_LargePriceAndQuota_ShownWithThousandsSeparators()
    {
        // Arrange: a plan of 29,000.00 a month (in cents) with 12.5 million requests
        Assert.True((await Gateway.Plans.CreateAsync(
            new PlanInput { Id = "scale", Name = "Scale", PriceMonthly = 2_900_000, RequestsPerMonth = 12_500_000, Visible = true }, CancellationToken.None)).Ok);
        var (client, _) = await SignedInAsync("prices@customer.example");

        // Act
        string html;
        using (client)
        {
            html = await client.GetStringAsync("/portal/plans");
        }

        // Assert
        Assert.Contains("29,000.00", html, StringComparison.Ordinal);
        Assert.Contains("12,500,000 requests / month", html, StringComparison.Ordinal);
        Assert.Contains("49.00", html, StringComparison.Ordinal); // the pro plan: small prices unchanged
    }

    [Fact]
    public async Task Reference_ManyEndpoints_ShownFiftyAPageWithLinksBetweenThem()
    {
        // Arrange: 120 more routes (121 with the base class's), one disabled
        for (var i = 0; i < 120; i++)
        {
            await Gateway.AddRouteAsync(new RouteInput { Name = $"Endpoint {i:000}", Path = $"/v1/e{i:000}", Upstream = "backend", Enabled = i != 7 }, reload: false);
        }

        var (client, _) = await SignedInAsync("reference@customer.example");

        // Act
        string first, last, pastTheEnd;
        using (client)
        {
            first = await client.GetStringAsync("/portal/reference");
            last = await client.GetStringAsync("/portal/reference?page=3");
            pastTheEnd = await client.GetStringAsync("/portal/reference?page=99");
        }

        // Assert: 120 enabled endpoints, 50 + 50 + 20
        Assert.Equal(50, Cards(first));
        Assert.Contains("Endpoints 1–50 of 120", first, StringComparison.Ordinal);
        Assert.Contains("href=\"/portal/reference?page=2\"", first, StringComparison.Ordinal);
        Assert.Equal(20, Cards(last));
        Assert.Contains("Endpoints 101–120 of 120", last, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"pager-next\"", last, StringComparison.Ordinal);
        Assert.Equal(Routes(last), Routes(pastTheEnd)); // a page past the last shows the last
        Assert.DoesNotContain("data-route=\"endpoint-007\"", first + last, StringComparison.Ordinal);

        static int Cards(string html) => System.Text.RegularExpressions.Regex.Count(html, "data-route=\"");
        static string[] Routes(string html) => [.. System.Text.RegularExpressions.Regex.Matches(html, "data-route=\"([^\"]*)\"").Select(m => m.Groups[1].Value)];
    }

    [Fact]
    public async Task FormPostedAfterTheSessionEnded_SentToLogInWithTheWayBack()
    {
        // Arrange: a page rendered while signed in; then the session ends (here: the cookie no longer names one)
        var (client, cookies) = await SignedInAsync("ended@customer.example");
        using (client)
        {
            var token = FormPosts.TokenIn(await client.GetStringAsync("/portal"), "/portal");
            cookies.Add(new Uri(Gateway.Url + "/portal"), new Cookie("apigate_portal_session", "ended", "/portal"));

            // Act
            var posted = await client.PostAsync("/portal/logout", Form(("_handler", "logout"), ("__RequestVerificationToken", token)));

            // Assert: to the login page (not "form refused"), told the session ended
            Assert.Equal(HttpStatusCode.SeeOther, posted.StatusCode);
            Assert.Equal("/portal/login?return=%2Fportal%2Flogout&expired=1", new Uri(new Uri(Gateway.Url), posted.Headers.Location!).PathAndQuery);
        }
    }

    [Fact]
    public async Task Dashboard_ErrorAnswersOfTheApi_ListedByStatusWithTheirShareAndMeaning()
    {
        // Arrange: a customer on a plan of 4 requests a month: 2 served, the API's own 404 and 429, then one refused
        // by the gateway for the quota (not usage: not listed)
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "tiny", Name = "Tiny", RequestsPerMonth = 4 }, CancellationToken.None)).Ok);
        var (client, _) = await SignedInAsync("errors@customer.example");
        using (client)
        {
            Assert.True((await Gateway.Users.UpdateAsync("errors@customer.example", new UserChanges { Plan = "tiny" }, CancellationToken.None)).Ok);
            var key = TextOf(await (await PostFormAsync(client, "/portal/keys", "create", ("Name", "errors"))).Content.ReadAsStringAsync(), "new-key");
            await Gateway.ReloadAsync();
            foreach (var (path, status) in new[] { ("/api/orders", 200), ("/api/orders", 200), ("/api/status?code=404", 404), ("/api/status?code=429", 429), ("/api/orders", 402) })
            {
                using var call = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
                call.Headers.Add("X-API-Key", key);
                using var answer = await Gateway.Client.SendAsync(call);
                Assert.Equal(status, (int)answer.StatusCode);
            }

            // Act: usage is written in batches (bounded wait)
            var page = "";
            for (var attempt = 0; attempt < 50 && !page.Contains("data-code=\"429\"", StringComparison.Ordinal); attempt++)
            {
                await Task.Delay(attempt == 0 ? 0 : 200);
                page = await client.GetStringAsync("/portal");
            }

            // Assert: by status, then code, each with its share of the 4 requests that reached the API
            Assert.Equal(
                "404 1 25.0% No such endpoint or resource: check the path against the API reference.|"
                + "429 1 25.0% The API asked you to slow down: wait the seconds in Retry-After.",
                string.Join('|', Regex.Matches(page, "<tr data-code=\"[^\"]*\">(.*?)</tr>", RegexOptions.Singleline)
                    .Select(row => string.Join(' ', Regex.Matches(row.Groups[1].Value, "<td[^>]*>(.*?)</td>").Select(cell => cell.Groups[1].Value)))));
            Assert.DoesNotContain("data-code=\"402\"", page, StringComparison.Ordinal);
        }
    }

    /// <summary>A confirmed customer signed in through the login form, in a client whose cookies the test can read and plant.</summary>
    private async Task<(HttpClient Client, CookieContainer Cookies)> SignedInAsync(string email)
    {
        await SignUpAsync(email, verify: true);
        var cookies = new CookieContainer();
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = cookies }) { BaseAddress = new Uri(Gateway.Url) };
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/login", "login", ("Email", email), ("Password", Password))).StatusCode);
        return (client, cookies);
    }

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    [Fact]
    public async Task CreateKey_PastFiftyInAnHourRevokedOnesIncluded_429WithTheWaitAndNoKeyCreated()
    {
        // Arrange: a customer whose script created and revoked keys in a loop, fifty within the hour (never more than one
        // unrevoked, so the limit of 20 unrevoked keys never stopped it)
        var (client, _) = await SignedInAsync("churn@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("churn@customer.example", CancellationToken.None))!;
            var keys = Gateway.Service<PortalKeyService>();
            for (var i = 0; i < PortalKeyService.MaxCreatedPerHour; i++)
            {
                var (created, key) = await keys.CreateAsync(customer, "loop " + i, null, CancellationToken.None);
                Assert.True(created.Ok, created.Message);
                Assert.True((await keys.RevokeAsync(customer, key!.Key.Id, CancellationToken.None)).Ok);
            }

            // Act
            var response = await PostFormAsync(client, "/portal/keys", "create", ("Name", "one more"));

            // Assert
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("Too many keys created. Try again in 60 minute(s).", TextOf(await response.Content.ReadAsStringAsync(), "message-error"));
            Assert.Equal(PortalKeyService.MaxCreatedPerHour, (await keys.ListAsync(customer, CancellationToken.None)).Count);
        }
    }

    [Fact]
    public async Task CreateKey_PastFiftyInAnHourWithANewFormValueEachTime_429AndNothingMoreStored()
    {
        // Arrange: fifty keys created (and revoked) within the hour
        var (client, _) = await SignedInAsync("script@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("script@customer.example", CancellationToken.None))!;
            var keys = Gateway.Service<PortalKeyService>();
            for (var i = 0; i < PortalKeyService.MaxCreatedPerHour; i++)
            {
                var (created, key) = await keys.CreateAsync(customer, "loop " + i, null, CancellationToken.None);
                Assert.True(created.Ok, created.Message);
                Assert.True((await keys.RevokeAsync(customer, key!.Key.Id, CancellationToken.None)).Ok); // under the 20 unrevoked
            }

            foreach (var once in new[] { "script-0", "script-1", "script-2" })
            {
                // Act: a script posting the form on, a new once-value each time
                var response = await PostFormAsync(client, "/portal/keys", "create", ("Name", "more"), ("Once", once));

                // Assert: refused, and no stored count of its own for that value (a row per post otherwise)
                Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
                var key = "portal-key-form:" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(customer.Id + ":" + once)));
                Assert.Null(await Gateway.Store.GetAttemptCountAsync(key, CancellationToken.None));
            }

            Assert.Equal(PortalKeyService.MaxCreatedPerHour, (await keys.ListAsync(customer, CancellationToken.None)).Count);
        }
    }

    [Fact]
    public async Task CreateKey_FormSentTwice_TheRefusedSecondPostDoesNotCountAsACreation()
    {
        // Arrange: forty-eight keys created (and revoked) within the hour, then one through the form, sent twice
        var (client, _) = await SignedInAsync("twice@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("twice@customer.example", CancellationToken.None))!;
            var keys = Gateway.Service<PortalKeyService>();
            for (var i = 0; i < PortalKeyService.MaxCreatedPerHour - 2; i++)
            {
                var (created, key) = await keys.CreateAsync(customer, "loop " + i, null, CancellationToken.None);
                Assert.True(created.Ok, created.Message);
                Assert.True((await keys.RevokeAsync(customer, key!.Key.Id, CancellationToken.None)).Ok); // under the 20 unrevoked
            }

            Assert.Equal(HttpStatusCode.OK, (await PostFormAsync(client, "/portal/keys", "create", ("Name", "first"), ("Once", "form-a"))).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await PostFormAsync(client, "/portal/keys", "create", ("Name", "first"), ("Once", "form-a"))).StatusCode);

            // Act: the fiftieth creation of the hour
            var response = await PostFormAsync(client, "/portal/keys", "create", ("Name", "last"), ("Once", "form-b"));

            // Assert
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(PortalKeyService.MaxCreatedPerHour, (await keys.ListAsync(customer, CancellationToken.None)).Count);
        }
    }

    [Fact]
    public async Task CreateKey_FiftyRefusedNamesInAnHour_AKeyWithAGoodNameIsStillCreated()
    {
        // Arrange: a customer whose names were refused fifty times (an invisible character pasted with them): no key made
        var (client, _) = await SignedInAsync("typos@customer.example");
        using (client)
        {
            var customer = (await Gateway.Store.FindUserAsync("typos@customer.example", CancellationToken.None))!;
            var keys = Gateway.Service<PortalKeyService>();
            for (var i = 0; i < PortalKeyService.MaxCreatedPerHour; i++)
            {
                var (refused, _) = await keys.CreateAsync(customer, "ci\u200Bserver " + i, null, CancellationToken.None);
                Assert.Equal("The name must not contain invisible characters (U+200B at position 3).", refused.Message);
            }

            // Act
            var response = await PostFormAsync(client, "/portal/keys", "create", ("Name", "ci server"));

            // Assert: refusals are not creations
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Key 'ci server' created. Copy it now: it is not shown again.", TextOf(await response.Content.ReadAsStringAsync(), "message-ok"));
            Assert.Single(await keys.ListAsync(customer, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Login_UnknownEmailAndWrongPassword_SameAnswerAndStatus()
    {
        // Arrange
        await SignUpAsync("known@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var unknown = await PostFormAsync(client, "/portal/login", "login", ("Email", "nobody@customer.example"), ("Password", Password));
        var wrong = await PostFormAsync(client, "/portal/login", "login", ("Email", "known@customer.example"), ("Password", "not the password"));

        // Assert
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(PortalAccountService.LoginFailed, TextOf(await unknown.Content.ReadAsStringAsync(), "message-error"));
        Assert.Equal(PortalAccountService.LoginFailed, TextOf(await wrong.Content.ReadAsStringAsync(), "message-error"));
    }

    [Fact]
    public async Task SignUp_ExistingEmail_SameAnswerAsNewOneNeitherSoonerAndNothingCreated()
    {
        // Arrange
        await SignUpAsync("taken@customer.example");
        using var client = CookieClient();

        // Act: the form posts alone are timed
        Task<(HttpResponseMessage Response, TimeSpan Took)> SendAsync(string email) =>
            FormPosts.PostTimedAsync(client, "/portal/signup", "signup", ("Email", email), ("Password", Password));

        var (taken, takenTime) = await SendAsync("taken@customer.example");
        var (fresh, freshTime) = await SendAsync("fresh@customer.example");

        // Assert: the same answer, neither sooner than the fixed answer time (a new account's rows and link are made inside it)
        Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.True(takenTime >= PortalOptions.ResetAnswerTime, $"registered address answered after {takenTime}");
        Assert.True(freshTime >= PortalOptions.ResetAnswerTime, $"new address answered after {freshTime}");
        Assert.Equal(TextOf(await fresh.Content.ReadAsStringAsync(), "message-ok").Replace("fresh@", "taken@"), TextOf(await taken.Content.ReadAsStringAsync(), "message-ok"));
        Assert.Equal(2, (await Gateway.Store.ListUsersAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Reference_HeaderJwtRegexAndWildcardHostRoutes_ExamplesCarryWhatTheRouteNeeds()
    {
        // Arrange: a route served only with a header, one that takes JWTs only, one matched by a regex, one for any subdomain
        await Gateway.AddRouteAsync(new RouteInput { Name = "Beta", Path = "/beta/{id}", Upstream = "backend", AuthRequired = true, Headers = ["X-Beta=1"] });
        await Gateway.AddRouteAsync(new RouteInput { Name = "Tokens", Path = "/tokens/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "Items", Path = "^/items/[0-9]+$", MatchType = "regex", Upstream = "backend", AuthRequired = true });
        await Gateway.AddRouteAsync(new RouteInput { Name = "Tenants", Path = "/tenant", HostPattern = "*.acme.example", Upstream = "backend", AuthRequired = true });
        await Gateway.AddRouteAsync(new RouteInput { Name = "Europe", Path = "/eu", HostPattern = @"^eu\.acme\.example$", HostMatchType = "regex", Upstream = "backend", AuthRequired = true });
        await Gateway.AddRouteAsync(new RouteInput { Name = "Shops", Path = "/shop", HostPattern = @"^(eu|us)\.shop\.example$", HostMatchType = "regex", Upstream = "backend" });
        var (client, _) = await SignedInAsync("reader@customer.example");
        using (client)
        {
            var created = await PostFormAsync(client, "/portal/keys", "create", ("Name", "docs"));
            var key = TextOf(await created.Content.ReadAsStringAsync(), "new-key");
            var prefix = Core.Identity.ApiKeys.PrefixOf(key);

            // Act
            var page = await client.GetStringAsync("/portal/reference");

            // Assert: the header route's example, run with the whole key, reaches the route (without the header nothing
            // matches that path)
            var beta = TextOf(page, "curl-beta");
            var headers = System.Text.RegularExpressions.Regex.Matches(beta, "-H '([^']*)'").Select(m => m.Groups[1].Value.Split(": ", 2)).ToList();
            using var call = new HttpRequestMessage(HttpMethod.Get, System.Text.RegularExpressions.Regex.Match(beta, "'(http[^']*)'$").Groups[1].Value);
            foreach (var header in headers)
            {
                call.Headers.Add(header[0], header[1].Replace(prefix + "…", key, StringComparison.Ordinal));
            }

            var answer = await Gateway.Client.SendAsync(call);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("/beta/123", Assert.Single(Upstream.Received).Path);
            Assert.Equal("Only requests with the header X-Beta: 1 reach this endpoint.", TextOf(page, "headers-beta"));

            // a JWT-only route refuses API keys: its example carries a bearer token, not the key
            Assert.Equal("JWT required (API keys are not accepted)", TextOf(page, "credential-tokens"));
            Assert.Equal($"curl -X GET -H 'Authorization: Bearer <JWT>' '{Gateway.Url}/tokens/example'", TextOf(page, "curl-tokens"));

            // a route for any subdomain: the example names one
            Assert.Equal($"curl -X GET -H 'Host: api.acme.example' -H 'X-API-Key: {prefix}…' '{Gateway.Url}/tenant'", TextOf(page, "curl-tenants"));

            Assert.Equal("Only requests to a host under .acme.example (*.acme.example) reach this endpoint.", TextOf(page, "host-tenants"));

            // a regex is no URL: the example keeps its literal beginning
            Assert.Equal($"curl -X GET -H 'X-API-Key: {prefix}…' '{Gateway.Url}/items/…'", TextOf(page, "curl-items"));

            // a host regex that is one host: the example sends that host, and reaches the route with it
            var europe = TextOf(page, "curl-europe");
            Assert.Equal($"curl -X GET -H 'Host: eu.acme.example' -H 'X-API-Key: {prefix}…' '{Gateway.Url}/eu'", europe);
            Assert.Equal(@"Only requests to a host matching the regular expression ^eu\.acme\.example$ reach this endpoint.", TextOf(page, "host-europe"));
            using var toEurope = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/eu");
            toEurope.Headers.Host = "eu.acme.example";
            toEurope.Headers.Add("X-API-Key", key);
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.SendAsync(toEurope)).StatusCode);
            Assert.Equal("/eu", Upstream.Received.Last().Path);

            // any other host regex: a placeholder the text explains, never the regex as a host
            Assert.Equal($"curl -X GET -H 'Host: <host>' '{Gateway.Url}/shop'", TextOf(page, "curl-shops"));
            Assert.Equal(@"Only requests to a host matching the regular expression ^(eu|us)\.shop\.example$ reach this endpoint; replace <host> in the example with one.", TextOf(page, "host-shops"));
        }
    }

    [Fact]
    public async Task SignUp_PastTenFromOneAddressInAnHour_429WithTheWaitAndNoUser()
    {
        // Arrange: ten sign-ups from this client's address
        using var client = CookieClient();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await PostFormAsync(client, "/portal/signup", "signup", ("Email", $"n{i}@customer.example"), ("Password", Password))).StatusCode);
        }

        // Act
        var eleventh = await PostFormAsync(client, "/portal/signup", "signup", ("Email", "n10@customer.example"), ("Password", Password));

        // Assert
        Assert.Equal(HttpStatusCode.TooManyRequests, eleventh.StatusCode);
        Assert.StartsWith("Too many sign-ups from your network. Try again in", TextOf(await eleventh.Content.ReadAsStringAsync(), "message-error"), StringComparison.Ordinal);
        Assert.Null(await Gateway.Store.FindUserAsync("n10@customer.example", CancellationToken.None));
    }

    [Fact]
    public async Task SignUpAndForgot_NoBaseUrlAndAHostThatIsNotLoopback_400SayingNoLinksAndNothingCreated()
    {
        // Arrange: no APIGATE_PORTAL_BASE_URL; the client names a public host (the Host header is the client's to choose)
        using var client = CookieClient();
        client.DefaultRequestHeaders.Host = "portal.example";

        // Act
        var signUp = await PostFormAsync(client, "/portal/signup", "signup", ("Email", "nolink@customer.example"), ("Password", Password));
        var forgot = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "nolink@customer.example"));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, signUp.StatusCode);
        Assert.Equal(PortalAccountService.CannotMakeLinks, TextOf(await signUp.Content.ReadAsStringAsync(), "message-error"));
        Assert.Equal(HttpStatusCode.BadRequest, forgot.StatusCode);
        Assert.Equal(PortalAccountService.CannotMakeLinks, TextOf(await forgot.Content.ReadAsStringAsync(), "message-error"));
        Assert.Empty(await Gateway.Store.ListUsersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Login_UnconfirmedAddress_SendANewConfirmationLinkButtonSendsOne()
    {
        // Arrange: an unconfirmed customer logs in with the right password; the page offers "Send a new confirmation link"
        await SignUpAsync("unconfirmed@customer.example");
        using var client = CookieClient();
        var refused = await PostFormAsync(client, "/portal/login", "login", ("Email", "unconfirmed@customer.example"), ("Password", Password));
        var page = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("id=\"resend\"", page, StringComparison.Ordinal);

        // Act: the button of that page is pressed (its form: the token, the handler and the hidden address, as a browser posts it)
        var resent = await client.PostAsync("/portal/login", Form(
            ("__RequestVerificationToken", FormPosts.TokenIn(page, "the refused login")), ("_handler", "resend"), ("ResendEmail", "unconfirmed@customer.example")));

        // Assert: the page answers (not a bare 400) and a new link is on its way
        Assert.Equal(HttpStatusCode.OK, resent.StatusCode);
        Assert.Equal("If unconfirmed@customer.example has an unconfirmed account, we sent it a new link.",
            TextOf(await resent.Content.ReadAsStringAsync(), "message-ok"));
        Assert.StartsWith(Gateway.Url + "/portal/verify?token=",
            TestSmtpServer.LinkIn(await Smtp.NextToAsync("unconfirmed@customer.example"), "/portal/verify"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_ResendPostedForUnconfirmedAndUnknownEmail_SameAnswerNeitherSoonerThanTheOther()
    {
        // Arrange: an account whose address is not confirmed yet; anyone can post the resend form with any address
        await SignUpAsync("waiting@customer.example");
        using var client = CookieClient();

        // Act: the form posts alone are timed
        Task<(HttpResponseMessage Response, TimeSpan Took)> SendAsync(string email) =>
            FormPosts.PostTimedAsync(client, "/portal/login", "resend", ("ResendEmail", email));

        var (pending, pendingTime) = await SendAsync("waiting@customer.example");
        var (unknown, unknownTime) = await SendAsync("nobody@customer.example");

        // Assert: the same answer, neither sooner than the fixed answer time (the unconfirmed account's link is made inside it)
        Assert.Equal(pending.StatusCode, unknown.StatusCode);
        Assert.True(pendingTime >= PortalOptions.ResetAnswerTime, $"unconfirmed address answered after {pendingTime}");
        Assert.True(unknownTime >= PortalOptions.ResetAnswerTime, $"unknown address answered after {unknownTime}");
        Assert.Equal("If nobody@customer.example has an unconfirmed account, we sent it a new link.", TextOf(await unknown.Content.ReadAsStringAsync(), "message-ok"));
        Assert.StartsWith(Gateway.Url + "/portal/verify?token=",
            TestSmtpServer.LinkIn(await Smtp.NextToAsync("waiting@customer.example"), "/portal/verify"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoginPage_Head_AnsweredAsGetWithoutABody()
    {
        // Arrange: what an uptime check sends
        using var client = CookieClient();

        // Act
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/portal/login"));

        // Assert: 200 as for GET (before: 405), the page's headers, no body
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/html", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("GET /portal/login HTTP/1.0\r\n\r\n")] // HTTP/1.0 needs no Host
    [InlineData("GET /portal/login HTTP/1.1\r\nHost: 127.0.0.1:65536\r\nConnection: close\r\n\r\n")]
    [InlineData("GET /portal/login HTTP/1.1\r\nHost: xn--zz.example\r\nConnection: close\r\n\r\n")] // HttpRequest.Host throws on it
    public async Task Page_RequestWhoseAddressIsNotAUri_Answers400NotAServerFailure(string request)
    {
        // Arrange: a request any scanner sends; Kestrel takes it, but the page's address cannot be made from it
        var gateway = new Uri(Gateway.Url);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(gateway.Host, gateway.Port);
        var stream = tcp.GetStream();

        // Act
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
        var answer = await new StreamReader(stream).ReadToEndAsync();

        // Assert: the client's error (400), not a 500 with an error-level stack trace in the log (event 8101)
        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_Success_SessionCookieHttpOnlyLaxPortalPathNotSecureOverHttp()
    {
        // Arrange
        await SignUpAsync("cookie@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var response = await PostFormAsync(client, "/portal/login", "login", ("Email", "cookie@customer.example"), ("Password", Password));

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/portal", new Uri(new Uri(Gateway.Url), response.Headers.Location!).PathAndQuery);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("apigate_portal_session=", StringComparison.Ordinal));
        var attributes = cookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=lax", attributes);
        Assert.Contains("path=/portal", attributes);
        Assert.DoesNotContain("secure", attributes);
        var dashboard = await client.GetAsync("/portal");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
    }

    [Fact]
    public async Task Login_BehindAProxyThatRewritesTheHost_RedirectedToThePortalAtTheBrowsersAddress()
    {
        // Arrange: the Host the proxy sends is the gateway's own address; the browser is at the public one
        await SignUpAsync("proxied@customer.example", verify: true);
        using var client = CookieClient();
        client.DefaultRequestHeaders.Add("Sec-Fetch-Site", "same-origin");
        client.DefaultRequestHeaders.Add("Origin", "https://portal.example");

        // Act
        var response = await PostFormAsync(client, "/portal/login", "login", ("Email", "proxied@customer.example"), ("Password", Password));

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("https://portal.example/portal", new Uri(new Uri("https://portal.example/portal/login"), response.Headers.Location!).ToString());
    }

    [Fact]
    public async Task Login_FormLargerThanAnyPortalPageReads_413AndNoSession()
    {
        // Arrange: a genuine login form, carrying one more field than the page needs
        await SignUpAsync("padded@customer.example", verify: true);
        using var client = CookieClient();

        var token = FormPosts.TokenIn(await client.GetStringAsync("/portal/login"), "/portal/login");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/portal/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = token,
                ["_handler"] = "login",
                ["Email"] = "padded@customer.example",
                ["Password"] = Password,
                ["Padding"] = new string('x', 100_000),
            }),
        };
        request.Headers.ExpectContinue = true; // the body waits for the server's word: refused, it is never sent (nor broken off mid-send)

        // Act
        using var response = await client.SendAsync(request);

        // Assert: refused before the form is read into memory, so nothing after it ran
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("apigate_portal_session=", StringComparison.Ordinal)));
        Assert.True(response.Headers.CacheControl?.NoStore);
    }

    [Fact]
    public async Task Login_FormDeclaredInUtf7_400SayingTheCharacterSetIsNotReadAndNoSession()
    {
        // Arrange: a right login, but for the body's declared character set, which .NET refuses to decode
        await SignUpAsync("utf7@customer.example", verify: true);
        using var client = CookieClient();
        var page = await client.GetStringAsync("/portal/login");
        var content = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Infrastructure.FormPosts.TokenIn(page, "/portal/login"),
            ["_handler"] = "login",
            ["Email"] = "utf7@customer.example",
            ["Password"] = Password,
        });
        content.Headers.ContentType!.CharSet = "utf-7";

        // Act: anyone can send this to the public listener
        var response = await client.PostAsync("/portal/login", content);

        // Assert: the client's error (before: 500 and an error logged for each such post)
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("The form was sent in a character set the gateway does not read (a browser sends UTF-8), so nothing was changed. Open the page again and resend the form.",
            TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("apigate_portal_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task LoginPage_AntiforgeryCookieThatDoesNotDecryptAndAPostWithoutToken_AnsweredAndNeitherLogged()
    {
        // Arrange: a visitor sending a made-up antiforgery cookie, as anyone can with every request
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri(Gateway.Url) };
        using var get = new HttpRequestMessage(HttpMethod.Get, "/portal/login");
        get.Headers.Add("Cookie", "apigate_af=CfDJ8made-up-value");
        using var post = new HttpRequestMessage(HttpMethod.Post, "/portal/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "login", ["Email"] = "nobody@customer.example", ["Password"] = Password }),
        };
        post.Headers.Add("Cookie", "apigate_af=CfDJ8made-up-value");

        // Act
        using var page = await client.SendAsync(get);
        using var refused = await client.SendAsync(post);

        // Assert: the page is served with a new cookie, the post gets its page; the log holds neither (before: an error
        // with a stack trace for the cookie and warnings for the post, one set per request)
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains(page.Headers.GetValues("Set-Cookie"), c => c.StartsWith("apigate_af=", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.StartsWith("The form's security token (antiforgery) was missing or no longer valid, so nothing was changed.",
            TextOf(await refused.Content.ReadAsStringAsync(), "form-refused"));
        var log = await _log.UpToMarkerAsync(Gateway);
        Assert.DoesNotContain("Microsoft.AspNetCore.Antiforgery", log, StringComparison.Ordinal);
        Assert.DoesNotContain("deserializing the token", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_MissingAntiforgeryToken_RefusedNoSession()
    {
        // Arrange
        await SignUpAsync("csrf@customer.example", verify: true);
        using var client = CookieClient();

        // Act
        var response = await client.PostAsync("/portal/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["Email"] = "csrf@customer.example",
            ["Password"] = Password,
        }));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("The form's security token (antiforgery) was missing or no longer valid, so nothing was changed.",
            TextOf(await response.Content.ReadAsStringAsync(), "form-refused"));
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("apigate_portal_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task SignUp_MissingAntiforgeryToken_RefusedNothingCreated()
    {
        // Arrange
        using var client = CookieClient();

        // Act
        var response = await client.PostAsync("/portal/signup", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "signup",
            ["Email"] = "forged@customer.example",
            ["Password"] = Password,
        }));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(await Gateway.Store.ListUsersAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("not-an-email", Password, "'not-an-email' is not an email address.", "email")]
    [InlineData("short@customer.example", "short", "Password must be at least 10 characters.", "password")]
    [InlineData("tag\U000E0041@customer.example", Password, "'tag\U000E0041@customer.example' is not an email address.", "email")] // reads as tag@customer.example
    public async Task SignUp_BadInput_MessageOnPageItsFieldMarkedNothingCreated(string email, string password, string message, string field)
    {
        // Arrange
        using var client = CookieClient();

        // Act
        var response = await PostFormAsync(client, "/portal/signup", "signup", ("Email", email), ("Password", password));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(message, TextOf(html, "message-error"));
        Assert.Equal([field], MarkedInvalid(html));
        Assert.Empty(await Gateway.Store.ListUsersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task SignUp_NoBaseUrlAndAHostThatIsNotLoopback_NoFieldMarked()
    {
        // Arrange: a well-formed address and password, refused for want of portal.base_url
        using var client = CookieClient();
        client.DefaultRequestHeaders.Host = "portal.example";

        // Act
        var response = await PostFormAsync(client, "/portal/signup", "signup", ("Email", "nolink@customer.example"), ("Password", Password));

        // Assert: the refusal is about the portal's settings, so no field is marked as if the address were wrong
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(PortalAccountService.CannotMakeLinks, TextOf(html, "message-error"));
        Assert.Empty(MarkedInvalid(html));
    }

    [Theory]
    [InlineData("not-an-email", "'not-an-email' is not an email address.")]
    [InlineData("", "Enter your email address.")]
    public async Task Forgot_AddressRefused_MessageOnPageEmailFieldMarked(string email, string message)
    {
        // Arrange
        using var client = CookieClient();

        // Act
        var response = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", email));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(message, TextOf(html, "message-error"));
        Assert.Equal(["email"], MarkedInvalid(html));
    }

    [Fact]
    public async Task Forgot_NoBaseUrlAndAHostThatIsNotLoopback_NoFieldMarked()
    {
        // Arrange: a well-formed address, refused for want of portal.base_url
        using var client = CookieClient();
        client.DefaultRequestHeaders.Host = "portal.example";

        // Act
        var response = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "nolink@customer.example"));

        // Assert: the refusal is about the portal's settings, not the address
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(PortalAccountService.CannotMakeLinks, TextOf(html, "message-error"));
        Assert.Empty(MarkedInvalid(html));
    }

    [Theory]
    [InlineData("short", "Password must be at least 10 characters.", "password")]
    [InlineData("a brand new password", PortalAccountService.LinkUnusable, "")] // a link refused: no field is at fault
    public async Task Reset_Refused_MessageOnPageOnlyTheFieldItNamesMarked(string password, string message, string field)
    {
        // Arrange: a made-up link (256 random bits no account was sent)
        using var client = CookieClient();
        var token = ApiGate.Gateway.Portal.OneTimeTokens.Generate();

        // Act
        var response = await PostFormAsync(client, "/portal/reset?token=" + token, "reset", ("Token", token), ("Password", password));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(message, TextOf(html, "message-error"));
        string[] expected = field.Length > 0 ? [field] : [];
        Assert.Equal(expected, MarkedInvalid(html));
    }

    [Theory]
    [InlineData(ApiGate.Core.Portal.PortalTokenPurpose.Reset, "/portal/reset", "reset")]
    [InlineData(ApiGate.Core.Portal.PortalTokenPurpose.Verify, "/portal/verify", "verify")]
    public async Task Link_AccountDeletedSinceTheLinkWasSent_400PageSayingTheLinkCannotBeUsed(ApiGate.Core.Portal.PortalTokenPurpose purpose, string path, string form)
    {
        // Arrange: a link still out when the operator deletes the account
        await SignUpAsync("gone@customer.example");
        var user = (await Gateway.Store.FindUserAsync("gone@customer.example", CancellationToken.None))!;
        var token = ApiGate.Gateway.Portal.OneTimeTokens.Generate();
        await Gateway.Store.CreatePortalTokenAsync(new ApiGate.Core.Portal.PortalToken
        {
            Id = Core.Text.Ids.New("ptk"),
            UserId = user.Id,
            Purpose = purpose,
            Hash = ApiGate.Gateway.Portal.OneTimeTokens.Hash(token),
            CreatedAt = DateTimeOffset.UtcNow,
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
        }, CancellationToken.None);
        using var client = CookieClient();
        Assert.True((await Gateway.Users.DeleteAsync(user.Id, CancellationToken.None)).Ok);

        // Act
        var response = await PostFormAsync(client, path + "?token=" + token, form, ("Token", token), ("Password", "a brand new password"));

        // Assert: the portal's page with its message, not an empty answer
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(PortalAccountService.LinkUnusable, TextOf(await response.Content.ReadAsStringAsync(), "message-error"));
    }

    /// <summary>
    /// The ids of the inputs a page marks invalid: its field box has the class <c>ag-invalid</c> (the red border), its
    /// input <c>aria-invalid="true"</c>; a field with only one of the two fails the test.
    /// </summary>
    private static string[] MarkedInvalid(string html)
    {
        var boxed = Regex.Matches(html, "<div class=\"ag-field[^\"]*\\bag-invalid\\b[^\"]*\">\\s*<label for=\"([^\"]+)\"")
            .Select(m => m.Groups[1].Value).ToArray();
        var aria = Regex.Matches(html, "<input id=\"([^\"]+)\"[^>]*aria-invalid=\"true\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(boxed, aria);
        return aria;
    }

    [Fact]
    public async Task SignUp_HugeFields_MessageOnPageNothingCreated()
    {
        // Arrange
        using var client = CookieClient();

        // Act
        var email = await PostFormAsync(client, "/portal/signup", "signup", ("Email", new string('a', 20_000) + "@customer.example"), ("Password", Password));
        var password = await PostFormAsync(client, "/portal/signup", "signup", ("Email", "huge@customer.example"), ("Password", new string('p', 20_000)));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, email.StatusCode);
        Assert.Equal("Email address must be at most 254 characters.", TextOf(await email.Content.ReadAsStringAsync(), "message-error"));
        Assert.Equal(HttpStatusCode.BadRequest, password.StatusCode);
        Assert.Equal("Password must be at most 256 characters.", TextOf(await password.Content.ReadAsStringAsync(), "message-error"));
        Assert.Empty(await Gateway.Store.ListUsersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task SignedInPage_NoSession_RedirectsToLogin()
    {
        // Arrange
        using var client = CookieClient();

        // Act
        var response = await client.GetAsync("/portal/keys");

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/portal/login?return=%2Fportal%2Fkeys", new Uri(new Uri(Gateway.Url), response.Headers.Location!).PathAndQuery);
    }

    [Fact]
    public async Task PortalPath_CatchAllRouteExists_ServedByPortalNotUpstream()
    {
        // Arrange
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend", AuthRequired = false, Priority = 1000 });
        using var client = CookieClient();

        // Act
        var login = await client.GetAsync("/portal/login");
        var unknown = await client.GetAsync("/portal/nothing-here");
        var other = await client.GetAsync("/portalx");

        // Assert
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Contains("Acme API", await login.Content.ReadAsStringAsync());
        Assert.NotEqual(HttpStatusCode.OK, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode); // not the portal's: the catch-all route forwards it
        Assert.Single(Upstream.Received);
    }

    [Fact]
    public async Task Assets_OnPortalPath_Served()
    {
        // Arrange
        using var client = CookieClient();
        var page = await client.GetStringAsync("/portal/login");
        var css = System.Text.RegularExpressions.Regex.Match(page, "href=\"(/portal/_assets/site\\.[^\"]+\\.css)\"").Groups[1].Value;

        // Act
        var response = await client.GetAsync(css);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/css", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Assets_UnknownNameOnPortalPath_404WithThePagesSecurityHeadersAndAShortBody()
    {
        // Arrange
        using var client = CookieClient();
        using var login = await client.GetAsync("/portal/login");

        // Act
        using var response = await client.GetAsync("/portal/_assets/site.000000000000.css");

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(AdminUi.ConsoleHttp.SecurityHeadersOf(login), AdminUi.ConsoleHttp.SecurityHeadersOf(response));
        Assert.Equal("no-store, no-cache, must-revalidate, max-age=0", AdminUi.ConsoleHttp.SecurityHeadersOf(response)["Cache-Control"]);
        Assert.Equal(Web.Shared.SecurityHeaders.ContentSecurityPolicy, AdminUi.ConsoleHttp.SecurityHeadersOf(response)["Content-Security-Policy"]);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("Not found: there is no asset at this address.\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Query_ParameterGivenTwice_400PageNamingIt()
    {
        // Arrange
        using var client = CookieClient();

        // Act
        using var response = await client.GetAsync("/portal/login?expired=1&expired=2");

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<p id=\"query-refused\">The query parameter <code>expired</code> is given more than once in the address, so nothing was shown or changed: give it once. "
            + "<a href=\"/portal\">Back to the start</a>.</p>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task SignUpAsync(string email, bool verify = false)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync(email, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/verify");
        if (verify)
        {
            Assert.True((await accounts.VerifyAsync(link[(link.IndexOf("token=", StringComparison.Ordinal) + 6)..], CancellationToken.None)).Ok);
        }
    }

    [Theory]
    [InlineData("/portal/%2e%2e/ui")]
    [InlineData("/portal/../ui/login")]
    [InlineData("/api/%2E%2E/ui/routes")]
    [InlineData("/api/%2e%2e/portal/login")]
    [InlineData("/api/./../portal/keys")]
    public async Task PagesNamedOnlyAfterDotSegmentRemoval_400InvalidPathNeitherPagesNorRouteServe(string target)
    {
        // Kestrel alone resolved '/portal/%2e%2e/ui' to the console's '/ui': a proxy in front that forwards only '/portal/*'
        // (or an API's '/api/*') as sent would have opened the console to its clients.

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert: refused by the path rule, as under the admin API's base path — not a page, not the route's 401
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.Contains("\"detail\":\"The request path was refused: the path contains a dot segment ('.' or '..', also with ';' parameters). See Path safety",
            response.Body, StringComparison.Ordinal);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("/portal/%6Cogin")]
    [InlineData("/%70ortal/login")]
    public async Task PagePathWithAnEncodedLetter_NamesThePageAsSentAndIsServed(string target)
    {
        // Act: an encoded letter decodes to the same path under the path rule
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Contains("<form", response.Body, StringComparison.Ordinal);
    }
}

/// <summary>A portal with no SMTP server (<c>APIGATE_SMTP_URL</c> unset): the pages that would send email say they cannot.</summary>
public sealed class PortalHttpTestsWithoutSmtp : PortalTestBase
{
    private protected override void ConfigurePortal(GatewayOptions options) => WithoutSmtp(options);

    [Fact]
    public async Task Login_ResendConfirmationWithoutSmtp_400SayingThePortalCannotSendEmail()
    {
        // Arrange: an account left unconfirmed (made while the portal could still send email, say)
        await CreateUnconfirmedAccountAsync("unsent@customer.example");
        using var client = CookieClient();

        // Act
        var resent = await PostFormAsync(client, "/portal/login", "resend", ("ResendEmail", "unsent@customer.example"));

        // Assert: said plainly (for every address alike, so nothing about accounts is revealed), not "we sent it a new link"
        Assert.Equal(HttpStatusCode.BadRequest, resent.StatusCode);
        Assert.Equal(PortalAccountService.CannotSendEmail, TextOf(await resent.Content.ReadAsStringAsync(), "message-error"));
    }
}

/// <summary>Without <c>APIGATE_PORTAL_ENABLED</c>: /portal is an ordinary path for the routes.</summary>
public sealed class PortalDisabledTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "everything", Path = "/*", Upstream = "backend", AuthRequired = false });
    }

    [Fact]
    public async Task PortalPath_PortalOff_ForwardedToRoute()
    {
        // Act
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/portal/login");

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/portal/login", Assert.Single(Upstream.Received).Path);
    }
}

/// <summary>
/// The portal's base URL says https (TLS ends at a proxy in front): the session cookie is Secure even over http, and
/// <c>__Host-apigate_portal_session</c> at <c>Path=/</c>, which no sibling subdomain can set and no page on the host can
/// shadow; the plain name, what an attacker could plant, is not honoured, nor a cookie sent twice.
/// </summary>
public sealed class PortalBehindTlsProxyTests : PortalTestBase
{
    private const string HostName = "__Host-apigate_portal_session";

    private protected override void ConfigurePortal(GatewayOptions options) => options.PortalBaseUrl = "https://developers.acme.example";

    [Fact]
    public async Task Login_HttpsBaseUrl_HostPrefixedSecureCookieAtRootPathAndEmailLinksUseBaseUrl()
    {
        // Arrange
        var link = await SignUpAsync("tls@customer.example");

        // Act
        var (response, _, _) = await LogInAsync("tls@customer.example");

        // Assert
        Assert.StartsWith("https://developers.acme.example/portal/verify?token=", link);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.Contains("apigate_portal_session", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith(HostName + "=", cookie, StringComparison.Ordinal);
        var attributes = cookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).Order().ToList();
        Assert.Equal(["httponly", "path=/", "samesite=lax", "secure"], attributes);
    }

    [Theory]
    [InlineData("__Host-apigate_portal_session={0}", null)]
    [InlineData("apigate_portal_session={0}", "/portal/login?return=%2Fportal%2Fkeys&expired=1")] // the plain name: from before the upgrade, or planted
    [InlineData("__Host-apigate_portal_session={0}; __Host-apigate_portal_session={0}", "/portal/login?return=%2Fportal%2Fkeys&expired=1")] // twice: neither is taken
    [InlineData("__Host-apigate_portal_session={0}; __Host-apigate_portal_session=planted", "/portal/login?return=%2Fportal%2Fkeys&expired=1")]
    public async Task Page_HttpsBaseUrl_SignedInOnlyByThePrefixedCookieSentOnce(string cookieHeader, string? toLogin)
    {
        // Arrange
        await SignUpAsync("once@customer.example");
        var (_, session, _) = await LogInAsync("once@customer.example");
        using var client = TestGateway.CreateClient();

        // Act
        using var response = await SendAsync(client, HttpMethod.Get, "/portal/keys", string.Format(System.Globalization.CultureInfo.InvariantCulture, cookieHeader, session), null);

        // Assert
        Assert.Equal(toLogin is null ? HttpStatusCode.OK : HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(toLogin, response.Headers.Location is { } location ? new Uri(new Uri(Gateway.Url), location).PathAndQuery : null);
    }

    [Fact]
    public async Task Page_HttpsBaseUrlWithPlainCookieOnly_SessionEndedAndPlainCookieDeletedAtItsPath()
    {
        // Arrange: a session cookie under the plain name, as a browser kept it from before the gateway used the prefix
        await SignUpAsync("upgraded@customer.example");
        var (_, session, _) = await LogInAsync("upgraded@customer.example");
        using var client = TestGateway.CreateClient();

        // Act
        using var response = await SendAsync(client, HttpMethod.Get, "/portal/keys", "apigate_portal_session=" + session, null);

        // Assert: not signed in by it, told the session ended, and the browser told to drop it where it was set
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/portal/login?return=%2Fportal%2Fkeys&expired=1", response.Headers.Location!.OriginalString);
        var deleted = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("apigate_portal_session=", StringComparison.Ordinal));
        var attributes = deleted.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("expires=thu, 01 jan 1970 00:00:00 gmt", attributes);
        Assert.Contains("path=/portal", attributes);
    }

    [Fact]
    public async Task Logout_HttpsBaseUrl_DeletesThePrefixedCookieAtRootPath()
    {
        // Arrange
        await SignUpAsync("bye@customer.example");
        var (_, session, antiforgery) = await LogInAsync("bye@customer.example");
        using var client = TestGateway.CreateClient();
        var cookies = antiforgery + "; " + HostName + "=" + session;
        using var page = await SendAsync(client, HttpMethod.Get, "/portal/logout", cookies, null);
        var field = FormPosts.TokenIn(await page.Content.ReadAsStringAsync(), "/portal/logout");

        // Act
        using var loggedOut = await SendAsync(client, HttpMethod.Post, "/portal/logout", cookies,
            new FormUrlEncodedContent([new("_handler", "logout"), new("__RequestVerificationToken", field)]));

        // Assert
        Assert.Equal(HttpStatusCode.Found, loggedOut.StatusCode);
        var deleted = Assert.Single(loggedOut.Headers.GetValues("Set-Cookie"), c => c.Contains("apigate_portal_session", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith(HostName + "=;", deleted, StringComparison.Ordinal);
        var attributes = deleted.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("expires=thu, 01 jan 1970 00:00:00 gmt", attributes);
        Assert.Contains("path=/", attributes);
        Assert.Contains("secure", attributes);
        using var after = await SendAsync(client, HttpMethod.Get, "/portal/keys", HostName + "=" + session, null);
        Assert.Equal(HttpStatusCode.Found, after.StatusCode);
    }

    /// <summary>Signs up with <see cref="PortalTestBase.Password"/> and confirms the address; the confirmation link.</summary>
    private async Task<string> SignUpAsync(string email)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync(email, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/verify");
        Assert.True((await accounts.VerifyAsync(link[(link.IndexOf("token=", StringComparison.Ordinal) + 6)..], CancellationToken.None)).Ok);
        return link;
    }

    /// <summary>
    /// Logs in through the login form (cookies kept by hand: a Secure cookie is not sent back over http by a cookie jar):
    /// the response, the session cookie's value (under whichever name it was set) and the antiforgery cookie.
    /// </summary>
    private async Task<(HttpResponseMessage Response, string Session, string Antiforgery)> LogInAsync(string email)
    {
        using var client = TestGateway.CreateClient();
        using var loginPage = await SendAsync(client, HttpMethod.Get, "/portal/login", null, null);
        var antiforgery = loginPage.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("apigate_af=", StringComparison.Ordinal)).Split(';')[0];
        var field = FormPosts.TokenIn(await loginPage.Content.ReadAsStringAsync(), "/portal/login");
        var response = await SendAsync(client, HttpMethod.Post, "/portal/login", antiforgery,
            new FormUrlEncodedContent([new("_handler", "login"), new("__RequestVerificationToken", field), new("Email", email), new("Password", Password)]));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var cookie = response.Headers.GetValues("Set-Cookie").First(c => c.Split('=', 2)[0].EndsWith("apigate_portal_session", StringComparison.Ordinal));
        return (response, cookie.Split(';', 2)[0].Split('=', 2)[1], antiforgery);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? cookie, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, Gateway.Url + path) { Content = content };
        if (cookie is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }

        return await client.SendAsync(request);
    }
}
