using System.Text.Json;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Admin;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>Issue 18: <c>apigate usage summary|history</c> and <c>/admin/usage/*</c> read rollups, so they answer the same after raw events are pruned.</summary>
public sealed class UsageReadsAfterRetentionTests : AdminTestBase
{
    [Fact]
    public async Task UsageCommandsAndAdminUsage_RawEventsPruned_GiveTheSameAnswers()
    {
        // Arrange: events this month and in earlier months
        var user = AssertData(await PostAsync("/users", new { email = "pruned@example.com" }), System.Net.HttpStatusCode.Created).GetProperty("id").GetString()!;
        var month = QuotaPeriod.StartOf(DateTimeOffset.UtcNow);
        await Gateway.Store.AddUsageEventsAsync(
            [.. Enumerable.Range(0, 40).Select(i => Storage.UsageStoreTests.Event(user, month.AddMonths(-(i % 4)).AddHours(i), units: 1 + i % 3, status: i % 6 == 0 ? 500 : 200))],
            CancellationToken.None);
        var before = await ReadAllAsync(user);

        // Act: retention removes every raw event (the newest is 39 h into this month: ahead of the clock on its first day)
        while (await Gateway.Store.PruneUsageAsync(UsageData.RawEvents, month.AddDays(2), 7, CancellationToken.None) == 7)
        {
        }

        var after = await ReadAllAsync(user);

        // Assert
        Assert.Empty(await Gateway.Store.GetRecentUsageAsync(user, 10, CancellationToken.None));
        Assert.Equal(before, after);
        Assert.Contains("\"requests\":", before[0]); // the reads did return totals
    }

    /// <summary>The CLI's summary and history (JSON) and the admin API's, without the quota counter fields that do not come from usage reads.</summary>
    private async Task<string[]> ReadAllAsync(string user)
    {
        var summary = await Gateway.CliAsync("usage", "summary", "--user", user, "--json");
        var history = await Gateway.CliAsync("usage", "history", "--user", user, "--months", "6", "--json");
        var adminSummary = AssertData(await GetAsync("/usage/summary?user=" + user));
        var adminHistory = (await GetAsync($"/usage/history?user={user}&months=6")).Json.GetProperty("data");
        Assert.Equal(0, summary.ExitCode);
        Assert.Equal(0, history.ExitCode);
        return [summary.Output, history.Output, adminSummary.GetRawText(), JsonSerializer.Serialize(adminHistory)];
    }
}
