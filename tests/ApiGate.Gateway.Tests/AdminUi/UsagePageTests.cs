using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's usage page of a user on a gateway with many routes.</summary>
public sealed class UsagePageTests : AdminUiTestBase
{
    [Fact]
    public async Task UserWhoCalledSixtyRoutes_PerRouteTableListsTheFiftyWithMostUnitsAndSaysTenMore()
    {
        // Arrange: one event on each of 60 routes, route i billed i + 1 units.
        var created = await Gateway.Users.CreateAsync(new UserChanges { Email = "busy@example.com" }, CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        var now = DateTimeOffset.UtcNow;
        await Gateway.Store.AddUsageEventsAsync(
            [.. Enumerable.Range(0, 60).Select(i => new UsageEvent
            {
                UserId = created.Value!.Id, KeyId = "key_1", RouteId = $"rt_{i:D2}", UpstreamId = "up_1", Method = "GET", Path = "/p", Status = 200,
                LatencyMs = 1, RequestBytes = 1, ResponseBytes = 1, Units = i + 1, ClientIp = "127.0.0.1", RequestId = $"req-{i}", Timestamp = now,
            })],
            CancellationToken.None);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var response = await console.GetAsync("/ui/usage?user=busy%40example.com");

        // Assert: rt_59 (60 units) first, down to rt_10; rt_09 and below only counted.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        var table = page[page.IndexOf("id=\"usage-routes\"", StringComparison.Ordinal)..page.IndexOf("id=\"usage-errors\"", StringComparison.Ordinal)];
        Assert.Equal(50, table.Split("<tr><td class=\"ag-wrap\">").Length - 1);
        Assert.Contains("<tr><td class=\"ag-wrap\">rt_59</td><td>1</td><td>60</td>", table, StringComparison.Ordinal);
        Assert.Contains("<tr><td class=\"ag-wrap\">rt_10</td>", table, StringComparison.Ordinal);
        Assert.DoesNotContain("<tr><td class=\"ag-wrap\">rt_09</td>", table, StringComparison.Ordinal);
        Assert.Contains("The 50 routes with the most units; 10 more routes were called and are not listed.", table, StringComparison.Ordinal);
    }
}
