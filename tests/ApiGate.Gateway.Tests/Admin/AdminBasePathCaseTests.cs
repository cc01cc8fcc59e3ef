using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// Paths are compared case-sensitively everywhere (docs/routing.md, Reserved paths): routes, the reserved paths, the
/// admin API's base path and the console's. A route written in another case than the admin API's base path is served,
/// not accepted and then shadowed by the admin API.
/// </summary>
public sealed class AdminBasePathCaseTests : AdminTestBase
{
    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "upper-admin", Path = "/ADMIN/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "upper-ui", Path = "/UI/*", Upstream = "backend" });
    }

    [Theory]
    [InlineData("/ADMIN/routes")]
    [InlineData("/ADMIN")]
    [InlineData("/UI/login")]
    public async Task PathInAnotherCaseThanTheAdminApiOrConsole_IsServedByItsRoute(string path)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, path, "Authorization: Bearer " + Token);

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal(path, Assert.Single(Upstream.Received).RawTarget);
    }

    [Fact]
    public async Task AdminApiAtItsOwnBasePath_IsStillTheAdminApi()
    {
        // Act
        var response = await GetAsync("/routes");

        // Assert
        Assert.Equal(2, AssertData(response, HttpStatusCode.OK).GetArrayLength());
        Assert.Empty(Upstream.Received);
    }
}
