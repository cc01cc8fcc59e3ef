using System.Net;
using ApiGate.Core.Upstreams;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>An upstream's <c>http_version</c> over the admin API: written, shown, kept on update, refused when invalid.</summary>
public sealed class AdminHttpVersionTests : AdminTestBase
{
    [Fact]
    public async Task CreateUpdateGet_HttpVersion_RoundTripsAsText()
    {
        var created = await PostAsync("/upstreams", new { name = "h2", url = "http://127.0.0.1:1", http_version = "2" });
        var renamed = await PatchAsync("/upstreams/h2", new { description = "kept" });
        var back = await PatchAsync("/upstreams/h2", new { http_version = 1.1 }); // a number is read as its text
        var plain = await PostAsync("/upstreams", new { name = "plain", url = "http://127.0.0.1:2" });

        Assert.Equal("2", AssertData(created, HttpStatusCode.Created).GetProperty("http_version").GetString());
        Assert.Equal("2", AssertData(renamed).GetProperty("http_version").GetString());
        Assert.Equal("1.1", AssertData(back).GetProperty("http_version").GetString());
        Assert.Equal("1.1", AssertData(plain, HttpStatusCode.Created).GetProperty("http_version").GetString());
        Assert.Equal(UpstreamHttpVersion.Http11, (await Gateway.Store.FindUpstreamAsync("h2", CancellationToken.None))!.HttpVersion);
    }

    [Theory]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "http_version": "3"}""")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "http_version": "h2"}""")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "http_version": 2.0}""")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "http_version": ""}""")]
    public async Task Create_InvalidHttpVersion_Returns422NamingTheFieldAndWritesNothing(string body)
    {
        var response = await SendAsync(HttpMethod.Post, "/upstreams", body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/http_version");
        Assert.Contains("1.1, 2", response.Raw);
        AssertError(await GetAsync("/upstreams/p"), HttpStatusCode.NotFound, "not_found");
    }
}
