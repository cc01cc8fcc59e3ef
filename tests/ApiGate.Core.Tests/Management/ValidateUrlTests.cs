using ApiGate.Core.Management;

namespace ApiGate.Core.Tests.Management;

/// <summary>UpstreamService.ValidateUrl: what can be an upstream base URL.</summary>
public sealed class ValidateUrlTests
{
    [Theory]
    [InlineData("http://localhost:8080")]
    [InlineData("https://api.example.com")]
    [InlineData("http://b:8080/v2")]
    [InlineData("https://api.example.com/base/path/")]
    [InlineData("http://10.0.0.1")]
    [InlineData("http://[::1]:8080")]
    [InlineData("HTTP://EXAMPLE.COM")]
    public void ValidateUrl_AbsoluteHttpUrl_ReturnsNull(string url)
    {
        // Act
        var problem = UpstreamService.ValidateUrl(url);

        // Assert
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("htp:/x")]
    [InlineData("htp://x")]
    [InlineData("ftp://example.com")]
    [InlineData("file:///etc/passwd")]
    [InlineData("/relative/path")]
    [InlineData("relative/path")]
    [InlineData("example.com")]
    [InlineData("localhost:8080")]
    [InlineData("http://")]
    [InlineData("http:///path")]
    [InlineData("")]
    [InlineData("http://example.com/?q=1")]
    [InlineData("http://example.com/v2?x")]
    [InlineData("http://example.com/#frag")]
    [InlineData("http://user:secret@example.com")]
    [InlineData("http://127.0.0.1:0")]
    [InlineData("https://api.example.com:0/v2")]
    public void ValidateUrl_NotAUsableBaseUrl_ReturnsProblem(string url)
    {
        // Act
        var problem = UpstreamService.ValidateUrl(url);

        // Assert
        Assert.False(string.IsNullOrEmpty(problem));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000/v2/../x", "..")]
    [InlineData("http://127.0.0.1:9000/v2/./x", ".")]
    [InlineData("http://127.0.0.1:9000/v2/%2e%2e/x", "%2e%2e")]
    [InlineData("http://127.0.0.1:9000/v2/%2E./x", "%2E.")]
    [InlineData("http://127.0.0.1:9000/v2/.%2e", ".%2e")]
    [InlineData("http://127.0.0.1:9000/v2/%2e", "%2e")]
    [InlineData("http://127.0.0.1:9000/..", "..")]
    [InlineData("http://127.0.0.1:9000/v2\\..\\x", "..")]
    public void ValidateUrl_PathWithADotSegment_RefusedNamingTheSegment(string url, string segment)
    {
        // Act
        var problem = UpstreamService.ValidateUrl(url);

        // Assert
        Assert.Equal($"its path holds the dot segment '{segment}' ('%2e' counts as '.'), so requests would not go to the path as written: "
            + "write the path without '.' or '..' segments", problem);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000/v2/.well-known")]
    [InlineData("http://127.0.0.1:9000/v2/..x/x.")]
    [InlineData("http://127.0.0.1:9000/v2/.../x")]
    [InlineData("http://127.0.0.1:9000/v2/%2e%2e%2e")]
    [InlineData("http://127.0.0.1:9000/")]
    public void ValidateUrl_DotsInsideASegment_Accepted(string url)
    {
        Assert.Null(UpstreamService.ValidateUrl(url));
    }

    [Theory]
    [InlineData("http://127.0.0.1:0/hooks", "port 0")]
    [InlineData("https://example.com:0/hooks", "port 0")]
    [InlineData("ftp://example.com/hooks", "is not an http or https URL")]
    public void WebhookCheckUrl_NoReachableHttpUrl_SaysWhy(string url, string problem)
    {
        Assert.Contains(problem, WebhookService.CheckUrl(url), StringComparison.Ordinal);
        Assert.Null(WebhookService.CheckUrl("https://example.com:8443/hooks"));
    }
}
