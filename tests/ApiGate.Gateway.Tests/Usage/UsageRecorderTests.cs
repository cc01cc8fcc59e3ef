using System.Collections.Concurrent;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>SPEC §8: usage is recorded off the request path — bounded queue, batched writes, nothing lost on a graceful stop.</summary>
public sealed class UsageRecorderTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Start);
    private readonly RecordingLogger<UsageRecorder> _logger = new();
    private readonly ApiGate.Gateway.Persistence.StoreWriter _writer = TestStoreWriter.Create();
    private TempStore _temp = null!;

    public async Task InitializeAsync() => _temp = await TempStore.CreateAsync();

    public async Task DisposeAsync()
    {
        _writer.Dispose();
        await _temp.DisposeAsync();
    }

    [Fact]
    public async Task StopAsync_EventsRecordedJustBefore_StoresExactlyThoseEvents()
    {
        // Arrange
        const int count = 2_345;
        var recorder = new UsageRecorder(_temp.Store, _writer, _clock, _logger);
        await recorder.StartAsync(CancellationToken.None);

        // Act
        var accepted = Enumerable.Range(0, count).Count(i => recorder.TryRecord(Event(i)));
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal(count, accepted);
        Assert.Equal(count, await StoredCountAsync());
        Assert.Equal(count, recorder.Written);
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(0, recorder.QueueDepth);
    }

    [Fact]
    public async Task StopAsync_NeverStarted_StillWritesWhatWasQueued()
    {
        // Arrange
        var recorder = new UsageRecorder(_temp.Store, _writer, _clock, _logger);
        for (var i = 0; i < 10; i++)
        {
            recorder.TryRecord(Event(i));
        }

        // Act
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal(10, await StoredCountAsync());
        Assert.Equal(10, recorder.Written);
    }

    [Fact]
    public async Task TryRecord_QueueFull_DropsCountsAndWarnsOncePerSecond()
    {
        // Arrange: not started, so nothing drains the queue
        var recorder = new UsageRecorder(_temp.Store, _writer, _clock, _logger, capacity: 3);

        // Act
        var results = Enumerable.Range(0, 6).Select(i => recorder.TryRecord(Event(i))).ToList();
        var warningsAtFirst = _logger.Count(5001);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var later = recorder.TryRecord(Event(6));
        var warningsAfterASecond = _logger.Count(5001);
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal([true, true, true, false, false, false], results);
        Assert.False(later);
        Assert.Equal(4, recorder.Dropped);
        Assert.Equal(1, warningsAtFirst);
        Assert.Equal(2, warningsAfterASecond);
        Assert.Equal(3, await StoredCountAsync());
    }

    [Fact]
    public async Task TryRecord_QueueFull_ReportsDepthAtCapacity()
    {
        // Arrange
        var recorder = new UsageRecorder(_temp.Store, _writer, _clock, _logger, capacity: 5);

        // Act
        for (var i = 0; i < 8; i++)
        {
            recorder.TryRecord(Event(i));
        }

        // Assert
        Assert.Equal(5, recorder.QueueDepth);
        Assert.Equal(3, recorder.Dropped);
        await recorder.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task TryRecord_AfterStop_DropsAndCounts()
    {
        // Arrange
        var recorder = new UsageRecorder(_temp.Store, _writer, _clock, _logger);
        await recorder.StartAsync(CancellationToken.None);
        await recorder.StopAsync(CancellationToken.None);

        // Act
        var accepted = recorder.TryRecord(Event(0));

        // Assert
        Assert.False(accepted);
        Assert.Equal(1, recorder.Dropped);
    }

    [Fact]
    public async Task ExecuteAsync_ManyQueued_WritesBatchesOfAtMost500()
    {
        // Arrange
        var store = new ScriptedStore(_temp.Store);
        var recorder = new UsageRecorder(store, _writer, _clock, _logger);
        for (var i = 0; i < 1_200; i++)
        {
            recorder.TryRecord(Event(i));
        }

        // Act
        await recorder.StartAsync(CancellationToken.None);
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal([500, 500, 200], store.Batches);
        Assert.Equal(1_200, await StoredCountAsync());
    }

    [Fact]
    public async Task ExecuteAsync_EventsArriveWithinTheWindow_WritesThemTogether()
    {
        // Arrange: the fake clock never closes the window, so only the stop ends the batch
        var store = new ScriptedStore(_temp.Store);
        var clock = new WindowWatch(Start);
        var recorder = new UsageRecorder(store, _writer, clock, _logger);
        recorder.TryRecord(Event(0));
        recorder.TryRecord(Event(1));
        await recorder.StartAsync(CancellationToken.None);
        await clock.WindowOpened.Task.WaitAsync(TimeSpan.FromSeconds(30)); // the first two taken, the batch open (hang guard only)

        // Act
        recorder.TryRecord(Event(2));
        recorder.TryRecord(Event(3));
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal([4], store.Batches);
    }

    [Fact]
    public async Task Export_FailsWhileRotating_EveryBatchStoredOnceAndRecordingGoesOn()
    {
        // Arrange: an export that must rotate at its second batch and cannot (a directory stands where the rotated file goes)
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        var path = Path.Combine(directory, "usage.jsonl");
        Directory.CreateDirectory(path + ".1");
        File.WriteAllText(Path.Combine(path + ".1", "occupied"), "x");
        using var export = new UsageExport(path, maxBytes: 1);
        var recorder = new UsageRecorder(_temp.Store, _writer, TimeProvider.System, _logger, export: export);
        await recorder.StartAsync(CancellationToken.None);

        // Act: three batches, one after the other
        for (var i = 0; i < 3; i++)
        {
            Assert.True(recorder.TryRecord(Event(i)));
            for (var wait = 0; wait < 300 && await StoredCountAsync() < i + 1; wait++)
            {
                await Task.Delay(100); // hang guard only: each batch closes within its window
            }
        }

        await recorder.StopAsync(CancellationToken.None);

        // Assert: stored once each — a failed export is never a reason to write the batch again (its quota units would
        // count twice) — and the failures are logged, not fatal
        Assert.Equal(3, await StoredCountAsync());
        Assert.Equal((3L, 0L), (recorder.Written, recorder.Dropped));
        Assert.True(_logger.Count(5005) >= 1);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ExecuteAsync_WindowCloses_WritesWithoutWaitingForStop()
    {
        // Arrange
        var store = new ScriptedStore(_temp.Store);
        var recorder = new UsageRecorder(store, _writer, TimeProvider.System, _logger);
        recorder.TryRecord(Event(0));
        recorder.TryRecord(Event(1));
        recorder.TryRecord(Event(2));

        // Act
        await recorder.StartAsync(CancellationToken.None);
        var first = await store.FirstBatch.Task.WaitAsync(TimeSpan.FromSeconds(30)); // hang guard only

        // Assert
        Assert.Equal(3, first);
        Assert.Equal(3, await StoredCountAsync());
        await recorder.StopAsync(CancellationToken.None);
        Assert.Equal(3, recorder.Written);
    }

    [Fact]
    public async Task WriteAsync_StoreFailsTwice_RetriesAfterOneSecondAndStoresAll()
    {
        // Arrange
        var timers = new InstantTimers();
        var store = new ScriptedStore(_temp.Store, failures: 2);
        var recorder = new UsageRecorder(store, _writer, timers, _logger);
        for (var i = 0; i < 10; i++)
        {
            recorder.TryRecord(Event(i));
        }

        // Act
        await recorder.StartAsync(CancellationToken.None);
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal(3, store.Attempts);
        Assert.Equal(10, await StoredCountAsync());
        Assert.Equal(10, recorder.Written);
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(2, timers.Requested.Count(d => d == UsageRecorder.RetryDelay));
        Assert.Equal(2, _logger.Count(5002));
    }

    [Fact]
    public async Task WriteAsync_StoreKeepsFailing_DropsTheBatchAfterThreeAttempts()
    {
        // Arrange
        var store = new ScriptedStore(_temp.Store, failures: int.MaxValue);
        var recorder = new UsageRecorder(store, _writer, new InstantTimers(), _logger);
        for (var i = 0; i < 10; i++)
        {
            recorder.TryRecord(Event(i));
        }

        // Act
        await recorder.StartAsync(CancellationToken.None);
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal(UsageRecorder.MaxAttempts, store.Attempts);
        Assert.Equal(0, await StoredCountAsync());
        Assert.Equal(0, recorder.Written);
        Assert.Equal(10, recorder.Dropped);
        Assert.Equal(1, _logger.Count(5003));
    }

    [Fact]
    public async Task StopAsync_ShutdownTimeoutExpires_ReturnsAndCountsTheRestAsDropped()
    {
        // Arrange: a store that never finishes a write until cancelled
        var store = new ScriptedStore(_temp.Store, hang: true);
        var recorder = new UsageRecorder(store, _writer, new InstantTimers(), _logger);
        for (var i = 0; i < 10; i++)
        {
            recorder.TryRecord(Event(i));
        }

        await recorder.StartAsync(CancellationToken.None);
        await store.Entered.Task;

        // Act
        await recorder.StopAsync(new CancellationToken(canceled: true));
        await recorder.ExecuteTask!;

        // Assert
        Assert.Equal(10, recorder.Dropped);
        Assert.Equal(0, recorder.Written);
        Assert.Equal(1, _logger.Count(5004));
    }

    [Fact]
    public async Task StopAsync_ShutdownTimeoutExpiresWhileTheWriteIsSlowToGiveUp_ReturnsOnlyOnceTheDropIsCountedAndLogged()
    {
        // Arrange: a write that notices its cancellation late, as a SQLite write blocked in its busy wait.
        var store = new ScriptedStore(_temp.Store, hang: true, noticeLate: true);
        var recorder = new UsageRecorder(store, _writer, TimeProvider.System, _logger);
        for (var i = 0; i < 10; i++)
        {
            recorder.TryRecord(Event(i));
        }

        await recorder.StartAsync(CancellationToken.None);
        await store.Entered.Task;

        // Act: the process exits as soon as this returns
        await recorder.StopAsync(new CancellationToken(canceled: true));

        // Assert
        Assert.Equal(10, recorder.Dropped);
        Assert.Equal(1, _logger.Count(5004));
    }

    [Fact]
    public async Task TryRecord_PathAndMethodAsLongAsTheRequestLine_StoresThemCutToTheirLimits()
    {
        // Arrange: a caller's request with a 7,000-character path and a 6,000-character custom method
        var recorder = new UsageRecorder(_temp.Store, _writer, _clock, _logger);
        var path = "/items/" + new string('a', 6_993);
        var method = new string('F', 6_000);

        // Act
        recorder.TryRecord(Event(0) with { Path = path, Method = method });
        recorder.TryRecord(Event(1) with { Path = "/items/" + new string('b', UsageRecorder.MaxPathLength - 8) + "\U0001F600" });
        await recorder.StopAsync(CancellationToken.None);

        // Assert
        var stored = (await _temp.Store.GetRecentUsageAsync("usr_1", 10, CancellationToken.None)).OrderBy(e => e.RequestId).ToList();
        Assert.Equal(path[..UsageRecorder.MaxPathLength], stored[0].Path);
        Assert.Equal(method[..UsageRecorder.MaxMethodLength], stored[0].Method);
        Assert.Equal(UsageRecorder.MaxPathLength - 1, stored[1].Path.Length); // not half of the emoji's surrogate pair
    }

    [Fact]
    public async Task TryRecord_EventThatGetsNoRawRowOrExportLine_QueuesNoneOfItsClientStrings()
    {
        // Arrange: raw rows for callers only (the default), no export; a public route's event carries a long path
        var store = new ScriptedStore(_temp.Store);
        var recorder = new UsageRecorder(store, _writer, _clock, _logger);

        // Act
        recorder.TryRecord(Event(0) with { UserId = UsageEvent.Anonymous, KeyId = UsageEvent.Anonymous, Path = "/p/" + new string('a', 7_000), Method = "FOO" });
        recorder.TryRecord(Event(1));
        await recorder.StopAsync(CancellationToken.None);

        // Assert: what the ring held is what reached the store
        var received = store.Received.ToList();
        Assert.Equal(2, received.Count);
        Assert.Equal(("", "", "", ""), (received[0].Method, received[0].Path, received[0].ClientIp, received[0].RequestId));
        Assert.Equal(1, received[0].Units);
        Assert.Equal(("GET", "/items/1", "127.0.0.1", "req-1"), (received[1].Method, received[1].Path, received[1].ClientIp, received[1].RequestId));
    }

    private static UsageEvent Event(int i) => new()
    {
        UserId = "usr_1",
        KeyId = "key_1",
        RouteId = "rte_1",
        UpstreamId = "ups_1",
        Method = "GET",
        Path = "/items/" + i,
        Status = 200,
        LatencyMs = 1.5,
        RequestBytes = 10,
        ResponseBytes = 20,
        Units = 1,
        ClientIp = "127.0.0.1",
        RequestId = "req-" + i,
        Timestamp = Start.AddMilliseconds(i),
    };

    private async Task<long> StoredCountAsync() =>
        (await _temp.Store.GetUsageSummaryAsync("usr_1", Start.AddDays(-1), Start.AddDays(1), CancellationToken.None)).Requests;

    /// <summary>Passes writes to the real store, recording batch sizes; can fail the first writes or hang until cancelled.</summary>
    private sealed class ScriptedStore(IUsageStore inner, int failures = 0, bool hang = false, bool noticeLate = false) : IUsageStore
    {
        private int _attempts;

        public ConcurrentQueue<int> Batches { get; } = new();

        public ConcurrentQueue<UsageEvent> Received { get; } = new();

        public TaskCompletionSource<int> FirstBatch { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Attempts => Volatile.Read(ref _attempts);

        public async Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            if (hang)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException) when (noticeLate)
                {
                    await Task.Delay(200, CancellationToken.None);
                    throw;
                }
            }

            if (Interlocked.Increment(ref _attempts) <= failures)
            {
                throw new IOException("disk on fire");
            }

            await inner.AddUsageEventsAsync(events, rawEvents, cancellationToken);
            Batches.Enqueue(events.Count);
            foreach (var e in events)
            {
                Received.Enqueue(e);
            }

            FirstBatch.TrySetResult(events.Count);
        }

        public Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken) =>
            inner.GetUsageSummaryAsync(userId, periodStart, periodEnd, cancellationToken);

        public Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken) =>
            inner.GetUsageHistoryAsync(userId, months, now, cancellationToken);

        public Task<bool> HasUsageAsync(string userId, CancellationToken cancellationToken) => inner.HasUsageAsync(userId, cancellationToken);

        public Task<IReadOnlyList<UsageEvent>> GetRecentUsageAsync(string userId, int limit, CancellationToken cancellationToken) =>
            inner.GetRecentUsageAsync(userId, limit, cancellationToken);

        public Task<UsageEventPage> GetRecentUsagePageAsync(string userId, int limit, int offset, ListCursor? after, int count, CancellationToken cancellationToken) =>
            inner.GetRecentUsagePageAsync(userId, limit, offset, after, count, cancellationToken);

        public Task<IReadOnlyList<UsageRollup>> GetUserUsageRowsAsync(string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
            inner.GetUserUsageRowsAsync(userId, from, to, cancellationToken);

        public Task<IReadOnlyList<UsageRollup>> GetGatewayUsageSeriesAsync(
            UsageGranularity granularity, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
            inner.GetGatewayUsageSeriesAsync(granularity, from, to, cancellationToken);

        public Task<IReadOnlyList<UsageLeader>> GetUsageLeadersAsync(
            UsageDimension by, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken) =>
            inner.GetUsageLeadersAsync(by, from, to, limit, cancellationToken);

        public Task<int> CompactUsageAsync(UsageGranularity into, DateTimeOffset before, int maxBuckets, CancellationToken cancellationToken) =>
            inner.CompactUsageAsync(into, before, maxBuckets, cancellationToken);

        public Task<int> PruneUsageAsync(UsageData data, DateTimeOffset before, int maxRows, CancellationToken cancellationToken) =>
            inner.PruneUsageAsync(data, before, maxRows, cancellationToken);

        public Task<UsageWatermarks> GetUsageWatermarksAsync(CancellationToken cancellationToken) => inner.GetUsageWatermarksAsync(cancellationToken);
    }

    /// <summary>A fake clock that says when the recorder opens a batch window (asks for a timer of <see cref="UsageRecorder.BatchWindow"/>).</summary>
    private sealed class WindowWatch(DateTimeOffset start) : FakeTimeProvider(start)
    {
        public TaskCompletionSource WindowOpened { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime == UsageRecorder.BatchWindow)
            {
                WindowOpened.TrySetResult();
            }

            return timer;
        }
    }

    /// <summary>A clock whose timers fire at once, remembering the delays they were asked for: retries without waiting.</summary>
    private sealed class InstantTimers : TimeProvider
    {
        public ConcurrentQueue<TimeSpan> Requested { get; } = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Requested.Enqueue(dueTime);
            return System.CreateTimer(callback, state, dueTime == Timeout.InfiniteTimeSpan ? dueTime : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }
}
