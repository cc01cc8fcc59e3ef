using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Persistence;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>Issue 18: compaction and retention with a fake clock, in short transactions on the store writer thread.</summary>
public sealed class UsageMaintenanceTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 5, 20, 12, 0, 30, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Now);
    private readonly StoreWriter _writer = TestStoreWriter.Create();
    private TempStore _temp = null!;

    public async Task InitializeAsync() => _temp = await TempStore.CreateAsync();

    public async Task DisposeAsync()
    {
        _writer.Dispose();
        await _temp.DisposeAsync();
    }

    [Fact]
    public async Task RunOnceAsync_FakeClock_DeletesExactlyTheRawEventsOlderThanTheRetention()
    {
        // Arrange: 2,500 events just past the 7-day retention (three prune batches), and some just inside it
        var cutoff = Now - TimeSpan.FromDays(7);
        var old = Enumerable.Range(1, 2_500).Select(i => Storage.UsageStoreTests.Event("usr_1", cutoff.AddMilliseconds(-i), path: "/old")).ToList();
        var kept = Enumerable.Range(0, 30).Select(i => Storage.UsageStoreTests.Event("usr_1", cutoff.AddMilliseconds(i), path: "/kept")).ToList();
        await _temp.Store.AddUsageEventsAsync([.. old, .. kept], CancellationToken.None);
        var maintenance = Maintenance(new UsageRetention(TimeSpan.FromDays(7), TimeSpan.FromDays(30), TimeSpan.FromDays(400), TimeSpan.FromHours(1)));

        // Act
        var result = await maintenance.RunOnceAsync(CancellationToken.None);
        var left = await _temp.Store.GetRecentUsageAsync("usr_1", 10_000, CancellationToken.None);

        // Assert
        Assert.Equal(2_500, result.EventsPruned);
        Assert.Equal(30, left.Count);
        Assert.All(left, e => Assert.Equal("/kept", e.Path));
        Assert.Equal(2_500, maintenance.Pruned);
        Assert.True(result.LongestTransaction > TimeSpan.Zero);
    }

    [Fact]
    public async Task RunOnceAsync_FakeClock_CompactsThenDeletesMinuteRollupsPastTheirRetentionKeepingTotals()
    {
        // Arrange: usage 40 days ago and 2 hours ago; minute rows kept 30 days
        UsageEvent[] events = [Storage.UsageStoreTests.Event("usr_1", Now.AddDays(-40), units: 5), Storage.UsageStoreTests.Event("usr_1", Now.AddHours(-2), units: 7)];
        await _temp.Store.AddUsageEventsAsync(events, CancellationToken.None);
        var totalsBefore = await _temp.Store.GetUsageSummaryAsync("usr_1", Now.AddDays(-60), Now, CancellationToken.None);
        var maintenance = Maintenance(new UsageRetention(TimeSpan.FromDays(7), TimeSpan.FromDays(30), TimeSpan.FromDays(400), TimeSpan.FromHours(1)));

        // Act
        var result = await maintenance.RunOnceAsync(CancellationToken.None);
        var minutes = await _temp.Store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, Now.AddDays(-60), Now, CancellationToken.None); // one user
        var totalsAfter = await _temp.Store.GetUsageSummaryAsync("usr_1", Now.AddDays(-60), Now, CancellationToken.None);
        var watermarks = await _temp.Store.GetUsageWatermarksAsync(CancellationToken.None);

        // Assert
        Assert.Equal(1, result.MinuteRollupsPruned);
        Assert.Equal(7, Assert.Single(minutes).Units);
        Assert.Equal(totalsBefore, totalsAfter);
        Assert.Equal(new DateTimeOffset(2026, 5, 20, 11, 0, 0, TimeSpan.Zero), watermarks.Hours);
        Assert.Equal(new DateTimeOffset(2026, 5, 20, 0, 0, 0, TimeSpan.Zero), watermarks.Days);
    }

    private UsageMaintenance Maintenance(UsageRetention retention) =>
        new(_temp.Store, _writer, retention, _clock, NullLogger<UsageMaintenance>.Instance);
}
