using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>Publishing target health to the store: retry after a failed write, heartbeat, sweeping expired rows.</summary>
public sealed class TargetHealthReporterTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly RecordingStore _store = new();
    private readonly TargetHealthReporter _reporter;
    private readonly TargetRegistry _registry;

    public TargetHealthReporterTests()
    {
        _reporter = new TargetHealthReporter(_store, _time, NullLogger<TargetHealthReporter>.Instance);
        _registry = new TargetRegistry(_time, _reporter, NullLogger<TargetRegistry>.Instance);
    }

    [Fact]
    public async Task WriteFails_LatestStateIsWrittenOnRetry()
    {
        _store.FailReports = 1;
        await _reporter.StartAsync(CancellationToken.None);
        var state = _registry.Get("up_1", "http://10.0.0.1:8080", 1);
        _reporter.Publish(state);
        Assert.True(await PollAsync(() => _store.ReportAttempts >= 1));
        Assert.Empty(_store.Rows);

        Assert.True(state.TryStartProbe()); // the state changes before the retry …
        state.ProbeCompleted(false, new TargetHealthPolicy(new HealthCheckSettings { Path = "/healthz", UnhealthyThreshold = 1 }, 1), "status 503");
        var written = await PollAsync(() => _store.Rows.Count == 1, advance: TargetHealthReporter.RetryDelay);

        Assert.True(written, "the failed write was never retried");
        Assert.Equal("unhealthy", _store.Rows.Values.Single().State); // … and the retry writes the latest one
    }

    [Fact]
    public async Task Running_RefreshesItsRowsEveryHeartbeatAndSweepsExpiredOnes()
    {
        await _reporter.StartAsync(CancellationToken.None);
        Assert.True(await PollAsync(() => _store.SweepCutoffs.Count == 1)); // at start
        Assert.Equal(Start - ReportedTargetHealth.ExpireAfter, _store.SweepCutoffs.Single());
        _reporter.Publish(_registry.Get("up_1", "http://10.0.0.1:8080", 1));
        Assert.True(await PollAsync(() => _store.Rows.Count == 1));

        var touched = await PollAsync(() => _store.Touches.Count >= 2, advance: TimeSpan.FromSeconds(1));

        Assert.True(touched, "no heartbeat");
        Assert.All(_store.Touches, t => Assert.Equal(_reporter.InstanceId, t.InstanceId));
        var gap = _store.Touches.ElementAt(1).At - _store.Touches.ElementAt(0).At;
        Assert.InRange(gap, ReportedTargetHealth.HeartbeatInterval, ReportedTargetHealth.HeartbeatInterval + TimeSpan.FromSeconds(2));
        Assert.True(await PollAsync(() => _store.SweepCutoffs.Count >= 2, advance: TimeSpan.FromMinutes(1)), "no second sweep");
    }

    [Fact]
    public async Task HeartbeatFindsRowsMissing_WritesThemAgain()
    {
        await _reporter.StartAsync(CancellationToken.None);
        _reporter.Publish(_registry.Get("up_1", "http://10.0.0.1:8080", 1));
        Assert.True(await PollAsync(() => _store.Rows.Count == 1));
        _store.Rows.Clear(); // swept by another instance while this one could not reach the store

        Assert.True(await PollAsync(() => _store.Rows.Count == 1, advance: TimeSpan.FromSeconds(1)), "the missing row was not written again");
    }

    [Fact]
    public async Task TargetRemovedAndAddedAgain_RequestFromBeforeFailsLater_RowShowsTheNewTargetsState()
    {
        // Arrange: a target in use, with a request in flight on it (passive checks eject at the first failure)
        await _reporter.StartAsync(CancellationToken.None);
        const string url = "http://10.0.0.1:8080";
        var policy = new TargetHealthPolicy(new HealthCheckSettings { PassiveFailures = 1 }, 2);
        var before = _registry.Get("up_1", url, 1);
        _registry.Retain([([new TargetBinding(url, 1, before)], policy)]);
        Assert.True(await PollAsync(() => _store.Rows.Count == 1));
        before.Begin();

        // Act: the target is removed and added again (a new state, healthy), then the old request fails
        _registry.Retain([]);
        Assert.True(await PollAsync(() => _store.Rows.IsEmpty));
        var again = _registry.Get("up_1", url, 1);
        _registry.Retain([([new TargetBinding(url, 1, again)], policy)]);
        Assert.True(await PollAsync(() => _store.Rows.Count == 1));
        before.End(TargetOutcome.Failure, policy, "Request: Connection reset");
        var other = _registry.Get("up_1", "http://10.0.0.2:8080", 1);
        _registry.Retain([([new TargetBinding(url, 1, again), new TargetBinding("http://10.0.0.2:8080", 1, other)], policy)]);
        Assert.True(await PollAsync(() => _store.Rows.Count == 2)); // written after whatever the failure queued

        // Assert: the row is the configured target's (healthy), not the removed state's ejection
        Assert.NotSame(before, again);
        Assert.Equal(TargetHealth.Ejected, before.Health);
        Assert.Equal("healthy", _store.Rows[(_reporter.InstanceId, "up_1", url)].State);
    }

    [Fact]
    public async Task TargetRemoved_RequestFromBeforeFailsLater_NoRowComesBack()
    {
        // Arrange
        await _reporter.StartAsync(CancellationToken.None);
        const string url = "http://10.0.0.1:8080";
        var policy = new TargetHealthPolicy(new HealthCheckSettings { PassiveFailures = 1 }, 2);
        var removed = _registry.Get("up_1", url, 1);
        _registry.Retain([([new TargetBinding(url, 1, removed)], policy)]);
        Assert.True(await PollAsync(() => _store.Rows.Count == 1));
        removed.Begin();

        // Act: removed from the config, then its last request fails
        _registry.Retain([]);
        Assert.True(await PollAsync(() => _store.Rows.IsEmpty));
        removed.End(TargetOutcome.Failure, policy, "Request: Connection reset");
        var other = _registry.Get("up_1", "http://10.0.0.2:8080", 1);
        _registry.Retain([([new TargetBinding("http://10.0.0.2:8080", 1, other)], policy)]);
        Assert.True(await PollAsync(() => _store.Rows.ContainsKey((_reporter.InstanceId, "up_1", "http://10.0.0.2:8080"))));

        // Assert: only the configured target has a row
        Assert.Equal(TargetHealth.Ejected, removed.Health);
        Assert.Equal(["http://10.0.0.2:8080"], _store.Rows.Keys.Select(k => k.Item3));
    }

    [Fact]
    public async Task SqliteStore_TouchRefreshesOneInstanceAndSweepDeletesOnlyOldRows()
    {
        await using var temp = await TempStore.CreateAsync();
        var store = temp.Store;
        await store.ReportTargetHealthAsync(
        [
            Row("gw-live", "http://a:1", Start), Row("gw-live", "http://b:1", Start), Row("gw-crashed", "http://a:1", Start.AddHours(-2)),
        ], CancellationToken.None);

        var touched = await store.TouchTargetHealthAsync("gw-live", Start.AddSeconds(10), CancellationToken.None);
        var deleted = await store.DeleteTargetHealthReportedBeforeAsync(Start - ReportedTargetHealth.ExpireAfter, CancellationToken.None);
        var rows = await store.ListTargetHealthAsync("up_1", CancellationToken.None);

        Assert.Equal(2, touched);
        Assert.Equal(1, deleted);
        Assert.Equal(["gw-live", "gw-live"], rows.Select(r => r.InstanceId));
        Assert.All(rows, r => Assert.Equal(Start.AddSeconds(10), r.ReportedAt));
    }

    [Fact]
    public async Task StopAsync_HostShutdownTimeoutAlreadySpent_DeletesItsRowsWithoutThrowing()
    {
        // A SIGTERM while an SSE stream or a WebSocket is open: draining it uses the host's whole shutdown timeout,
        // so every hosted service is stopped with a cancelled token.
        await using var temp = await TempStore.CreateAsync();
        using var reporter = new TargetHealthReporter(temp.Store, TimeProvider.System, NullLogger<TargetHealthReporter>.Instance);
        var registry = new TargetRegistry(TimeProvider.System, reporter, NullLogger<TargetRegistry>.Instance);
        await reporter.StartAsync(CancellationToken.None);
        reporter.Publish(registry.Get("up_1", "http://10.0.0.1:8080", 1));
        var written = false;
        for (var i = 0; i < 200 && !written; i++)
        {
            written = (await temp.Store.ListTargetHealthAsync("up_1", CancellationToken.None)).Count == 1;
            await Task.Delay(written ? 0 : 50);
        }

        Assert.True(written, "the row was never written");
        using var spent = new CancellationTokenSource();
        await spent.CancelAsync();

        await reporter.StopAsync(spent.Token);

        Assert.Empty(await temp.Store.ListTargetHealthAsync("up_1", CancellationToken.None));
    }

    public async ValueTask DisposeAsync()
    {
        await _reporter.StopAsync(CancellationToken.None);
        _reporter.Dispose();
    }

    private static TargetHealthReport Row(string instance, string url, DateTimeOffset at) => new()
    {
        InstanceId = instance, UpstreamId = "up_1", TargetUrl = url, State = "healthy", Since = at, ReportedAt = at,
    };

    /// <summary>Waits (at most ~10 s of real time) for <paramref name="condition"/>, moving the fake clock on by <paramref name="advance"/> each round.</summary>
    private async Task<bool> PollAsync(Func<bool> condition, TimeSpan advance = default)
    {
        for (var i = 0; i < 200; i++)
        {
            if (condition())
            {
                return true;
            }

            if (advance > TimeSpan.Zero)
            {
                _time.Advance(advance);
            }

            await Task.Delay(50);
        }

        return condition();
    }

    private sealed class RecordingStore : ITargetHealthStore
    {
        private int _reportAttempts;

        public int FailReports;

        public int ReportAttempts => Volatile.Read(ref _reportAttempts);

        public System.Collections.Concurrent.ConcurrentDictionary<(string, string, string), TargetHealthReport> Rows { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<(string InstanceId, DateTimeOffset At)> Touches { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<DateTimeOffset> SweepCutoffs { get; } = new();

        public Task ReportTargetHealthAsync(IReadOnlyList<TargetHealthReport> reports, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reportAttempts);
            if (Interlocked.Decrement(ref FailReports) >= 0)
            {
                throw new IOException("database is locked");
            }

            foreach (var r in reports)
            {
                Rows[(r.InstanceId, r.UpstreamId, r.TargetUrl)] = r;
            }

            return Task.CompletedTask;
        }

        public Task DeleteTargetHealthAsync(string instanceId, string? upstreamId, string? targetUrl, CancellationToken cancellationToken)
        {
            foreach (var key in Rows.Keys.Where(k => k.Item1 == instanceId && (upstreamId is null || (k.Item2 == upstreamId && k.Item3 == targetUrl))))
            {
                Rows.TryRemove(key, out _);
            }

            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<TargetHealthReport>> ListTargetHealthAsync(string upstreamId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<TargetHealthReport>>([.. Rows.Values.Where(r => r.UpstreamId == upstreamId)]);

        public Task<int> TouchTargetHealthAsync(string instanceId, DateTimeOffset reportedAt, CancellationToken cancellationToken)
        {
            Touches.Enqueue((instanceId, reportedAt));
            return Task.FromResult(Rows.Keys.Count(k => k.Item1 == instanceId));
        }

        public Task<int> DeleteTargetHealthReportedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
        {
            SweepCutoffs.Enqueue(cutoff);
            return Task.FromResult(0);
        }
    }
}
