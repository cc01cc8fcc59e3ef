using ApiGate.Web.Shared;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>After a login the browser goes back only to a page of the same app, named plainly.</summary>
public sealed class ReturnPathsTests
{
    [Theory]
    [InlineData("/ui", "/ui")]
    [InlineData("/ui/keys", "/ui/keys")]
    [InlineData("/ui/keys?user=a%40b.io&page=2", "/ui/keys?user=a%40b.io&page=2")]
    [InlineData("/ui?tab=1", "/ui?tab=1")]
    [InlineData("/ui/../../admin/keys", "/ui")]
    [InlineData("/ui/./keys", "/ui")]
    [InlineData("/ui/%2e%2e/portal", "/ui")]
    [InlineData("/ui/..", "/ui")]
    [InlineData("/ui//evil.example", "/ui")]
    [InlineData("//evil.example/ui", "/ui")]
    [InlineData("/ui\\evil", "/ui")]
    [InlineData("https://evil.example/ui", "/ui")]
    [InlineData("/uix", "/ui")]
    [InlineData("/ui/keys\r\nSet-Cookie: a=1", "/ui")]
    [InlineData("/ui/\t/evil.example", "/ui")]
    [InlineData("/ui/keys?q=\u0000", "/ui")]
    [InlineData("/ui/keys\u2028", "/ui")]
    [InlineData("/ui/keys?user=José", "/ui/keys?user=José")]
    [InlineData("/ui/login?return=/ui", "/ui")]
    [InlineData("", "/ui")]
    [InlineData(null, "/ui")]
    public void Safe_OnlyAPlainPathOfTheApp(string? given, string expected)
    {
        Assert.Equal(expected, ReturnPaths.Safe(given, "/ui", "/ui/login"));
    }

    [Theory]
    [InlineData("/portal/keys", "/portal/keys")]
    [InlineData("/portal/../../admin/keys", "/portal")]
    [InlineData("/portal/login", "/portal")]
    public void Safe_PortalToo(string given, string expected)
    {
        Assert.Equal(expected, ReturnPaths.Safe(given, "/portal", "/portal/login"));
    }
}
