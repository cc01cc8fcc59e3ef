using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>A deleted user's usage in the console: usage is a billing record and outlives its user.</summary>
public sealed class DeletedUserUsagePagesTests : AdminUiTestBase
{
    [Fact]
    public async Task DeletedUserWithUsageThisMonth_DashboardNamesItDeletedAndItsUsagePageOpensById()
    {
        // Arrange: a user with usage this month, then deleted
        var created = await Gateway.Users.CreateAsync(new UserChanges { Email = "gone@example.com" }, CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        var userId = created.Value!.Id;
        await Gateway.Store.AddUsageEventsAsync(
            [new UsageEvent
            {
                UserId = userId, KeyId = "key_1", RouteId = "rt_1", UpstreamId = "up_1", Method = "GET", Path = "/p", Status = 200, LatencyMs = 1,
                RequestBytes = 1, ResponseBytes = 1, Units = 7, ClientIp = "127.0.0.1", RequestId = "req-gone", Timestamp = DateTimeOffset.UtcNow,
            }],
            CancellationToken.None);
        Assert.True((await Gateway.Users.DeleteAsync(userId, CancellationToken.None)).Ok);
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);

        // Act
        using var dashboard = await console.GetAsync("/ui");
        using var usage = await console.GetAsync("/ui/usage?user=" + userId);
        using var byEmail = await console.GetAsync("/ui/usage?user=gone%40example.com");

        // Assert
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains($"<a href=\"/ui/usage?user={userId}\">{userId} (deleted)</a>", await dashboard.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        var page = await usage.Content.ReadAsStringAsync();
        Assert.Contains($"Requests per day: {userId} (deleted)", page, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"usage-problem\"", page, StringComparison.Ordinal);
        Assert.Contains("no user with id or email &#x27;gone@example.com&#x27;", await byEmail.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
