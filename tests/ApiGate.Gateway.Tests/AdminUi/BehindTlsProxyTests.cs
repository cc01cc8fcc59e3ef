using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// The console behind a load balancer that ends TLS: when the balancer is a trusted proxy and says
/// <c>X-Forwarded-Proto: https</c>, the session cookie is <c>Secure</c> (and <c>__Host-</c>prefixed) and redirects stay on https; the same header
/// from anybody else changes nothing.
/// </summary>
public sealed class BehindTlsProxyTests
{
    [Theory]
    [InlineData("127.0.0.0/8", true)]
    [InlineData("", false)]
    public async Task SignIn_ForwardedProtoHttps_SecureCookieAndHttpsRedirectOnlyFromATrustedProxy(string trustedProxies, bool expectTls)
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.TrustedProxies = trustedProxies);
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("behind-lb", CancellationToken.None)).Value!.Token;
        using var client = TestGateway.CreateClient();
        using var loginPage = await SendAsync(client, HttpMethod.Get, gateway.Url + "/ui/login", null, null);
        var antiforgeryCookie = CookiesOf(loginPage).Single(c => c.StartsWith("apigate_af=", StringComparison.Ordinal)).Split(';')[0];
        var field = FormPosts.TokenIn(await loginPage.Content.ReadAsStringAsync(), "/ui/login");

        // Act
        using var signedIn = await SendAsync(client, HttpMethod.Post, gateway.Url + "/ui/login", antiforgeryCookie,
            new FormUrlEncodedContent([new("_handler", "login"), new("__RequestVerificationToken", field), new("Token", token), new("Return", "/ui")]));

        // Assert
        Assert.Equal(HttpStatusCode.Found, signedIn.StatusCode);
        var session = CookiesOf(signedIn).Single(c => c.StartsWith(expectTls ? "__Host-apigate_ui_session=" : "apigate_ui_session=", StringComparison.Ordinal));
        var attributes = session.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Equal(expectTls, attributes.Contains("secure"));
        Assert.Equal(expectTls ? ["max-age=31536000"] : [], loginPage.Headers.TryGetValues("Strict-Transport-Security", out var hsts) ? hsts : []); // HSTS only over TLS
        Assert.Equal(expectTls, CookiesOf(loginPage).Single(c => c.StartsWith("apigate_af=", StringComparison.Ordinal)).Contains("secure", StringComparison.OrdinalIgnoreCase));
        var location = signedIn.Headers.Location!; // absolute: the console redirects with the request's scheme and host
        Assert.True(location.IsAbsoluteUri, location.ToString());
        Assert.Equal((expectTls ? "https" : "http", "/ui"), (location.Scheme, location.AbsolutePath));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url, string? cookie, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        request.Headers.Add("X-Forwarded-Proto", "https");
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return await client.SendAsync(request);
    }

    private static IEnumerable<string> CookiesOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [];
}
