using System.Net;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// An upstream URL is a base: scheme, host, port and a path the request's path goes under. A query or fragment in it
/// would be dropped from every forwarded request without a word, so it is refused when written (docs/load-balancing.md,
/// docs/admin-api.md), by the admin API and the CLI alike, without echoing the query (it may hold a token).
/// </summary>
public sealed class AdminUpstreamUrlTests : AdminTestBase
{
    [Theory]
    [InlineData("http://127.0.0.1:47700/base?x=1")]
    [InlineData("http://127.0.0.1:47700/base?")]
    [InlineData("http://127.0.0.1:47700/base#part")]
    [InlineData("http://127.0.0.1:47700?token=s3cr3t")]
    public async Task Create_UrlWithAQueryOrFragment_422NamingUrl_NothingStored(string url)
    {
        // Act
        var response = await PostAsync("/upstreams", new { name = "q", url });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/url");
        Assert.StartsWith("a base URL cannot carry a query or fragment", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync("/upstreams")).GetArrayLength());
    }

    [Theory]
    [InlineData("--url", "http://127.0.0.1:47700/base?")]
    [InlineData("--url", "http://127.0.0.1:47700/base?token=s3cr3t")]
    [InlineData("--target", "http://127.0.0.1:47700/base?x=1")]
    public async Task CliCreate_UrlWithAQuery_Exit2NamingTheFlag_NothingStored(string flag, string url)
    {
        // Act
        var result = await Gateway.CliAsync("upstreams", "create", "--name", "q", flag, url);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(": a base URL cannot carry a query or fragment", result.Diagnostics, StringComparison.Ordinal);
        Assert.StartsWith(flag == "--url" ? "error: --url:" : "error: --target", result.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", result.Diagnostics + result.Output, StringComparison.Ordinal);
        Assert.Null(await Gateway.Store.FindUpstreamAsync("q", CancellationToken.None));
    }
}
