using System.Text.Json;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Usage;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>Raw events as JSON lines: every field, one line per event, files rotated by size keeping <see cref="UsageExport.KeptFiles"/>.</summary>
public sealed class UsageExportTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void Write_OneBatch_OneJsonLinePerEventWithEveryField()
    {
        // Arrange
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 1024 * 1024);
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 15, 123, TimeSpan.Zero), units: 3, status: 502);

        // Act
        export.Write([e, e with { Path = "/second" }]);
        var lines = File.ReadAllLines(path);

        // Assert
        Assert.Equal(2, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("2026-05-10T08:30:15.123+00:00", first.GetProperty("timestamp").GetString());
        Assert.Equal("usr_1", first.GetProperty("user_id").GetString());
        Assert.Equal("key_1", first.GetProperty("key_id").GetString());
        Assert.Equal("rte_1", first.GetProperty("route_id").GetString());
        Assert.Equal("ups_1", first.GetProperty("upstream_id").GetString());
        Assert.Equal("GET", first.GetProperty("method").GetString());
        Assert.Equal("/items", first.GetProperty("path").GetString());
        Assert.Equal(502, first.GetProperty("status").GetInt32());
        Assert.Equal(12.5, first.GetProperty("latency_ms").GetDouble());
        Assert.Equal(100, first.GetProperty("request_bytes").GetInt64());
        Assert.Equal(2048, first.GetProperty("response_bytes").GetInt64());
        Assert.Equal(3, first.GetProperty("units").GetInt64());
        Assert.Equal("127.0.0.1", first.GetProperty("client_ip").GetString());
        Assert.Equal(e.RequestId, first.GetProperty("request_id").GetString());
        Assert.Equal("/second", JsonDocument.Parse(lines[1]).RootElement.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Write_TimeFinerThanAMicrosecond_TheStoredEventsTime()
    {
        // Arrange: a timestamp with 100 ns ticks, which the store keeps to the microsecond; the line said
        // "…15.1234567+00:00" and the stored event (usage recent, the admin API) "…15.123456+00:00": a consumer joining
        // the export with the store by request id and time found no match
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 1024 * 1024);
        var at = new DateTimeOffset(2026, 5, 10, 8, 30, 15, TimeSpan.Zero).AddTicks(1_234_567);
        var e = Storage.UsageStoreTests.Event("usr_1", at, units: 1, status: 200);
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Path.Combine(_directory, "store.db"), new ApiGate.Storage.Secrets.SecretProtector(null));
        await store.InitializeAsync(CancellationToken.None);
        await store.AddUsageEventsAsync([e], CancellationToken.None);

        // Act
        export.Write([e]);

        // Assert
        var line = JsonDocument.Parse(File.ReadAllLines(path).Single()).RootElement.GetProperty("timestamp").GetString();
        Assert.Equal("2026-05-10T08:30:15.123456+00:00", line);
        var stored = Assert.Single(await store.GetRecentUsageAsync("usr_1", 10, CancellationToken.None)).Timestamp;
        Assert.Equal(stored, DateTimeOffset.Parse(line!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Write_PastMaxBytes_RotatesAndKeepsFiveOldFiles()
    {
        // Arrange: each batch is one ~330-byte line; the limit holds two
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 700);
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero));

        // Act
        for (var i = 0; i < 20; i++)
        {
            export.Write([e with { Path = "/" + i }]);
        }

        // Assert: 20 lines, 2 per file: the current file has 18-19, .1 has 16-17, ... .5 has 8-9; older ones are gone
        Assert.Equal(["/18", "/19"], Paths(path));
        Assert.Equal(["/16", "/17"], Paths(path + ".1"));
        Assert.Equal(["/8", "/9"], Paths(path + ".5"));
        Assert.False(File.Exists(path + ".6"));
        Assert.All(Directory.GetFiles(_directory), f => Assert.True(new FileInfo(f).Length <= 700));
    }

    [Fact]
    public void Write_CurrentFileRemovedBySomeoneElse_NewFileStartedAndNoArchiveLost()
    {
        // Arrange: three rotations made (.1 to .3), then a log shipper removes the current file
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 700);
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero));
        for (var i = 0; i < 8; i++)
        {
            export.Write([e with { Path = "/" + i }]);
        }

        File.Delete(path);

        // Act: six more batches, enough for more rotations
        for (var i = 8; i < 14; i++)
        {
            export.Write([e with { Path = "/" + i }]);
        }

        // Assert: the new lines went to a new file under the name and rotated on from there; the archives made before
        // the removal only moved up, none was deleted
        Assert.Equal(["/12", "/13"], Paths(path));
        Assert.Equal(["/10", "/11"], Paths(path + ".1"));
        Assert.Equal(["/8", "/9"], Paths(path + ".2"));
        Assert.Equal(["/4", "/5"], Paths(path + ".3"));
        Assert.Equal(["/2", "/3"], Paths(path + ".4"));
        Assert.Equal(["/0", "/1"], Paths(path + ".5"));
    }

    [Fact]
    public void Write_CurrentFileMovedAwayAndAnEmptyOneCreatedAtItsName_NewLinesGoToTheNewFile()
    {
        // Arrange: logrotate's default without copytruncate ("create"): the file is renamed and an empty one is made
        // under its name at once, before the next batch
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 1024 * 1024);
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero));
        export.Write([e with { Path = "/before" }]);
        File.Move(path, path + "-20260510");
        File.WriteAllBytes(path, []);

        // Act
        export.Write([e with { Path = "/after-1" }]);
        export.Write([e with { Path = "/after-2" }]);

        // Assert: the rotated file holds only what was written before; the new file gets every line since
        Assert.Equal(["/before"], Paths(path + "-20260510"));
        Assert.Equal(["/after-1", "/after-2"], Paths(path));
    }

    [Fact]
    public void Write_CurrentFileEmptiedInPlaceBySomeoneElse_NextLineStartsTheFile()
    {
        // Arrange: far from the size limit; logrotate's copytruncate copies the file and empties it in place
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 1024 * 1024);
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero));
        export.Write([e with { Path = "/1" }, e with { Path = "/2" }, e with { Path = "/3" }]);
        File.WriteAllBytes(path, []);

        // Act
        export.Write([e with { Path = "/after" }]);

        // Assert: the line at the start of the file, not after a run of NUL bytes as long as the old lines were
        Assert.DoesNotContain((byte)0, File.ReadAllBytes(path));
        Assert.Equal(["/after"], Paths(path));
    }

    [Fact]
    public void Write_CurrentFileEmptiedInPlaceBySomeoneElse_NextLinesFromItsStartAndNotRotatedEarly()
    {
        // Arrange: two ~330-byte lines of a 700-byte limit, and older archives; then logrotate's copytruncate empties the
        // file in place (its copy is logrotate's own)
        var path = Path.Combine(_directory, "usage.jsonl");
        using var export = new UsageExport(path, 700);
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero));
        for (var i = 0; i < 12; i++)
        {
            export.Write([e with { Path = "/" + i }]);
        }

        File.WriteAllBytes(path, []);

        // Act
        export.Write([e with { Path = "/after-1" }]);
        export.Write([e with { Path = "/after-2" }]);

        // Assert: the emptied file takes both lines from its start (no run of NUL bytes where the old lines were) before
        // it is rotated; no empty archive, no archive deleted for one
        Assert.DoesNotContain((byte)0, File.ReadAllBytes(path));
        Assert.Equal(["/after-1", "/after-2"], Paths(path));
        Assert.Equal(["/8", "/9"], Paths(path + ".1"));
        Assert.Equal(["/0", "/1"], Paths(path + ".5"));
    }

    [Fact]
    public void Write_DiskFullHalfwayThroughABatch_NoPartLineLeft_NextBatchWrittenWhole()
    {
        // Arrange: a file stream that writes half of a batch and then fails as a full disk does
        var path = Path.Combine(_directory, "usage.jsonl");
        FailingHalfway? stream = null;
        using var export = new UsageExport(path, 1024 * 1024, p => stream = new FailingHalfway(new FileStream(p, FileMode.Append, FileAccess.Write, FileShare.Read, 1)));
        var e = Storage.UsageStoreTests.Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero));
        export.Write([e with { Path = "/before" }]);

        // Act
        stream!.Fail = true;
        var full = Record.Exception(() => export.Write([e with { Path = "/lost-1" }, e with { Path = "/lost-2" }]));
        stream.Fail = false;
        export.Write([e with { Path = "/after" }]);

        // Assert: the failure is reported; the file holds whole lines only, the failed batch not at all
        Assert.IsType<IOException>(full);
        Assert.Contains("No space left on device", full.Message, StringComparison.Ordinal);
        Assert.Equal(["/before", "/after"], Paths(path));
    }

    /// <summary>A file stream whose writes, once <see cref="Fail"/> is set, put half of their bytes in the file and then throw.</summary>
    private sealed class FailingHalfway(FileStream inner) : Stream
    {
        public bool Fail { get; set; }

        public override bool CanRead => false;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Fail)
            {
                inner.Write(buffer[..(buffer.Length / 2)]);
                throw new IOException("No space left on device");
            }

            inner.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() => inner.Flush();
        public override void SetLength(long value) => inner.SetLength(value);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        protected override void Dispose(bool disposing)
        {
            inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private static string[] Paths(string file) =>
        [.. File.ReadAllLines(file).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("path").GetString()!)];
}
