using System.Diagnostics;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Storage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// A SQLite store on a disk that fills up while the gateway serves (a real, small tmpfs): usage batches are held and
/// retried (busy, as for a read-only file), not dropped after three attempts, readiness says <c>full</c> (degraded),
/// and both heal by themselves once space is freed.
/// </summary>
public sealed class DiskFullStoreTests
{
    [DiskFullFact]
    public async Task AddUsageEventsAsync_DiskFull_IsBusyAndDegradedUntilSpaceIsFreed()
    {
        // Arrange
        // 4 MiB: the schema and this batch take about 1 MiB once written (WAL), so freeing the filler leaves ample room;
        // on a 1 MiB tmpfs the written batch fitted with 30 KiB to spare and a CI run once found no room after freeing.
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", "full-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", directory);
        try
        {
            var store = new SqliteGatewayStore(Path.Combine(directory, "apigate.db"), new SecretProtector(null));
            await using (store)
            {
                await store.InitializeAsync(CancellationToken.None);
                var filler = Path.Combine(directory, "filler");
                Fill(filler);
                var start = new DateTimeOffset(2026, 5, 10, 8, 0, 0, TimeSpan.Zero);
                var batch = Enumerable.Range(0, 500)
                    .Select(i => UsageStoreTests.Event("usr_1", start.AddSeconds(i), path: "/items/" + new string('x', 400) + i))
                    .ToArray();

                // Act
                var full = await Assert.ThrowsAsync<StoreBusyException>(() => store.AddUsageEventsAsync(batch, RawUsageEvents.All, CancellationToken.None));
                var whileFull = await store.CheckAsync(CancellationToken.None);
                File.Delete(filler);
                await WriteOnceSpaceIsBackAsync(store, batch);
                var afterwards = await store.CheckAsync(CancellationToken.None);

                // Assert
                Assert.Contains("is full", full.Message, StringComparison.Ordinal);
                Assert.Equal(StoreCheck.Full, whileFull.State);
                Assert.Contains(directory, whileFull.Reason, StringComparison.Ordinal);
                Assert.True(afterwards.IsOk, afterwards.Reason);
                Assert.Equal(500, (await store.GetRecentUsageAsync("usr_1", 1000, CancellationToken.None)).Count);
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Assert.Empty(OpenFilesUnder(directory));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await UnmountAsync(directory);
            Directory.Delete(directory);
        }
    }

    /// <summary>
    /// Writes <paramref name="batch"/> as the gateway's writer does, again while the store says the disk is full: a
    /// process another test starts at the moment the filler was open holds a copy of its descriptor between its fork and
    /// exec, so the deleted file's space may come back a moment later (up to five seconds allowed). A failed attempt
    /// writes nothing (one transaction), which the test's count checks.
    /// </summary>
    private static async Task WriteOnceSpaceIsBackAsync(SqliteGatewayStore store, UsageEvent[] batch)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await store.AddUsageEventsAsync(batch, RawUsageEvents.All, CancellationToken.None);
                return;
            }
            catch (StoreBusyException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>The files under <paramref name="directory"/> this process still has open (a store that leaked one).</summary>
    private static string[] OpenFilesUnder(string directory) =>
        new DirectoryInfo("/proc/self/fd").GetFileSystemInfos()
            .Select(descriptor => descriptor.LinkTarget)
            .OfType<string>()
            .Where(target => target.StartsWith(directory + "/", StringComparison.Ordinal))
            .ToArray();

    /// <summary>Writes zeros to <paramref name="path"/> until the file system has no space left.</summary>
    private static void Fill(string path)
    {
        using var file = new FileStream(path, FileMode.CreateNew);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                file.Write(block);
                file.Flush();
            }
        }
        catch (IOException)
        {
            // no space left
        }
    }

    /// <summary>
    /// Unmounts <paramref name="directory"/>. A process another test starts at that moment holds copies of this
    /// process's descriptors between its fork and exec, which makes the file system briefly busy: tried again for up to
    /// five seconds, then detached lazily (freed once the last descriptor closes) so the test's own outcome stands.
    /// </summary>
    private static async Task UnmountAsync(string directory)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (await TryRunAsync("umount", directory) is null)
            {
                return;
            }

            await Task.Delay(100);
        }

        await RunAsync("umount", "--lazy", directory);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var error = await TryRunAsync(file, args);
        Assert.True(error is null, $"{file} {string.Join(' ', args)}: {error}");
    }

    /// <summary>Runs <paramref name="file"/>; null when it exits 0, otherwise what it wrote to standard error.</summary>
    private static async Task<string?> TryRunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? null : error;
    }
}

/// <summary>A <c>[Fact]</c> that needs to mount a small tmpfs (root): skipped with one line when it cannot.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class DiskFullFactAttribute : FactAttribute
{
    public DiskFullFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            Skip = "needs root on Linux to mount a small tmpfs that fills up";
        }
    }
}
