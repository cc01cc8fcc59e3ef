using System.Net;
using ApiGate.Core.Routing;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The route form shows and saves the credential a route takes and its CORS rules, as the CLI and the admin API set them.</summary>
public sealed class RouteCredentialFormTests : AdminUiTestBase
{
    [Fact]
    public async Task Create_JwtRouteWithCors_StoredAsTheApiWouldStoreIt_AndShownOnItsEditPage()
    {
        // Arrange
        var (console, antiforgery, upstreamId) = await OpenNewRouteFormAsync();
        using var _ = console;

        // Act
        using (var created = await console.PostAsync("/ui/routes/new", Form(antiforgery, upstreamId,
            ("auth_scheme", "jwt"), ("cors_origins", "https://app.example.com, https://*.example.org"), ("cors_methods", "GET, POST"),
            ("cors_headers", "Content-Type"), ("cors_max_age", "600"), ("cors_credentials", "true"))))
        {
            Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        }

        // Assert
        var route = (await Gateway.Store.FindRouteAsync("web", CancellationToken.None))!;
        Assert.Equal(AuthScheme.Jwt, route.AuthScheme);
        Assert.Equal(["https://app.example.com", "https://*.example.org"], route.CorsOrigins);
        Assert.Equal(["GET", "POST"], route.CorsMethods);
        Assert.Equal((600, true), (route.CorsMaxAge, route.CorsCredentials));
        using var edit = await console.GetAsync($"/ui/routes/{route.Id}/edit");
        var html = await edit.Content.ReadAsStringAsync();
        Assert.Contains("value=\"https://app.example.com, https://*.example.org\"", html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"jwt\" selected", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_CredentialsWithAnyOrigin_RefusedAtTheFieldWithTheApisMessage_NothingStored()
    {
        // Arrange
        var (console, antiforgery, upstreamId) = await OpenNewRouteFormAsync();
        using var _ = console;
        var expected = (await Gateway.Routes.CreateAsync(
            new Core.Management.RouteInput { Name = "web", Path = "/web/*", Upstream = "backend", CorsOrigins = "*", CorsCredentials = true }.ToChanges().Value!,
            CancellationToken.None)).Error!;

        // Act
        using var refused = await console.PostAsync("/ui/routes/new", Form(antiforgery, upstreamId, ("auth_scheme", "key"), ("cors_origins", "*"), ("cors_credentials", "true")));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var html = await refused.Content.ReadAsStringAsync();
        Assert.Equal("cors_credentials", expected.Field);
        Assert.Contains("id=\"error-cors_credentials\"", html, StringComparison.Ordinal);
        Assert.Contains(expected.Message, WebUtility.HtmlDecode(html), StringComparison.Ordinal);
        Assert.Null(await Gateway.Store.FindRouteAsync("web", CancellationToken.None));
    }

    /// <summary>An upstream to route to, and the console signed in with the new-route form's anti-forgery token.</summary>
    private async Task<(ConsoleHttp Console, string Antiforgery, string UpstreamId)> OpenNewRouteFormAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var upstream = (await Gateway.Store.FindUpstreamAsync("backend", CancellationToken.None))!;
        var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        return (console, await console.TokenFromAsync("/ui/routes/new"), upstream.Id);
    }

    private static List<KeyValuePair<string, string>> Form(string antiforgery, string upstreamId, params (string Name, string Value)[] extra) =>
    [
        new("_handler", "route"), new("__RequestVerificationToken", antiforgery), new("name", "web"), new("path", "/web/*"), new("match_type", "prefix"),
        new("upstream", upstreamId), new("protocol", "http"), new("metering_mode", "request"), new("priority", "0"), new("auth_required", "true"),
        new("enabled", "true"), .. extra.Select(e => new KeyValuePair<string, string>(e.Name, e.Value)),
    ];
}
