using System.Collections.Concurrent;
using ApiGate.Gateway.Persistence;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>The writer thread's queue: every write runs once, in order, on that thread; disposing finishes what was queued.</summary>
public sealed class StoreWriterTests
{
    [Fact]
    public async Task WritesFromManyThreads_EachRunsOnce_OnTheWriterThread_InTheOrderEachProducerQueuedThem()
    {
        using var writer = TestStoreWriter.Create();
        var ran = new ConcurrentQueue<(int Producer, int Sequence, int Thread)>();

        var producers = Enumerable.Range(0, 8).Select(producer => Task.Run(async () =>
        {
            var writes = new List<Task>();
            for (var sequence = 0; sequence < 500; sequence++)
            {
                var s = sequence;
                writes.Add(writer.RunAsync(_ =>
                {
                    ran.Enqueue((producer, s, Environment.CurrentManagedThreadId));
                    return Task.CompletedTask;
                }, CancellationToken.None));
            }

            await Task.WhenAll(writes);
        }));
        await Task.WhenAll(producers);

        Assert.Equal(8 * 500, ran.Count);
        Assert.All(ran, r => Assert.Equal(writer.ThreadId, r.Thread));
        foreach (var producer in ran.GroupBy(r => r.Producer))
        {
            Assert.Equal(Enumerable.Range(0, 500), producer.Select(r => r.Sequence));
        }

        Assert.Equal(0, writer.QueueDepth);
    }

    [Fact]
    public async Task QueuedWrite_TokenCancelledWhileAnEarlierWriteHoldsTheThread_CancelledAtOnceAndNeverRuns()
    {
        // Arrange: the first write holds the thread, as a usage batch retried while another process holds the lock.
        using var writer = TestStoreWriter.Create();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = writer.RunAsync(async _ =>
        {
            started.SetResult();
            await gate.Task;
            return 1;
        }, CancellationToken.None);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using var stop = new CancellationTokenSource();
        var ran = false;
        var queued = writer.RunAsync(_ =>
        {
            ran = true;
            return Task.FromResult(2);
        }, stop.Token);

        // Act: a stop whose time is up (a hosted service's StopAsync, the final drain)
        await stop.CancelAsync();
        var outcome = await Record.ExceptionAsync(() => queued.WaitAsync(TimeSpan.FromSeconds(10)));
        var firstStillRunning = !first.IsCompleted;
        gate.SetResult();
        await first;
        await writer.RunAsync(_ => Task.FromResult(3), CancellationToken.None); // the queue moved past it

        // Assert
        Assert.IsType<TaskCanceledException>(outcome);
        Assert.True(firstStillRunning);
        Assert.False(ran);
    }

    [Fact]
    public async Task Dispose_QueuedWritesStillRun_LaterOnesFailWithObjectDisposed()
    {
        var writer = TestStoreWriter.Create();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = writer.RunAsync(_ =>
        {
            started.SetResult();
            gate.Task.Wait(TimeSpan.FromSeconds(10)); // holds the thread so the next write stays queued
            return Task.FromResult(1);
        }, CancellationToken.None);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = writer.RunAsync(_ => Task.FromResult(2), CancellationToken.None);
        Assert.Equal(1, writer.QueueDepth);

        writer.Dispose();
        var late = writer.RunAsync(_ => Task.FromResult(3), CancellationToken.None);
        gate.SetResult();

        Assert.Equal(1, await first);
        Assert.Equal(2, await queued);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => late);
    }

    [Fact]
    public async Task WriteWithNoAnswerFromTheStore_ReportedAsWaitingAfterFiveSecondsOnce_ThenAsThrough()
    {
        // Arrange: a write that hangs as one whose database stopped answering, or whose COMMIT is being confirmed
        // (neither says "busy").
        var logs = new RecordingLoggerProvider();
        var clock = new FakeTimeProvider();
        using var writer = TestStoreWriter.Create(clock, logs);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var write = writer.RunAsync(async _ =>
        {
            started.SetResult();
            await gate.Task;
        }, CancellationToken.None);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Act + Assert: nothing before the five seconds, one warning at them, none more later.
        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.DoesNotContain(logs.Entries, e => e.EventId == 4101);
        clock.Advance(TimeSpan.FromSeconds(0.1));
        var waiting = Assert.Single(logs.Entries, e => e.EventId == 4101);
        Assert.Equal(LogLevel.Warning, waiting.Level);
        Assert.Contains("no answer from the store for 5 s", waiting.Message);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Single(logs.Entries, e => e.EventId == 4101);

        // Act: the store answers.
        gate.SetResult();
        await write.WaitAsync(TimeSpan.FromSeconds(10));

        // Assert: reported through (after the write's caller was answered), with the whole wait.
        await Poll.UntilAsync(() => logs.Entries.Any(e => e.EventId == 4102));
        var through = Assert.Single(logs.Entries, e => e.EventId == 4102);
        Assert.Contains("after waiting 35.0 s", through.Message);
    }

    [Fact]
    public async Task WriteFailsDuringAnOutageAndTheNextWaitsToo_WaitReportedOnceAndThroughOnceWhenAWriteGoesThrough()
    {
        // Arrange: a store restarting: the write in flight is told busy, then fails (its connection cut by the restart);
        // the write after it is told busy twice more, then goes through
        var logs = new RecordingLoggerProvider();
        using var writer = TestStoreWriter.Create(new FakeTimeProvider(), logs);
        var firstAttempts = 0;
        var secondAttempts = 0;

        // Act
        var first = writer.RunAsync(
            _ => firstAttempts++ == 0 ? Task.FromException(new ApiGate.Core.Storage.StoreBusyException("the store is restarting")) : Task.FromException(new InvalidOperationException("connection cut")),
            CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        var failedCount = (logs.Entries.Count(e => e.EventId == 4101), logs.Entries.Count(e => e.EventId == 4102));
        await writer.RunAsync(
            _ => secondAttempts++ < 2 ? Task.FromException(new ApiGate.Core.Storage.StoreBusyException("the store is restarting")) : Task.CompletedTask,
            CancellationToken.None);
        await Poll.UntilAsync(() => logs.Entries.Any(e => e.EventId == 4102));

        // Assert: the failed write did not end the outage; the one that went through did, once
        Assert.Equal((1, 0), failedCount);
        Assert.Single(logs.Entries, e => e.EventId == 4101);
        Assert.Single(logs.Entries, e => e.EventId == 4102);
    }

    [Fact]
    public async Task WritesThatFinish_NeverReportedAsWaiting_HoweverLongTheWriterIdlesAfter()
    {
        var logs = new RecordingLoggerProvider();
        var clock = new FakeTimeProvider();
        using var writer = TestStoreWriter.Create(clock, logs);

        for (var i = 0; i < 3; i++)
        {
            await writer.RunAsync(_ => Task.CompletedTask, CancellationToken.None);
            clock.Advance(TimeSpan.FromSeconds(4));
        }

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.DoesNotContain(logs.Entries, e => e.EventId is 4101 or 4102);
    }

    [Fact]
    public async Task IdleWriter_WakesForAWriteQueuedLater()
    {
        using var writer = TestStoreWriter.Create();
        await writer.RunAsync(_ => Task.CompletedTask, CancellationToken.None);
        await Task.Delay(200); // the thread is asleep on an empty queue now

        var result = await writer.RunAsync(_ => Task.FromResult(42), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(42, result);
    }
}
