using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.AdminUi;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// The stored settings changed through the admin API (<c>GET</c> / <c>PATCH /admin/settings/stored</c>) and the
/// console's settings page, on a gateway given its settings' sources as <c>serve</c> gives them: here the environment
/// sets <c>APIGATE_LOG_LEVEL=warn</c>.
/// </summary>
public sealed class StoredSettingsApiTests : AdminUiTestBase
{
    private protected override Microsoft.Extensions.Configuration.IConfiguration Settings =>
        GatewaySettings.Build(null, name => name == "APIGATE_LOG_LEVEL" ? "warn" : null, new Dictionary<string, string?>());

    [Fact]
    public async Task Patch_SetTwoSettings_StoredTogetherAndAnsweredWithTheirSourceAndTheRestartNote()
    {
        // Act: one as a JSON number, one as text
        var (status, body) = await PatchAsync("""{"set": {"ratelimit.burst": 25, "upstream.timeout": "45s"}}""");

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        var settings = body.RootElement.GetProperty("data").GetProperty("settings");
        Assert.Equal(
            ["ratelimit.burst=25 (stored)", "upstream.timeout=45s (stored)"],
            settings.EnumerateArray().Select(s => $"{s.GetProperty("key").GetString()}={s.GetProperty("value").GetString()} ({s.GetProperty("source").GetString()})"));
        Assert.Equal([StoredSettingsEditor.RestartNote], body.RootElement.GetProperty("data").GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal(["ratelimit.burst=25", "upstream.timeout=45s"], await StoredAsync());
        using var listed = await GetAsync("/admin/settings/stored");
        Assert.Equal(["ratelimit.burst", "upstream.timeout"], listed.RootElement.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("key").GetString()));
    }

    [Fact]
    public async Task Patch_AValueTheEnvironmentHides_StoredWithANoteNamingTheVariable()
    {
        // Act
        var (status, body) = await PatchAsync("""{"set": ["log.level=debug"]}""");

        // Assert: stored for the instances without the variable; here the environment's value stays
        Assert.Equal(HttpStatusCode.OK, status);
        var now = Assert.Single(body.RootElement.GetProperty("data").GetProperty("settings").EnumerateArray());
        Assert.Equal(("warn", "environment"), (now.GetProperty("value").GetString(), now.GetProperty("source").GetString()));
        Assert.Equal(
            ["APIGATE_LOG_LEVEL sets log.level too and takes precedence over the stored value", StoredSettingsEditor.RestartNote],
            body.RootElement.GetProperty("data").GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal(["log.level=debug"], await StoredAsync());
    }

    [Fact]
    public async Task Patch_SetAndUnsetTogether_OneChange()
    {
        // Arrange
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("""{"set": {"ratelimit.burst": "30"}}""")).Status);

        // Act
        var (status, body) = await PatchAsync("""{"set": {"upstream.timeout": "20s"}, "unset": ["ratelimit.burst"]}""");

