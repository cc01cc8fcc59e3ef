using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>Reading a session cookie: only its exact name, and only when the request carries it once.</summary>
public sealed class SessionCookieTests
{
    private static readonly SessionCookie OverTls = SessionCookie.For(true, "apigate_ui_session", "/ui", SameSiteMode.Strict);

    [Theory]
    [InlineData(new[] { "__Host-apigate_ui_session=abc" }, "abc")]
    [InlineData(new[] { "a=1;  __Host-apigate_ui_session = abc ; b=2" }, "abc")]
    [InlineData(new[] { "apigate_ui_session=abc" }, null)]                                      // the plain name over TLS
    [InlineData(new[] { "__host-apigate_ui_session=abc" }, null)]                               // another case is another cookie
    [InlineData(new[] { "__HOST-APIGATE_UI_SESSION=abc" }, null)]
    [InlineData(new[] { "__Host-apigate_ui_session=abc; __Host-apigate_ui_session=abc" }, null)] // twice, even with one value
    [InlineData(new[] { "__Host-apigate_ui_session=abc", "__Host-apigate_ui_session=xyz" }, null)] // twice across header lines
    [InlineData(new[] { "x__Host-apigate_ui_session=abc" }, null)]
    public void Read_CookieHeader_ValueOnlyOfTheExactNameSentOnce(string[] cookieHeaders, string? expected)
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = cookieHeaders;

        // Act
        var value = OverTls.Read(context.Request);

        // Assert
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData(true, "__Host-apigate_ui_session", "/")]
    [InlineData(false, "apigate_ui_session", "/ui")]
    public void Set_BrowserTlsOrNot_PrefixedAtRootOnlyUnderTls(bool secure, string name, string path)
    {
        // Arrange
        var context = new DefaultHttpContext();

        // Act
        SessionCookie.For(secure, "apigate_ui_session", "/ui", SameSiteMode.Strict).Set(context, "abc");

        // Assert
        Assert.Equal(
            $"{name}=abc; path={path}; {(secure ? "secure; " : "")}samesite=strict; httponly",
            context.Response.Headers.SetCookie.ToString());
    }

    [Theory]
    [InlineData(true, "apigate_ui_session=old", "__Host-apigate_ui_session=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/; secure; samesite=strict; httponly,apigate_ui_session=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/ui; secure; samesite=strict; httponly")]
    [InlineData(true, "", "__Host-apigate_ui_session=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/; secure; samesite=strict; httponly")]
    [InlineData(false, "apigate_ui_session=old", "apigate_ui_session=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/ui; samesite=strict; httponly")]
    public void Delete_PlainCookieSentUnderTls_BothDeletedEachAtItsPath(bool secure, string cookieHeader, string expected)
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = cookieHeader;

        // Act
        SessionCookie.For(secure, "apigate_ui_session", "/ui", SameSiteMode.Strict).Delete(context);

        // Assert
        Assert.Equal(expected, context.Response.Headers.SetCookie.ToString());
    }

    [Theory]
    [InlineData(true, "apigate_ui_session=old", true)]   // a session from before the upgrade has ended
    [InlineData(true, "other=1", false)]
    [InlineData(false, "__Host-apigate_ui_session=x", false)] // over plain HTTP only the plain name is the session's
    public void Sent_CookieHeader_CountsThePlainNameUnderTls(bool secure, string cookieHeader, bool expected)
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = cookieHeader;

        // Act
        var sent = SessionCookie.For(secure, "apigate_ui_session", "/ui", SameSiteMode.Strict).Sent(context.Request);

        // Assert
        Assert.Equal(expected, sent);
    }
}
