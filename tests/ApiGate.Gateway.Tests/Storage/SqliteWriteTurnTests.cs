using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Every write of one SQLite store — transactions and the single statements (an audit row, a session's or admin
/// token's last use, an attempt counter, a used reset link) — takes the process's write turn, so a burst of them does
/// not wait in SQLite's busy handler and fail as <c>store_busy</c> after the busy timeout.
/// </summary>
public sealed class SqliteWriteTurnTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("apigate-turn-").FullName;
    private SqliteGatewayStore _store = null!;

    public async Task InitializeAsync()
    {
        // The shortest busy timeout the store takes: a write that waited in SQLite's handler behind the burst would fail.
        _store = new SqliteGatewayStore(Path.Combine(_dir, "turn.db"), new SecretProtector(null), TimeSpan.FromSeconds(1));
        await _store.InitializeAsync(None);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task BurstOfSingleStatementAndTransactionWrites_NoneBusy_EveryOneStored()
    {
        // Arrange
        const int Rounds = 150;
        await _store.CreateWebSessionAsync(new WebSession("S", WebSessionKind.Admin, "adt_1", "", T0, T0), 20, None);

        // Act: five kinds of write at once, Rounds of each, from the thread pool.
        var writes = new List<Task>();
        for (var n = 0; n < Rounds; n++)
        {
            var i = n;
            writes.Add(Task.Run(() => _store.AddAdminAuditAsync(new AdminAuditRecord(0, T0.AddSeconds(i), "POST", $"/upstreams/u{i}", 201, "adt_1", "ops", "127.0.0.1", ""), None)));
            writes.Add(Task.Run(() => _store.TouchWebSessionAsync("S", T0.AddSeconds(i + 1), None)));
            writes.Add(Task.Run(() => _store.AddAttemptAsync($"login:{i % 7}", T0, TimeSpan.FromMinutes(15), None)));
            writes.Add(Task.Run(() => _store.RefundAttemptAsync($"login:{i % 7}", None)));
            writes.Add(Task.Run(() => _store.CreateUpstreamAsync(Upstream(i), None)));
        }

        var outcome = await Task.WhenAll(writes.Select(async w =>
        {
            try
            {
                await w;
                return null;
            }
            catch (StoreBusyException ex)
            {
                return ex.Message;
            }
        }));

        // Assert
        Assert.All(outcome, Assert.Null);
        Assert.Equal(Rounds, (await _store.ListAdminAuditAsync(1000, None)).Count);
        Assert.Equal(Rounds, (await _store.ListUpstreamsAsync(None)).Count);
        Assert.Equal(T0.AddSeconds(Rounds), (await _store.FindWebSessionAsync("S", None))!.LastSeenAt);
    }

    private static UpstreamDefinition Upstream(int n) => new()
    {
        Id = $"ups_turn{n}",
        Name = $"turn{n}",
        Slug = $"turn{n}",
        BaseUrl = "http://127.0.0.1:1",
        CreatedAt = T0,
        UpdatedAt = T0,
    };
}