        // Assert: the forgotten setting is back at its default
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["upstream.timeout=20s"], await StoredAsync());
        var burst = body.RootElement.GetProperty("data").GetProperty("settings").EnumerateArray().Single(s => s.GetProperty("key").GetString() == "ratelimit.burst");
        Assert.Equal("default", burst.GetProperty("source").GetString());
    }

    [Theory]
    [InlineData("""{"set": {"upstream.timeout": "20s", "ratelimit.burst": "many"}}""", "/set", "ratelimit.burst (from the stored settings ('apigate config set')): ")]
    [InlineData("""{"set": {"database.dsn": "/tmp/other.db"}}""", "/set", "database.dsn says where the store is and how to open it, so it cannot be kept there")]
    [InlineData("""{"set": {"secret_key": "0123456789abcdef0123456789abcdef"}}""", "/set", "secret_key is a secret, which the store would keep in plain text")]
    [InlineData("""{"set": {"redis.url": "redis://:hunter2-pw@127.0.0.1:6379"}}""", "/set", "redis.url: the value holds a password, which the store would keep in plain text")]
    [InlineData("""{"set": {"log.levle": "debug"}}""", "/set", "'log.levle' is not a setting (did you mean log.level?")]
    [InlineData("""{"set": ["log.level"]}""", "/set", "'log.level' has no value: give each setting as key=value")]
    [InlineData("""{"set": {"log.level": "debug\u001b[2J"}}""", "/set", "log.level: ")]
    [InlineData("""{"set": {"log.level": "debug"}, "unset": ["log.level"]}""", "/unset", "log.level is given twice")]
    [InlineData("""{"unset": ["secret_key"]}""", "/unset", "secret_key is a secret")]
    [InlineData("""{}""", "/set", "name at least one setting to set or unset")]
    [InlineData("""{"set": ["log.level=debug", null]}""", "/set", "must be an array of strings")]
    [InlineData("""{"unset": [null]}""", "/unset", "must be an array of strings")]
    public async Task Patch_Refused_422NamingTheSettingAndTheListAndNothingStored(string json, string pointer, string detail)
    {
        // Act
        var (status, body) = await PatchAsync(json);

        // Assert
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var error = Assert.Single(body.RootElement.GetProperty("errors").EnumerateArray());
        Assert.StartsWith(detail, error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(pointer, error.GetProperty("source").GetProperty("pointer").GetString());
        Assert.DoesNotContain("hunter2-pw", body.RootElement.GetRawText(), StringComparison.Ordinal);
        Assert.Empty(await StoredAsync());
    }

    [Fact]
    public async Task Patch_AKeyOfHalfAMegabyte_RefusedNamingItsStartWithoutAGuess()
    {
        // Arrange
        var key = new string('k', 500_000);

        // Act
        var (status, body) = await PatchAsync($$$"""{"set": {"{{{key}}}": "x"}}""");

        // Assert: no guess of the closest setting (the edit distance to every setting's key would take seconds for a key
        // this long; the answer without "did you mean" is the one that compares nothing), and not the whole key back
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal(
            $"'{key[..100]}…' (500000 characters) is not a setting (config show lists them all)",
            body.RootElement.GetProperty("errors")[0].GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Get_RowsConfigSetRefuses_ListedRedacted()
    {
        // Arrange: written straight into the table (as by hand or by an older tool); not applied, and not to be shown
        await Gateway.Store.ChangeStoredSettingsAsync(
            [new("secret_key", "0123456789abcdef0123456789abcdef-stored-secret"), new("redis.url", "redis://:stored-pw@127.0.0.1:6379"), new("log.level", "debug")],
            DateTimeOffset.UtcNow, CancellationToken.None);

        // Act
        using var listed = await GetAsync("/admin/settings/stored");

        // Assert
        Assert.Equal(
            ["log.level=debug", "redis.url=redis://***@127.0.0.1:6379", "secret_key=(set)"],
            listed.RootElement.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("key").GetString() + "=" + s.GetProperty("value").GetString()));
    }

    [Fact]
    public async Task SettingsPage_AValueOfEightThousandCharacters_StoredAndThePageAfterItOpens()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/settings");
        var value = new string('a', 8000);

        // Act
        using var stored = await console.PostAsync("/ui/settings",
            [new("_handler", "store-setting"), new("__RequestVerificationToken", antiforgery), new("key", "jwt.audience"), new("value", value)]);
        using var after = await console.GetAsync(console.PathOf(stored)!);

        // Assert: the message that travels in the redirect names the value cut short; the table shows it whole
        Assert.Equal(HttpStatusCode.Found, stored.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        var html = WebUtility.HtmlDecode(await after.Content.ReadAsStringAsync());
        Assert.Contains($"Stored jwt.audience = {value[..200]}… (8000 characters). Running gateways apply stored settings when they restart.", html, StringComparison.Ordinal);
        Assert.Contains(value, html, StringComparison.Ordinal);
        Assert.Equal(["jwt.audience=" + value], await StoredAsync());
    }

    [Theory]
    [InlineData("stripe.secret_key", "sk_live_typed-secret", "stripe.secret_key is a secret, which the store would keep in plain text")]
    [InlineData("redis.url", "redis://:typed-secret@127.0.0.1:6379", "redis.url: the value holds a password, which the store would keep in plain text")]
    public async Task SettingsPage_ASecretTyped_RefusedAndNotSentBack(string key, string value, string message)
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/settings");

        // Act
        using var refused = await console.PostAsync("/ui/settings",
            [new("_handler", "store-setting"), new("__RequestVerificationToken", antiforgery), new("key", key), new("value", value)]);

        // Assert: the refusal is at the field, which is empty again
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var html = WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync());
        Assert.Contains(message, html, StringComparison.Ordinal);
        Assert.DoesNotContain("typed-secret", html, StringComparison.Ordinal);
        Assert.Empty(await StoredAsync());
    }

    [Fact]
    public async Task Patch_AnUnsetThatLeavesSettingsAStartRefuses_422PointingAtTheUnsetList()
    {
        // Arrange: a Redis CA file, which needs the rediss:// URL stored with it
        var ca = Path.Combine(Gateway.Directory, "redis-ca.pem");
        await File.WriteAllTextAsync(ca, TestCertificates.CreateLoopbackServer().ExportCertificatePem());
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("""{"set": {"redis.url": "rediss://127.0.0.1:6390", "redis.ca_file": "CA"}}""".Replace("CA", ca, StringComparison.Ordinal))).Status);

        // Act: another setting changed, and the URL forgotten
        var (status, body) = await PatchAsync("""{"set": {"log.level": "info"}, "unset": ["redis.url"]}""");

        // Assert
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var error = Assert.Single(body.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Contains("redis.ca_file (from the stored settings ('apigate config set')): is set but redis.url is not a rediss:// (TLS) URL", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("/unset", error.GetProperty("source").GetProperty("pointer").GetString());
        Assert.Equal([$"redis.ca_file={ca}", "redis.url=rediss://127.0.0.1:6390"], await StoredAsync());
    }

    [Fact]
    public async Task Patch_UnsetOfAKeyNotStored_404AndNothingChanged()
    {
        // Arrange
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("""{"set": {"ratelimit.burst": "30"}}""")).Status);

        // Act
        var (status, body) = await PatchAsync("""{"set": {"upstream.timeout": "20s"}, "unset": ["log.level"]}""");

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.StartsWith("log.level is not stored", body.RootElement.GetProperty("errors")[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(["ratelimit.burst=30"], await StoredAsync());
    }

    [Fact]
    public async Task Patch_AChange_InTheAuditLogWithTheTokenNameAndWhatChanged()
    {
        // Arrange
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("""{"set": {"upstream.timeout": "20s"}}""")).Status);

        // Act
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync($$"""{"set": {"ratelimit.burst": "30", "jwt.audience": "{{new string('a', 300)}}"}, "unset": ["upstream.timeout"]}""")).Status);

        // Assert: who, and what changed (a long value cut short)
        var change = (await Gateway.Store.ListAdminAuditAsync(10, CancellationToken.None)).First(a => a.Path == "/admin/settings/stored");
        Assert.Equal(("PATCH", TokenName, 200), (change.Method, change.TokenName, change.Status));
        Assert.Equal($"Stored ratelimit.burst = 30; stored jwt.audience = {new string('a', 200)}… (300 characters); forgot upstream.timeout.", change.Note);
    }

    [BrowserFact]
    public async Task SettingsPage_StoreAValueRefuseABadOneForgetIt()
    {
        // Arrange
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        Assert.Equal(200, await browser.GoAsync("/ui/settings"));
        await Assertions.Expect(page.Locator("#stored-none")).ToHaveTextAsync("No settings are stored.");

        // Act 1: a value a start would refuse
        await page.SelectOptionAsync("#f-key", "ratelimit.burst");
        await page.FillAsync("#f-value", "many");
        await page.ClickAsync("#store-setting");

        // Assert 1: the reason, the form as it was sent, nothing stored
        await Assertions.Expect(page.Locator("#page-error")).ToContainTextAsync("ratelimit.burst (from the stored settings ('apigate config set')): ");
        await Assertions.Expect(page.Locator("#f-value")).ToHaveValueAsync("many");
        Assert.Empty(await StoredAsync());

        // Act 2: a good one, and one the environment hides
        await page.FillAsync("#f-value", "40");
        await page.ClickAsync("#store-setting");
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Stored ratelimit.burst = 40. Running gateways apply stored settings when they restart.");
        await page.SelectOptionAsync("#f-key", "log.level");
        await page.FillAsync("#f-value", "debug");
        await page.ClickAsync("#store-setting");

        // Assert 2
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync(
            "Stored log.level = debug. APIGATE_LOG_LEVEL sets log.level too and takes precedence over the stored value. Running gateways apply stored settings when they restart.");
        Assert.Equal(["log.level=debug", "ratelimit.burst=40"], await StoredAsync());
        Assert.Equal(["log.level", "ratelimit.burst"], await page.Locator("#stored-table tbody tr td:first-child").AllTextContentsAsync());
        // the card alone: this test host's other rows are its options from code, which no source names
        await page.Locator("#stored-settings").ScreenshotAsync(new() { Path = Path.Combine(BrowserHost.ScreenshotDirectory(), "admin-ui-stored-settings.png") });

        // Act 3: forget one (the page asks first)
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.ClickAsync("tr[data-stored='ratelimit.burst'] button");

        // Assert 3
        await Assertions.Expect(page.Locator("#done")).ToHaveTextAsync("Forgot the stored ratelimit.burst; it is now 5 (default). Running gateways apply stored settings when they restart.");
        Assert.Equal(["log.level=debug"], await StoredAsync());
        var audit = await Gateway.Store.ListAdminAuditAsync(10, CancellationToken.None);
        Assert.Contains(audit, a => a.Path == "/ui/settings" && a.Note == "Stored ratelimit.burst = 40. Running gateways apply stored settings when they restart.");
    }

    [Fact]
    public async Task SettingsPage_ForgetASettingForgottenMeanwhile_404PageNamingIt()
    {
        // Arrange
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("""{"set": {"ratelimit.burst": "30"}}""")).Status);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/settings");
        var label = await MissingRowTests.LabelFromAsync(console, "/ui/settings", "u-ratelimit.burst");
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("""{"unset": ["ratelimit.burst"]}""")).Status);

        // Act
        using var response = await console.PostAsync("/ui/settings",
            [new("_handler", "u-ratelimit.burst"), new("__RequestVerificationToken", antiforgery), new("key", "ratelimit.burst"), new("label", label)]);

        // Assert
        Assert.Equal((HttpStatusCode.NotFound, MissingRowTests.Expected("stored setting", "ratelimit.burst", "/ui/settings")), await MissingRowTests.AnswerAsync(response));
        Assert.Empty(await StoredAsync());
    }

    [Fact]
    public async Task SettingsPage_ForgetALongKeyMadeUpInThePost_404PageSaysItIsNotFoundCutTo64CharactersAndEscaped()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/settings");

        // Act
        using var response = await console.PostAsync("/ui/settings",
            [new("_handler", "u-" + MissingRowTests.LongMadeUpId), new("__RequestVerificationToken", antiforgery), new("key", MissingRowTests.LongMadeUpId)]);

        // Assert
        Assert.Equal(
            (HttpStatusCode.NotFound, MissingRowTests.ExpectedNotFound("stored setting", MissingRowTests.LongMadeUpIdShown, "/ui/settings")),
            await MissingRowTests.AnswerAsync(response));
    }

    private async Task<string[]> StoredAsync() =>
        [.. (await Gateway.Store.ListStoredSettingsAsync(CancellationToken.None)).Select(s => s.Key + "=" + s.Value).Order(StringComparer.Ordinal)];

    private async Task<(HttpStatusCode Status, JsonDocument Body)> PatchAsync(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, ConsoleUrl + "/admin/settings/stored") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await Gateway.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()));
    }

    private async Task<JsonDocument> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, ConsoleUrl + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await Gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }
}
