using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's settings as the CLI checks them.</summary>
public sealed class ConsoleSettingsTests : CliTestBase
{
    private const string Refused = "admin.ui_base_url (from APIGATE_ADMIN_UI_BASE_URL): ";

    /// <summary>Values of <c>admin.ui_base_url</c> that are more (or other) than a scheme, host and port, with the reason given.</summary>
    public static TheoryData<string, string> NotAnOrigin => new()
    {
        { "https://gateway-admin.example/ui", "'https://gateway-admin.example/ui' must not have a path: the console is always served at /ui of the gateway, so give only the scheme, host and port" },
        { "https://gateway-admin.example/?from=bookmark", "'https://gateway-admin.example/?from=bookmark' must not have a query" },
        { "https://gateway-admin.example#top", "'https://gateway-admin.example#top' must not have a fragment" },
        { "https://ops:UiPw4417@gateway-admin.example", "'https://***@gateway-admin.example' must not carry a user or password (user:password@)" },
        { "ftp://ops:UiPw4417@gateway-admin.example", "'ftp://***@gateway-admin.example' is not an http:// or https:// address" },
        { "gateway-admin.example", "'gateway-admin.example' is not an http:// or https:// address" },
    };

    [Theory]
    [MemberData(nameof(NotAnOrigin))]
    public async Task Serve_AdminUiBaseUrlNotJustSchemeHostAndPort_FailsAtStartNamingTheSettingWithTheUrlMasked(string value, string expected)
    {
        // Arrange
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_ADMIN_UI_BASE_URL"] = value;

        // Act
        var result = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: " + Refused + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("UiPw4417", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(NotAnOrigin))]
    public async Task ConfigValidate_AdminUiBaseUrlNotJustSchemeHostAndPort_Exit2NamingTheSettingWithTheUrlMasked(string value, string expected)
    {
        // Arrange
        Environment["APIGATE_ADMIN_UI_BASE_URL"] = value;

        // Act
        var result = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: " + Refused + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("UiPw4417", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://gateway-admin.example")]
    [InlineData("https://gateway-admin.example/")]
    [InlineData("http://127.0.0.1:9091")]
    public async Task ConfigValidate_AdminUiBaseUrlOfSchemeHostAndPort_Accepted(string value)
    {
        // Arrange
        Environment["APIGATE_ADMIN_UI_BASE_URL"] = value;

        // Act
        var result = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(0, result.ExitCode);
    }
}
