using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The portal and SMTP settings as the CLI shows and checks them, and <c>plans update --visible</c>.</summary>
public sealed class PortalSettingsTests : CliTestBase
{
    [Fact]
    public async Task ConfigShow_PortalSettings_ShownWithSmtpUrlMasked()
    {
        // Arrange
        Environment["APIGATE_PORTAL_ENABLED"] = "true";
        Environment["APIGATE_PORTAL_APP_NAME"] = "Acme API";
        Environment["APIGATE_SMTP_URL"] = "smtp://mailer:mail-pass@127.0.0.1:2525";
        Environment["APIGATE_SMTP_FROM"] = "no-reply@acme.example";

        // Act
        var json = await RunAsync("config", "show", "--json");
        var table = await RunAsync("config", "show");

        // Assert
        Assert.Equal(0, json.ExitCode);
        var shown = JsonDocument.Parse(json.Output).RootElement;
        Assert.Equal("true", Value(shown, "portal.enabled"));
        Assert.Equal("Acme API", Value(shown, "portal.app_name"));
        Assert.Equal("true", Value(shown, "portal.require_verification"));
        Assert.Equal("free", Value(shown, "portal.plan_change"));
        Assert.Equal("(set)", Value(shown, "smtp.url"));
        Assert.Equal("no-reply@acme.example", Value(shown, "smtp.from"));
        Assert.DoesNotContain("mail-pass", json.Output + table.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("APIGATE_PORTAL_PLAN_CHANGE", "paid", "portal.plan_change (from APIGATE_PORTAL_PLAN_CHANGE): 'paid' is not free or none")]
    [InlineData("APIGATE_PORTAL_APP_NAME", "Acme\u001b[31m API", "portal.app_name (from APIGATE_PORTAL_APP_NAME): must not contain control characters (U+001B at position 5)")]
    [InlineData("APIGATE_PORTAL_APP_NAME", "Acme\u202eIPA", "portal.app_name (from APIGATE_PORTAL_APP_NAME): must not contain control characters (U+202E at position 5)")]
    [InlineData("APIGATE_PORTAL_BASE_URL", "developers.acme.example", "portal.base_url (from APIGATE_PORTAL_BASE_URL): 'developers.acme.example' is not an http:// or https:// address")]
    [InlineData("APIGATE_SMTP_URL", "ftp://mailer:mail-pass@host", "smtp.url (from APIGATE_SMTP_URL): must look like smtp://user:pass@host:port or smtps://user:pass@host:port; smtp.from (from the default): is required when smtp.url is set (the sender of portal emails, e.g. no-reply@example.com)")]
    [InlineData("APIGATE_SMTP_URL", "smtp://mailer:mail-pass@127.0.0.1:0", "smtp.url (from APIGATE_SMTP_URL): port 0 is not a port: give one from 1 to 65535, or none for the scheme's default (587 for smtp://, 465 for smtps://); smtp.from (from the default): is required when smtp.url is set (the sender of portal emails, e.g. no-reply@example.com)")]
    [InlineData("APIGATE_SMTP_URL", "smtp://mailer:mail-pass@127.0.0.1:2525#x", "smtp.url (from APIGATE_SMTP_URL): must not have a fragment (#...); a # in the password is written %23; smtp.from (from the default): is required when smtp.url is set (the sender of portal emails, e.g. no-reply@example.com)")]
    [InlineData("APIGATE_SMTP_TIMEOUT", "50ms", "smtp.timeout (from APIGATE_SMTP_TIMEOUT): must be between 100ms and 5m")]
    public async Task Serve_InvalidPortalSetting_FailsAtStartNamingSetting(string variable, string value, string expected)
    {
        // Arrange
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment[variable] = value;

        // Act
        var result = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: " + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("mail-pass", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://developers.acme.example/api", "'https://developers.acme.example/api' must not have a path: the portal is always served at /portal of the gateway, so give only the scheme, host and port")]
    [InlineData("https://developers.acme.example/?from=mail", "'https://developers.acme.example/?from=mail' must not have a query")]
    [InlineData("https://developers.acme.example#top", "'https://developers.acme.example#top' must not have a fragment")]
    [InlineData("https://admin:mail-pass@developers.acme.example", "'https://***@developers.acme.example' must not carry a user or password (user:password@)")]
    public async Task ConfigValidate_PortalBaseUrlWithMoreThanSchemeHostAndPort_RefusedNamingTheSetting(string value, string expected)
    {
        // Arrange: links in emails are this address + /portal/...; anything past the origin would break them or leak
        Environment["APIGATE_PORTAL_BASE_URL"] = value;

        // Act
        var result = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("portal.base_url (from APIGATE_PORTAL_BASE_URL): " + expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("mail-pass", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://developers.acme.example")]
    [InlineData("https://developers.acme.example/")]
    [InlineData("http://127.0.0.1:8080")]
    public async Task ConfigValidate_PortalBaseUrlOfSchemeHostAndPort_Accepted(string value)
    {
        // Arrange
        Environment["APIGATE_PORTAL_BASE_URL"] = value;

        // Act
        var result = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(0, result.ExitCode);
    }

    [Fact]
    public async Task PlansUpdate_Visible_ShownInGetAndList()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "pro", "--name", "Pro", "--price", "4900")).ExitCode);

        // Act
        var shown = await RunAsync("plans", "update", "pro", "--visible", "true");
        var listed = await RunAsync("plans", "list", "--json");
        var hidden = await RunAsync("plans", "update", "pro", "--visible", "false", "--json");

        // Assert
        Assert.Equal(0, shown.ExitCode);
        Assert.Contains("visible", shown.Output, StringComparison.Ordinal);
        var pro = JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().Single(p => p.GetProperty("id").GetString() == "pro");
        Assert.True(pro.GetProperty("visible").GetBoolean());
        Assert.False(JsonDocument.Parse(hidden.Output).RootElement.GetProperty("visible").GetBoolean());
    }

    private static string Value(JsonElement settings, string key) => settings.GetProperty(key).GetProperty("value").GetString()!;
}
