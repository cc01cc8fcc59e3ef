using System.Text;
using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Tests.Observability;

public sealed class BufferedLogWriterTests
{
    [Fact]
    public void Append_ThenDispose_WritesEveryLineInOrder()
    {
        var target = new StringWriter();
        var writer = new BufferedLogWriter(target);

        for (var i = 0; i < 1000; i++)
        {
            writer.Append(new StringBuilder($"line {i}\n"));
        }

        writer.Dispose();

        var lines = target.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"line {i}"), lines);
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public void Append_ManyThreads_LinesStayWhole()
    {
        var target = new StringWriter();
        var writer = new BufferedLogWriter(target);

        Parallel.For(0, 8, thread =>
        {
            for (var i = 0; i < 500; i++)
            {
                writer.Append(new StringBuilder($"{thread}:{i}:{new string('x', 50)}\n"));
            }
        });
        writer.Dispose();

        var lines = target.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4000, lines.Length);
        Assert.All(lines, l => Assert.Matches("^[0-7]:[0-9]+:x{50}$", l));
        Assert.Equal(4000, lines.Distinct().Count());
    }

    [Fact]
    public void Append_LinesAcrossManyChunksAndBatches_WrittenWholeInOrder()
    {
        var target = new StringWriter();
        var writer = new BufferedLogWriter(target);
        var longLine = new string('y', 40_000); // longer than one 16 K-character chunk

        for (var i = 0; i < 300; i++)
        {
            writer.Append(new StringBuilder(i % 100 == 0 ? $"{i}:{longLine}\n" : $"{i}:{new string('x', 700)}\n"));
            if (i % 50 == 0)
            {
                Thread.Sleep(25); // let the writer thread take a batch, so chunks are written and reused
            }
        }

        writer.Dispose();

        var lines = target.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(300, lines.Length);
        for (var i = 0; i < 300; i++)
        {
            Assert.Equal(i % 100 == 0 ? $"{i}:{longLine}" : $"{i}:{new string('x', 700)}", lines[i]);
        }
    }

    [Fact]
    public void Append_PastCapacity_DropsWholeLinesAndReportsTheCount()
    {
        var target = new BlockingWriter();
        var writer = new BufferedLogWriter(target, dropped => $"dropped {dropped}\n", capacity: 90);

        // The writer thread takes the first line and blocks writing it; then 10 lines of 9 characters fill the
        // buffer and 5 more are dropped.
        writer.Append(new StringBuilder("first\n"));
        Assert.True(target.Entered.Wait(TimeSpan.FromSeconds(10)));
        for (var i = 0; i < 15; i++)
        {
            writer.Append(new StringBuilder($"line-{i:D3}\n"));
        }

        target.Release.Set();
        writer.Dispose();

        var text = target.ToString();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, writer.Dropped);
        Assert.Equal("first", lines[0]);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"line-{i:D3}"), lines.Where(l => l.StartsWith("line-", StringComparison.Ordinal)));
        Assert.Equal("dropped 5", Assert.Single(lines, l => l.StartsWith("dropped", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task QuietForASecond_ThreadSleepsUntilTheNextLine_WhichWakesItAndIsWritten()
    {
        var target = new FlushSignallingWriter();
        var writer = new BufferedLogWriter(target);
        writer.Append(new StringBuilder("first\n"));
        Assert.True(target.Flushed.Wait(TimeSpan.FromSeconds(10)), "the first line was not written");

        // Nothing more is logged: after its quiet rounds the thread sleeps without a timeout
        Assert.True(await EventuallyAsync(() => writer.Parked), "the writer thread kept waking with nothing to write");
        target.Flushed.Reset();

        writer.Append(new StringBuilder("second\n"));

        // The line woke it (a parked thread has no timeout that would write it otherwise)
        Assert.False(writer.Parked);
        Assert.True(target.Flushed.Wait(TimeSpan.FromSeconds(10)), "a line logged while the thread slept was not written");
        Assert.Equal("first\nsecond\n", target.Text);

        // A parked thread also wakes to stop, and writes what was left
        Assert.True(await EventuallyAsync(() => writer.Parked), "the writer thread did not park again");
        writer.Dispose();
        Assert.True(writer.Stopped);
        Assert.Equal("first\nsecond\n", target.Text);
    }

    [Fact]
    public async Task LineDroppedWhileParked_NoticeIsWrittenWithoutWaitingForAnotherLine()
    {
        // Arrange: a quiet writer whose thread sleeps without a timeout
        var target = new FlushSignallingWriter();
        var writer = new BufferedLogWriter(target, dropped => $"dropped {dropped}\n", capacity: 32);
        writer.Append(new StringBuilder("first\n"));
        Assert.True(target.Flushed.Wait(TimeSpan.FromSeconds(10)), "the first line was not written");
        Assert.True(await EventuallyAsync(() => writer.Parked), "the writer thread did not park");

        // Act: a line longer than the whole buffer is dropped, and nothing else is logged
        writer.Append(new StringBuilder(new string('x', 100) + "\n"));

        // Assert: the drop is reported on the next flush, as for a drop under load, not whenever some later line comes
        Assert.Equal(1, writer.Dropped);
        Assert.True(await EventuallyAsync(() => target.Text.Contains("dropped 1\n", StringComparison.Ordinal)), "the dropped line was not reported");
        writer.Dispose();
        Assert.Equal("first\ndropped 1\n", target.Text);
    }

    [Fact]
    public void OnlyANoticeToWrite_TheNoticeIsFlushed()
    {
        // Arrange: a target that buffers until flushed (like the gateway's stdout StreamWriter)
        var target = new FlushSignallingWriter();
        var writer = new BufferedLogWriter(target, dropped => $"dropped {dropped}\n", capacity: 32);

        // Act: the only thing to write is the report of a dropped line
        writer.Append(new StringBuilder(new string('x', 100) + "\n"));

        // Assert: the round that writes the notice flushes it; otherwise it waits in the target's buffer for the next line
        Assert.True(target.Flushed.Wait(TimeSpan.FromSeconds(10)), "the notice was written but not flushed");
        Assert.Equal("dropped 1\n", target.Text);
        writer.Dispose();
    }

    [Fact]
    public async Task LineDroppedWithoutANoticeToWrite_ThreadStillParks()
    {
        // Arrange: no notice format, so a drop is only counted
        var target = new FlushSignallingWriter();
        var writer = new BufferedLogWriter(target, droppedNotice: null, capacity: 32);

        // Act
        writer.Append(new StringBuilder(new string('x', 100) + "\n"));

        // Assert: nothing to write, so the quiet rounds lead to parking as without the drop
        Assert.Equal(1, writer.Dropped);
        Assert.True(await EventuallyAsync(() => writer.Parked), "a drop with no notice kept the thread flushing every round");
        writer.Dispose();
        Assert.Equal("", target.Text);
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition();
    }

    /// <summary>A writer that says when a batch was flushed and hands its text to another thread safely.</summary>
    private sealed class FlushSignallingWriter : StringWriter
    {
        private readonly Lock _lock = new();

        public ManualResetEventSlim Flushed { get; } = new();

        public string Text
        {
            get
            {
                lock (_lock)
                {
                    return ToString();
                }
            }
        }

        public override void Write(ReadOnlySpan<char> buffer)
        {
            lock (_lock)
            {
                base.Write(buffer);
            }
        }

        public override void Write(string? value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override void Flush()
        {
            base.Flush();
            Flushed.Set();
        }
    }

    /// <summary>A writer whose first write waits until released (bounded), like a stalled stdout.</summary>
    private sealed class BlockingWriter : StringWriter
    {
        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public override void Write(ReadOnlySpan<char> buffer)
        {
            Wait();
            base.Write(buffer);
        }

        public override void Write(string? value)
        {
            Wait();
            base.Write(value);
        }

        private void Wait()
        {
            Entered.Set();
            Release.Wait(TimeSpan.FromSeconds(10));
        }
    }
}
