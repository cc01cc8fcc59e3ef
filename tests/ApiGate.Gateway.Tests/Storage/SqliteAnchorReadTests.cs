using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The reads background loops repeat at rest — the versions the config poll reads four times a second, the deliveries
/// the webhook outbox could lease, asked once a second — come, on SQLite, from the connection the store keeps open with
/// each query prepared once (docs/performance.md, "A gateway at rest, a third time"). They must see every commit made elsewhere (the
/// CLI, another instance: another connection), and a failure must be reported as the ordinary read reports it, after
/// which the next read works again.
/// </summary>
public sealed class SqliteAnchorReadTests : IAsyncLifetime
{
    private TempStore _temp = null!;

    public async Task InitializeAsync() => _temp = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _temp.DisposeAsync();

    private async Task ExecuteElsewhereAsync(string sql)
    {
        await using var other = new SqliteConnection($"Data Source={_temp.DatabasePath};Pooling=False");
        await other.OpenAsync();
        await using var command = other.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Versions_CommittedThroughAnotherConnection_SeenAtEachNextRead()
    {
        // Arrange: one read first, so the statement is prepared and the connection kept
        var first = await _temp.Store.GetVersionsAsync(CancellationToken.None);
        var anchorReads = _temp.Store.AnchorReads;

        // Act + Assert: each change another process commits is in the very next read
        for (var i = 1; i <= 3; i++)
        {
            await ExecuteElsewhereAsync("UPDATE config_version SET version = version + 1 WHERE id = 1");
            await ExecuteElsewhereAsync("UPDATE identity_version SET version = version + 2 WHERE id = 1");
            await ExecuteElsewhereAsync("UPDATE config_content SET token = token + 3 WHERE id = 1");
            var read = await _temp.Store.GetVersionsAsync(CancellationToken.None);
            Assert.Equal(new StoreVersions(first.Config + i, first.Identity + 2 * i, first.ContentToken + 3 * i), read);
        }

        // ... and each came through the kept connection, not the ordinary read that would answer the same
        Assert.Equal(anchorReads + 3, _temp.Store.AnchorReads);
    }

    [Fact]
    public async Task Versions_ReadBesideWritesFromManyThreads_NeverOlderThanACommitThatCameBefore()
    {
        // Arrange
        var start = (await _temp.Store.GetVersionsAsync(CancellationToken.None)).Config;

        // Act: readers on the pool (one at a time gets the kept connection, the others read as any query) while commits land
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var last = start;
            var reads = 0;
            while (!stop.IsCancellationRequested && reads < 2000)
            {
                var seen = (await _temp.Store.GetVersionsAsync(CancellationToken.None)).Config;
                Assert.True(seen >= last, $"read {seen} after {last}");
                last = seen;
                reads++;
            }
        })).ToList();
        for (var i = 0; i < 20; i++)
        {
            await ExecuteElsewhereAsync("UPDATE config_version SET version = version + 1 WHERE id = 1");
            Assert.True((await _temp.Store.GetVersionsAsync(CancellationToken.None)).Config >= start + i + 1);
        }

        stop.Cancel();
        await Task.WhenAll(readers);

        // Assert
        Assert.Equal(start + 20, (await _temp.Store.GetVersionsAsync(CancellationToken.None)).Config);
    }

    [Fact]
    public async Task Versions_TableGoneThenBack_FailsAsAnyReadThenReadsAgain()
    {
        // Arrange
        var before = await _temp.Store.GetVersionsAsync(CancellationToken.None);
        await ExecuteElsewhereAsync("ALTER TABLE config_version RENAME TO config_version_away");

        // Act
        var anchorReads = _temp.Store.AnchorReads;
        var failure = await Record.ExceptionAsync(() => _temp.Store.GetVersionsAsync(CancellationToken.None));
        var anchorReadsWhileGone = _temp.Store.AnchorReads;
        await ExecuteElsewhereAsync("ALTER TABLE config_version_away RENAME TO config_version");
        await ExecuteElsewhereAsync("UPDATE config_version SET version = version + 1 WHERE id = 1");
        var after = await _temp.Store.GetVersionsAsync(CancellationToken.None);

        // Assert: the engine's own words about the missing table (from the ordinary read, as a failed task), then the
        // current versions again, through the kept connection once more
        var sqlite = Assert.IsType<SqliteException>(failure);
        Assert.Contains("no such table: config_version", sqlite.Message, StringComparison.Ordinal);
        Assert.Equal(anchorReads, anchorReadsWhileGone);
        Assert.Equal(before.Config + 1, after.Config);
        Assert.Equal(anchorReads + 1, _temp.Store.AnchorReads);
    }

    [Fact]
    public async Task Versions_FileDeletedUnderTheStore_NotReadFromTheDeletedFile_FailsAsAFreshConnectionDoes()
    {
        // Arrange: the kept connection has answered; then the file goes (the kept connection could still read it)
        await _temp.Store.GetVersionsAsync(CancellationToken.None);
        var anchorReads = _temp.Store.AnchorReads;
        File.Delete(_temp.DatabasePath);
        SqliteConnection.ClearAllPools();

        // Act
        var failure = await Record.ExceptionAsync(() => _temp.Store.GetVersionsAsync(CancellationToken.None));

        // Assert: the ordinary read's answer for a store that is gone, as before there was a kept connection
        var unavailable = Assert.IsType<StoreUnavailableException>(failure);
        Assert.Contains($"cannot open the store at {_temp.DatabasePath}", unavailable.Message, StringComparison.Ordinal);
        Assert.Equal(anchorReads, _temp.Store.AnchorReads);
    }

    [Fact]
    public async Task DueDeliveries_QueuedThroughAnotherStoreOnTheFile_LeasedAtTheNextClaimAfterAnEmptyOne()
    {
        // Arrange: another instance on the same file; this one has asked once and found nothing
        var now = DateTimeOffset.UtcNow;
        await using var other = new SqliteGatewayStore(_temp.DatabasePath, new SecretProtector(null));
        await other.InitializeAsync(CancellationToken.None);
        Assert.Empty(await _temp.Store.ClaimWebhookDeliveriesAsync("here", now, now.AddMinutes(1), 16, CancellationToken.None));
        var endpoint = (await new ApiGate.Core.Management.WebhookService(other, TimeProvider.System).CreateAsync(
            new ApiGate.Core.Management.WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["user.created"] }, CancellationToken.None)).Value!.Endpoint;

        // Act: the other instance records an event; this one asks again
        var anchorReads = _temp.Store.AnchorReads;
        await other.AddWebhookEventAsync(WebhookPayloads.Test("evt", now) with { Type = WebhookEventTypes.UserCreated }, null, CancellationToken.None);
        var claimed = await _temp.Store.ClaimWebhookDeliveriesAsync("here", now.AddSeconds(1), now.AddMinutes(1), 16, CancellationToken.None);

        // Assert
        Assert.Equal(endpoint.Id, Assert.Single(claimed).EndpointId);
        Assert.Empty(await _temp.Store.ClaimWebhookDeliveriesAsync("here", now.AddSeconds(2), now.AddMinutes(1), 16, CancellationToken.None));
        Assert.Equal(anchorReads + 2, _temp.Store.AnchorReads); // both looks through the kept connection
    }
}
