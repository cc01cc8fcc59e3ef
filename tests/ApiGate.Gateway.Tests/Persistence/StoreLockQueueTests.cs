using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// Writes of one process queue for SQLite's lock in turn; while another process holds the lock, the busy timeout
/// bounds the wait of every queued write, not of each in turn: only the write at the head of the queue waits it out,
/// and those queued behind it give up with it instead of waiting the timeout again one after another (three admin
/// changes at once were answered after 2, 4 and 6 s).
/// </summary>
public sealed class StoreLockQueueTests : IAsyncLifetime
{
    private const int Writes = 3;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));

    private SqlGatewayStore _store = null!;

    private string Path_ => Path.Combine(_directory, "apigate.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _store = GatewayStores.Create(GatewayStores.Sqlite, Path_, new SecretProtector(null), TimeSpan.FromSeconds(1));
        await _store.InitializeAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task QueuedWrites_AnotherProcessHoldsTheLock_OnlyTheFirstWaitsTheBusyTimeout()
    {
        // Arrange: another connection takes the write lock and keeps it until every write has answered.
        await using var holder = await SqliteWriteLock.HoldAsync(Path_);

        // Act
        var writes = Enumerable.Range(0, Writes)
            .Select(n => Task.Run(() => _store.CreateUpstreamAsync(Upstream($"u{n}"), CancellationToken.None)))
            .ToList();
        var outcomes = new List<Exception>();
        foreach (var write in writes)
        {
            outcomes.Add(await Assert.ThrowsAsync<StoreBusyException>(() => write));
        }

        // Assert: one waited the timeout; the two behind it gave up with it, naming the store and why.
        var messages = outcomes.Select(e => e.Message).ToList();
        Assert.Equal(1, messages.Count(m => m.Contains("gave up after waiting 1 s for it (", StringComparison.Ordinal)));
        Assert.Equal(Writes - 1, messages.Count(m => m.Contains(
            $"the store at {Path_} (APIGATE_DATABASE_DSN / --database) is locked by another connection or process: a write queued ahead of this one gave up after waiting 1 s for it",
            StringComparison.Ordinal)));
        Assert.Empty(await _store.ListUpstreamsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Write_AfterTheLockIsReleased_WaitsItsOwnTurnAndIsStored()
    {
        // Arrange: a write gives up on a lock held by another connection, which then lets go.
        await using (var holder = await SqliteWriteLock.HoldAsync(Path_))
        {
            await Assert.ThrowsAsync<StoreBusyException>(() => _store.CreateUpstreamAsync(Upstream("early"), CancellationToken.None));
        }

        // Act: a write that was not queued behind the one that gave up
        await _store.CreateUpstreamAsync(Upstream("late"), CancellationToken.None);

        // Assert
        Assert.Equal(["late"], (await _store.ListUpstreamsAsync(CancellationToken.None)).Select(u => u.Name));
    }

    private static UpstreamDefinition Upstream(string name) => new()
    {
        Id = $"up_{name}",
        Name = name,
        Slug = name,
        BaseUrl = "http://127.0.0.1:1",
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };
}
