using System.Net;

namespace ApiGate.Gateway.Tests.Admin;

public sealed class AdminResponseHeadersTests : AdminTestBase
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnyResponse_IsNeitherCachedNorSniffed(bool withToken)
    {
        // Act: an admitted read and a refused one
        var response = await SendAsync(HttpMethod.Get, "/upstreams", token: withToken ? null : "agt_" + new string('0', 64));

        // Assert
        Assert.Equal(withToken ? HttpStatusCode.OK : HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal("no-store", response.Headers["Cache-Control"]);
        Assert.Equal("nosniff", response.Headers["X-Content-Type-Options"]);
    }
}
