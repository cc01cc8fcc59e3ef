using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// The console behind a proxy that rewrites the <c>Host</c> header, reached by a browser that sends no
/// <c>Sec-Fetch-Site</c>: its form posts name the public address in <c>Origin</c>, which only
/// <c>admin.ui_base_url</c> tells the gateway about.
/// </summary>
public sealed class ConsolePublicAddressTests
{
    private const string PublicAddress = "https://gateway-admin.example";

    [Fact]
    public async Task CreateRoute_OriginIsTheConfiguredConsoleAddress_AcceptedAndTheRouteStored()
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.AdminUiBaseUrl = PublicAddress);

        // Act: the Host the proxy sent is the gateway's own address, the Origin the browser's
        using var posted = await PostNewRouteAsync(gateway, ("Origin", PublicAddress));

        // Assert
        Assert.Equal(HttpStatusCode.Found, posted.StatusCode);
        Assert.Equal("proxied", Assert.Single(await gateway.Routes.ListAsync(CancellationToken.None)).Name);
    }

    [Theory]
    [InlineData(true)]  // a browser without Sec-Fetch-Site: accepted by the configured address
    [InlineData(false)] // a browser saying same-origin: accepted by its word
    public async Task CreateRoute_PostedFromThePublicAddress_RedirectedToTheRoutesAtThatAddress(bool configured)
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.AdminUiBaseUrl = configured ? PublicAddress : "");
        (string, string)[] browser = configured ? [("Origin", PublicAddress)] : [("Sec-Fetch-Site", "same-origin"), ("Origin", PublicAddress)];

        // Act: the Host the proxy sent is the gateway's own address, the Origin the browser's
        using var posted = await PostNewRouteAsync(gateway, browser);

        // Assert: the browser, on the form's page at the public address, follows the redirect there
        Assert.Equal(HttpStatusCode.Found, posted.StatusCode);
        var next = new Uri(new Uri(PublicAddress + "/ui/routes/new"), posted.Headers.Location!);
        Assert.Equal(PublicAddress + "/ui/routes", next.GetLeftPart(UriPartial.Path));
    }

    [Fact]
    public async Task CreateRoute_ConsoleAddressNotConfigured_RefusedAndNothingWritten()
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync();

        // Act
        using var posted = await PostNewRouteAsync(gateway, ("Origin", PublicAddress));

        // Assert
        await AssertRefusedAsync(gateway, posted);
    }

    [Theory]
    [InlineData("https://evil.example")]
    [InlineData("http://gateway-admin.example")]       // the configured host over another scheme
    [InlineData("https://gateway-admin.example:8443")] // the configured host on another port
    [InlineData("https://sub.gateway-admin.example")]
    public async Task CreateRoute_OriginOtherThanTheConfiguredConsoleAddress_RefusedAndNothingWritten(string origin)
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.AdminUiBaseUrl = PublicAddress);

        // Act
        using var posted = await PostNewRouteAsync(gateway, ("Origin", origin));

        // Assert
        await AssertRefusedAsync(gateway, posted);
    }

    [Theory]
    [InlineData("cross-site")]
    [InlineData("same-site")]
    public async Task CreateRoute_BrowserSaysAnotherSiteWithTheConfiguredOrigin_RefusedAndNothingWritten(string fetchSite)
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.AdminUiBaseUrl = PublicAddress);

        // Act
        using var posted = await PostNewRouteAsync(gateway, ("Sec-Fetch-Site", fetchSite), ("Origin", PublicAddress));

        // Assert: Sec-Fetch-Site, when sent, decides alone; Origin is read only without it
        await AssertRefusedAsync(gateway, posted);
    }

    /// <summary>Signs in and posts the new-route form with its valid antiforgery token and these headers.</summary>
    private static async Task<HttpResponseMessage> PostNewRouteAsync(TestGateway gateway, params (string Name, string Value)[] headers)
    {
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("behind-proxy", CancellationToken.None)).Value!.Token;
        using var console = new ConsoleHttp(gateway.Url);
        await console.SignInAsync(token);
        List<KeyValuePair<string, string>> fields =
            [new("_handler", "route"), new("name", "proxied"), new("path", "/proxied/*"), new("enabled", "true"), new("__RequestVerificationToken", await console.TokenFromAsync("/ui/routes/new"))];
        return await console.PostAsync("/ui/routes/new", fields, headers);
    }

    private static async Task AssertRefusedAsync(TestGateway gateway, HttpResponseMessage posted)
    {
        Assert.Equal(HttpStatusCode.BadRequest, posted.StatusCode);
        Assert.Contains("id=\"form-refused\"", await posted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await gateway.Routes.ListAsync(CancellationToken.None));
    }
}
