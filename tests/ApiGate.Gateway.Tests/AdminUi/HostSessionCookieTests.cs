using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// The console's session cookie when the browser uses TLS (here: behind a trusted proxy that says
/// <c>X-Forwarded-Proto: https</c>): <c>__Host-apigate_ui_session</c>, which no sibling subdomain can set and no page on
/// the host can shadow; the plain name, what an attacker could plant, is not honoured, nor a cookie sent twice.
/// </summary>
public sealed class HostSessionCookieTests : IAsyncLifetime
{
    private const string HostName = "__Host-apigate_ui_session";
    private readonly HttpClient _client = TestGateway.CreateClient();
    private TestGateway _gateway = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync(o => o.TrustedProxies = "127.0.0.0/8");
        _token = (await new AdminTokenService(_gateway.Store, TimeProvider.System).CreateAsync("host-cookie", CancellationToken.None)).Value!.Token;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task SignIn_OverTls_HostPrefixedCookieSecureAtRootPath()
    {
        // Act
        var (signedIn, _, _) = await SignInAsync();

        // Assert: one session cookie, under the prefixed name only, with the attributes the prefix demands
        var cookie = Assert.Single(CookiesOf(signedIn), c => c.Contains("apigate_ui_session", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith(HostName + "=", cookie, StringComparison.Ordinal);
        var attributes = cookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).Order().ToList();
        Assert.Equal(["httponly", "path=/", "samesite=strict", "secure"], attributes);
    }

    [Theory]
    [InlineData("__Host-apigate_ui_session={0}", null)]
    [InlineData("apigate_ui_session={0}", "/ui/login?return=%2Fui%2Froutes&expired=1")] // the plain name: from before the upgrade, or planted
    [InlineData("__Host-apigate_ui_session={0}; __Host-apigate_ui_session={0}", "/ui/login?return=%2Fui%2Froutes&expired=1")] // twice: neither is taken
    [InlineData("__Host-apigate_ui_session=planted; __Host-apigate_ui_session={0}", "/ui/login?return=%2Fui%2Froutes&expired=1")]
    public async Task Page_OverTls_SignedInOnlyByThePrefixedCookieSentOnce(string cookieHeader, string? toLogin)
    {
        // Arrange
        var (_, session, _) = await SignInAsync();

        // Act
        using var response = await SendAsync(HttpMethod.Get, "/ui/routes", string.Format(System.Globalization.CultureInfo.InvariantCulture, cookieHeader, session), null);

        // Assert
        Assert.Equal(toLogin is null ? HttpStatusCode.OK : HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(toLogin, response.Headers.Location is { } location ? new Uri(new Uri(_gateway.Url), location).PathAndQuery : null);
    }

    [Fact]
    public async Task Page_OverTlsWithPlainCookieOnly_SessionEndedAndPlainCookieDeletedAtItsPath()
    {
        // Arrange: a session cookie under the plain name, as a browser kept it from before the gateway used the prefix
        var (_, session, _) = await SignInAsync();

        // Act
        using var response = await SendAsync(HttpMethod.Get, "/ui/routes", "apigate_ui_session=" + session, null);

        // Assert: not signed in by it, told the session ended, and the browser told to drop it where it was set
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui%2Froutes&expired=1", response.Headers.Location!.OriginalString);
        var deleted = Assert.Single(CookiesOf(response), c => c.StartsWith("apigate_ui_session=", StringComparison.Ordinal));
        var attributes = deleted.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("expires=thu, 01 jan 1970 00:00:00 gmt", attributes);
        Assert.Contains("path=/ui", attributes);
    }

    [Fact]
    public async Task SignIn_OverTlsWithPlainCookieLeft_SetsPrefixedAndDeletesPlain()
    {
        // Arrange
        using var loginPage = await SendAsync(HttpMethod.Get, "/ui/login", null, null);
        var antiforgery = CookiesOf(loginPage).Single(c => c.StartsWith("apigate_af=", StringComparison.Ordinal)).Split(';')[0];
        var field = FormPosts.TokenIn(await loginPage.Content.ReadAsStringAsync(), "/ui/login");

        // Act
        using var response = await SendAsync(HttpMethod.Post, "/ui/login", antiforgery + "; apigate_ui_session=old",
            new FormUrlEncodedContent([new("_handler", "login"), new("__RequestVerificationToken", field), new("Token", _token), new("Return", "/ui")]));

        // Assert
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Single(CookiesOf(response), c => c.StartsWith(HostName + "=", StringComparison.Ordinal) && !c.Contains("expires=", StringComparison.OrdinalIgnoreCase));
        var deleted = Assert.Single(CookiesOf(response), c => c.StartsWith("apigate_ui_session=", StringComparison.Ordinal));
        Assert.StartsWith("apigate_ui_session=;", deleted, StringComparison.Ordinal);
        Assert.Contains("path=/ui", deleted.Split(';', StringSplitOptions.TrimEntries).Select(a => a.ToLowerInvariant()));
    }

    [Fact]
    public async Task LogOut_OverTls_DeletesThePrefixedCookieAtRootPath()
    {
        // Arrange
        var (_, session, antiforgery) = await SignInAsync();
        var cookies = antiforgery + "; " + HostName + "=" + session;
        using var page = await SendAsync(HttpMethod.Get, "/ui/logout", cookies, null);
        var field = FormPosts.TokenIn(await page.Content.ReadAsStringAsync(), "/ui/logout");

        // Act
        using var loggedOut = await SendAsync(HttpMethod.Post, "/ui/logout", cookies,
            new FormUrlEncodedContent([new("_handler", "logout"), new("__RequestVerificationToken", field)]));

        // Assert
        Assert.Equal(HttpStatusCode.Found, loggedOut.StatusCode);
        var deleted = Assert.Single(CookiesOf(loggedOut), c => c.Contains("apigate_ui_session", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith(HostName + "=;", deleted, StringComparison.Ordinal);
        var attributes = deleted.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("expires=thu, 01 jan 1970 00:00:00 gmt", attributes);
        Assert.Contains("path=/", attributes);
        Assert.Contains("secure", attributes);
        using var after = await SendAsync(HttpMethod.Get, "/ui/routes", HostName + "=" + session, null);
        Assert.Equal(HttpStatusCode.Found, after.StatusCode);
    }

    /// <summary>
    /// Signs in through the login form: the response, the session cookie's value (under whichever name it was set) and
    /// the antiforgery cookie as the browser sends it back.
    /// </summary>
    private async Task<(HttpResponseMessage Response, string Session, string Antiforgery)> SignInAsync()
    {
        using var loginPage = await SendAsync(HttpMethod.Get, "/ui/login", null, null);
        var antiforgery = CookiesOf(loginPage).Single(c => c.StartsWith("apigate_af=", StringComparison.Ordinal)).Split(';')[0];
        var field = FormPosts.TokenIn(await loginPage.Content.ReadAsStringAsync(), "/ui/login");
        var response = await SendAsync(HttpMethod.Post, "/ui/login", antiforgery,
            new FormUrlEncodedContent([new("_handler", "login"), new("__RequestVerificationToken", field), new("Token", _token), new("Return", "/ui")]));
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var cookie = CookiesOf(response).First(c => c.Split('=', 2)[0].EndsWith("apigate_ui_session", StringComparison.Ordinal));
        return (response, cookie.Split(';', 2)[0].Split('=', 2)[1], antiforgery);
    }

    /// <summary>A request as a trusted proxy that ended the browser's TLS passes it on.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? cookie, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, _gateway.Url + path) { Content = content };
        request.Headers.Add("X-Forwarded-Proto", "https");
        if (cookie is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }

        return await _client.SendAsync(request);
    }

    private static IEnumerable<string> CookiesOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [];
}
