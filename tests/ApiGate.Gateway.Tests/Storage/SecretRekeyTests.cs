using ApiGate.Core.Management;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using Dapper;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// <c>apigate store rekey</c> on either engine: every kind of stored secret (upstream credentials, webhook signing
/// secrets, the forms key) moves to the current <c>APIGATE_SECRET_KEY</c>, all of it or nothing, and no secret or key
/// is ever printed.
/// </summary>
public sealed class SecretRekeyTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string OldKey = "old-key-4c1e9a";
    private const string NewKey = "new-key-8d27f0";
    private const string Credential = "upstream-cred-5b3d";
    private const string FormsKey = "<key id=\"forms\">forms-key-material-77a1</key>";
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Rekey_SecretsUnderThePreviousKey_EveryKindReadsWithTheNewKeyAloneAndASecondRunChangesNothing(string engine)
    {
        // Arrange: one secret of each kind written with the old key
        var store = await engines.CreateAsync(engine);
        var webhookSecret = await WriteSecretsAsync(store, OldKey);
        var version = await store.Store.GetConfigVersionAsync(None);

        // Act
        var rekey = await CliAsync(store, NewKey, OldKey, "store", "rekey");
        var afterFirst = await RawSecretsAsync(store);
        var again = await CliAsync(store, NewKey, OldKey, "store", "rekey", "--json");

        // Assert: readable with the new key alone; the second run found everything current and wrote nothing
        Assert.Equal(0, rekey.ExitCode);
        Assert.Contains("upstream credentials     upstreams          1             0          0", rekey.Output, StringComparison.Ordinal);
        Assert.Contains("webhook signing secrets  webhook_endpoints  1             0          0", rekey.Output, StringComparison.Ordinal);
        Assert.Contains("forms key                web_keys           1             0          0", rekey.Output, StringComparison.Ordinal);
        Assert.Contains("3 re-encrypted (from the previous key), 0 encrypted (were plaintext), 0 already under the current key", rekey.Output, StringComparison.Ordinal);
        await AssertReadableWithAsync(store, NewKey, webhookSecret);
        Assert.Equal(0, again.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(again.Output);
        Assert.Equal((0, 0, 3), (json.RootElement.GetProperty("reencrypted").GetInt32(), json.RootElement.GetProperty("encrypted").GetInt32(), json.RootElement.GetProperty("current").GetInt32()));
        Assert.Equal(afterFirst, await RawSecretsAsync(store));
        Assert.Equal(version, await store.Store.GetConfigVersionAsync(None)); // the secrets did not change: nothing to reload
        AssertNoSecretIn(rekey, webhookSecret);
        AssertNoSecretIn(again, webhookSecret);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Rekey_SecretsUnderThePreviousKey_OnlyTheCiphertextChanges_NoVersionTokenUpdatedAtAuditOrWebhookEventMoves(string engine)
    {
        // Arrange: one secret of each kind under the old key, and everything a change by an operator would move
        var store = await engines.CreateAsync(engine);
        var webhookSecret = await WriteSecretsAsync(store, OldKey);
        var versions = await store.Store.GetVersionsAsync(None);
        var rows = await RowsBesideTheSecretsAsync(store);
        var secrets = await RawSecretsAsync(store);
        var records = await ChangeRecordsAsync(store);

        // Act
        var rekey = await CliAsync(store, NewKey, OldKey, "store", "rekey");

        // Assert: the ciphertext moved, and nothing else did: the config version and the content token (the content
        // triggers on upstreams fired, but the decrypted config is what it was, so running gateways have nothing to
        // reload), the identity version, every other column (updated_at included), the audit log and the webhook outbox
        Assert.Equal(0, rekey.ExitCode);
        Assert.All((await RawSecretsAsync(store)).Zip(secrets), pair => Assert.NotEqual(pair.Second, pair.First));
        Assert.Equal(versions, await store.Store.GetVersionsAsync(None));
        Assert.Equal(rows, await RowsBesideTheSecretsAsync(store));
        Assert.Equal(records, await ChangeRecordsAsync(store));
        Assert.Equal((0, 0), (records.Audit, records.WebhookEvents));
        await AssertReadableWithAsync(store, NewKey, webhookSecret);

        // The triggers are there: a real change to an upstream moves the token
        await using (var keyed = await OpenAsync(store, NewKey))
        {
            var upstream = (await keyed.ListUpstreamsAsync(None)).Single(u => u.Slug == "open");
            await keyed.UpdateUpstreamAsync(upstream with { Description = "changed" }, upstream.UpdatedAt, None);
        }

        Assert.NotEqual(versions.ContentToken, (await store.Store.GetVersionsAsync(None)).ContentToken);
    }

    [PostgresFact]
    public async Task Rekey_ConfigChangeCommittingWhileItWaits_TheTokenThatChangeDrewIsKept()
    {
        // Arrange: a plan change under way (its content trigger holds the token's row, not yet committed)
        var store = await engines.CreateAsync(GatewayStores.Postgres);
        var webhookSecret = await WriteSecretsAsync(store, OldKey);
        var before = (await store.Store.GetVersionsAsync(None)).ContentToken;
        await using var writer = (Npgsql.NpgsqlConnection)await store.OpenRawAsync();
        await using var writing = await writer.BeginTransactionAsync();
        await writer.ExecuteAsync("UPDATE plans SET description = 'changed meanwhile' WHERE id = 'free'", transaction: writing);
        await using var observer = await store.OpenRawAsync();

        // Act: the rekey starts while the change is under way; the change commits once the rekey waits for it
        var rekeying = CliAsync(store, NewKey, OldKey, "store", "rekey");
        for (var i = 0; i < 3000 && !rekeying.IsCompleted && await observer.ExecuteScalarAsync<long>(
                 "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0; i++)
        {
            await Task.Delay(10);
        }

        await writing.CommitAsync();
        var changed = await observer.ExecuteScalarAsync<long>("SELECT token FROM config_content WHERE id = 1");
        var rekey = await rekeying;

        // Assert: the rewrite went through and left the token of the change before it, not the one it read at its start
        Assert.Equal(0, rekey.ExitCode);
        Assert.NotEqual(before, changed);
        Assert.Equal(changed, (await store.Store.GetVersionsAsync(None)).ContentToken);
        await AssertReadableWithAsync(store, NewKey, webhookSecret);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Rekey_AValueUnderAnUnknownKey_AbortsNamingTableAndRowAndChangesNothing(string engine)
    {
        // Arrange: the upstream credential under the old key (rewritten first), the webhook secret under a key neither
        // setting names
        var store = await engines.CreateAsync(engine);
        var webhook = await WriteSecretUnderAnUnknownKeyAsync(store);
        var before = await RawSecretsAsync(store);

        // Act
        var rekey = await CliAsync(store, NewKey, OldKey, "store", "rekey");

        // Assert
        Assert.Equal(1, rekey.ExitCode);
        Assert.Contains($"error: webhook_endpoints row {webhook.Endpoint.Id} (secret): ", rekey.Error, StringComparison.Ordinal);
        Assert.Contains("neither APIGATE_SECRET_KEY nor APIGATE_SECRET_KEY_PREVIOUS", rekey.Error, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", rekey.Error, StringComparison.Ordinal);
        Assert.Equal("", rekey.Output);
        Assert.Equal(before, await RawSecretsAsync(store));
        AssertNoSecretIn(rekey, webhook.Secret);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RekeyDryRun_SecretsUnderThePreviousKey_CountsWhatARekeyWouldDoAndWritesNothing(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);
        var webhookSecret = await WriteSecretsAsync(store, OldKey);
        var before = await RawSecretsAsync(store);

        // Act
        var dryRun = await CliAsync(store, NewKey, OldKey, "store", "rekey", "--dry-run");
        var json = await CliAsync(store, NewKey, OldKey, "store", "rekey", "--dry-run", "--json");

        // Assert: the counts of a real rekey, and every stored value as it was (still only the old key reads them)
        Assert.Equal(0, dryRun.ExitCode);
        Assert.Contains("KIND                     TABLE              TO RE-ENCRYPT  TO ENCRYPT  CURRENT", dryRun.Output, StringComparison.Ordinal);
        Assert.Contains("upstream credentials     upstreams          1              0           0", dryRun.Output, StringComparison.Ordinal);
        Assert.Contains("dry run, nothing written: 3 to re-encrypt (from the previous key), 0 to encrypt (are plaintext), 0 already under the current key",
            dryRun.Output, StringComparison.Ordinal);
        Assert.Equal(0, json.ExitCode);
        using (var document = System.Text.Json.JsonDocument.Parse(json.Output))
        {
            var root = document.RootElement;
            Assert.True(root.GetProperty("dry_run").GetBoolean());
            Assert.Equal((3, 0, 0), (root.GetProperty("reencrypted").GetInt32(), root.GetProperty("encrypted").GetInt32(), root.GetProperty("current").GetInt32()));
        }

        Assert.Equal(before, await RawSecretsAsync(store));
        await AssertReadableWithAsync(store, OldKey, webhookSecret);
        AssertNoSecretIn(dryRun, webhookSecret);
        AssertNoSecretIn(json, webhookSecret);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RekeyDryRun_AValueUnderAnUnknownKey_FailsNamingTableAndRow(string engine)
    {
        // Arrange: the upstream credential under the old key, the webhook secret under a key neither setting names
        var store = await engines.CreateAsync(engine);
        var webhook = await WriteSecretUnderAnUnknownKeyAsync(store);
        var before = await RawSecretsAsync(store);

        // Act
        var dryRun = await CliAsync(store, NewKey, OldKey, "store", "rekey", "--dry-run");

        // Assert: the error a rekey would stop with, found without writing
        Assert.Equal(1, dryRun.ExitCode);
        Assert.Contains($"error: webhook_endpoints row {webhook.Endpoint.Id} (secret): ", dryRun.Error, StringComparison.Ordinal);
        Assert.Contains("neither APIGATE_SECRET_KEY nor APIGATE_SECRET_KEY_PREVIOUS", dryRun.Error, StringComparison.Ordinal);
        Assert.Equal("", dryRun.Output);
        Assert.Equal(before, await RawSecretsAsync(store));
        AssertNoSecretIn(dryRun, webhook.Secret);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Rekey_StoreWrittenWithoutAKey_EncryptsEverySecret(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);
        var webhookSecret = await WriteSecretsAsync(store, key: null);

        // Act
        var rekey = await CliAsync(store, NewKey, null, "store", "rekey");

        // Assert
        Assert.Equal(0, rekey.ExitCode);
        Assert.Contains("0 re-encrypted (from the previous key), 3 encrypted (were plaintext), 0 already under the current key", rekey.Output, StringComparison.Ordinal);
        Assert.All(await RawSecretsAsync(store), raw => Assert.StartsWith("enc:v1:", raw, StringComparison.Ordinal));
        await AssertReadableWithAsync(store, NewKey, webhookSecret);
        AssertNoSecretIn(rekey, webhookSecret);
    }

    [Fact]
    public async Task Rekey_WithoutSecretKey_RefusedNamingTheSettingAndNothingChanged()
    {
        // Arrange
        var store = await engines.CreateAsync(GatewayStores.Sqlite);
        await WriteSecretsAsync(store, key: null);
        var before = await RawSecretsAsync(store);

        // Act
        var rekey = await CliAsync(store, null, null, "store", "rekey");

        // Assert
        Assert.Equal(2, rekey.ExitCode);
        Assert.Contains("error: secret_key (APIGATE_SECRET_KEY) is not set", rekey.Error, StringComparison.Ordinal);
        Assert.Equal(before, await RawSecretsAsync(store));
    }

    [Fact]
    public async Task Rekey_PreviousKeyWithoutCurrentKey_RefusedAsInvalidConfiguration()
    {
        // Arrange
        var store = await engines.CreateAsync(GatewayStores.Sqlite);

        // Act
        var rekey = await CliAsync(store, null, OldKey, "store", "rekey");

        // Assert
        Assert.Equal(2, rekey.ExitCode);
        Assert.Contains("secret_key_previous (from APIGATE_SECRET_KEY_PREVIOUS): is set but secret_key (APIGATE_SECRET_KEY) is not", rekey.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(OldKey, rekey.Error, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Rekey_StoreOfAnOlderSchema_RefusedAndNotChanged(string engine)
    {
        // Arrange: a store an older apigate created, with a secret under the old key
        var store = await engines.CreateAsync(engine);
        await WriteSecretsAsync(store, OldKey, webhook: false);
        var latest = store.Store.SchemaVersion;
        await using (var connection = await store.OpenRawAsync())
        {
            await connection.ExecuteAsync("DELETE FROM schema_migrations WHERE version = @Latest", new { Latest = latest });
        }

        var before = await RawSecretsAsync(store);

        // Act
        var rekey = await CliAsync(store, NewKey, OldKey, "store", "rekey");

        // Assert
        Assert.Equal(1, rekey.ExitCode);
        Assert.Contains($"is at schema version {latest - 1}, older than this apigate ({latest}); it was not changed", rekey.Error, StringComparison.Ordinal);
        Assert.Equal(before, await RawSecretsAsync(store));
    }

    [Fact]
    public void Unprotect_ValueUnderThePreviousKey_ReadsAndProtectUsesTheCurrentKey()
    {
        // Arrange
        var old = new SecretProtector(OldKey);
        var rotating = new SecretProtector(NewKey, OldKey);
        var stored = old.Protect(Credential);

        // Act
        var read = rotating.Unprotect(stored);
        var written = rotating.Protect(Credential);

        // Assert
        Assert.Equal(Credential, read);
        Assert.Equal(Credential, new SecretProtector(NewKey).Unprotect(written));
        Assert.Throws<SecretUnreadableException>(() => old.Unprotect(written));
    }

    /// <summary>
    /// Writes one upstream credential, (optionally) one webhook endpoint and the forms key through a store with
    /// <paramref name="key"/> (null: none); returns the webhook signing secret ("" without one).
    /// </summary>
    private static async Task<string> WriteSecretsAsync(EngineStore store, string? key, bool webhook = true)
    {
        await using var keyed = await OpenAsync(store, key);
        var upstream = await new UpstreamService(keyed, TimeProvider.System).CreateAsync(
            new UpstreamInput { Name = "billing", Url = "http://127.0.0.1:9", AuthType = "bearer", AuthValue = Credential }.Parsed(), None);
        Assert.True(upstream.Ok, upstream.Error?.ToString());
        Assert.True((await new UpstreamService(keyed, TimeProvider.System).CreateAsync(
            new UpstreamInput { Name = "open", Url = "http://127.0.0.1:9" }.Parsed(), None)).Ok); // no credential: not a secret
        await keyed.AddWebKeyAsync(FormsKey, Now, None);
        if (!webhook)
        {
            return "";
        }

        var created = await new WebhookService(keyed, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = [WebhookEventTypes.UserCreated] }, None);
        Assert.True(created.Ok, created.Error?.ToString());
        return created.Value!.Secret;
    }

    /// <summary>An upstream credential under <see cref="OldKey"/> and a webhook endpoint whose secret no setting's key reads.</summary>
    private static async Task<CreatedWebhook> WriteSecretUnderAnUnknownKeyAsync(EngineStore store)
    {
        await WriteSecretsAsync(store, OldKey, webhook: false);
        await using var stranger = await OpenAsync(store, "a key nobody kept");
        return (await new WebhookService(stranger, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = [WebhookEventTypes.UserCreated] }, None)).Value!;
    }

    /// <summary>Reads every kind of secret through a store that knows only <paramref name="key"/>.</summary>
    private static async Task AssertReadableWithAsync(EngineStore store, string key, string webhookSecret)
    {
        await using var keyed = await OpenAsync(store, key);
        Assert.Equal(Credential, (await keyed.LoadConfigAsync(None)).Upstreams.Single(u => u.Slug == "billing").AuthValue);
        Assert.Equal(FormsKey, await keyed.GetWebKeyAsync(None));
        await keyed.AddWebhookEventAsync(WebhookEvent.Create(WebhookEventTypes.UserCreated, new System.Text.Json.Nodes.JsonObject { ["n"] = 1 }, null, Now), null, None);
        var work = Assert.Single(await keyed.ClaimWebhookDeliveriesAsync("rekey-test", Now, Now.AddSeconds(30), 16, None));
        Assert.Null(work.SecretError);
        Assert.Equal(webhookSecret, work.Secret);
    }

    private static async Task<SqlGatewayStore> OpenAsync(EngineStore store, string? key)
    {
        var opened = GatewayStores.Create(store.Driver, store.Dsn, new SecretProtector(key));
        await opened.InitializeAsync(None);
        return opened;
    }

    /// <summary>Every stored secret as it is in the database, in a fixed order.</summary>
    private static async Task<List<string>> RawSecretsAsync(EngineStore store)
    {
        await using var connection = await store.OpenRawAsync();
        var raw = new List<string>();
        raw.AddRange(await connection.QueryAsync<string>("SELECT auth_value FROM upstreams WHERE auth_value <> '' ORDER BY id"));
        raw.AddRange(await connection.QueryAsync<string>("SELECT secret FROM webhook_endpoints ORDER BY id"));
        raw.AddRange(await connection.QueryAsync<string>("SELECT xml FROM web_keys"));
        return raw;
    }

    /// <summary>Every column of the rows that hold secrets but the secret itself, as stored, in a fixed order.</summary>
    private static async Task<List<string>> RowsBesideTheSecretsAsync(EngineStore store)
    {
        await using var connection = await store.OpenRawAsync();
        var rows = new List<string>();
        foreach (var (table, order, secret) in new[] { ("upstreams", "id", "auth_value"), ("webhook_endpoints", "id", "secret"), ("web_keys", "slot", "xml") })
        {
            foreach (IDictionary<string, object?> row in await connection.QueryAsync($"SELECT * FROM {table} ORDER BY {order}"))
            {
                rows.Add(table + ": " + string.Join(", ", row.Where(c => c.Key != secret).Select(c => $"{c.Key}={c.Value}")));
            }
        }

        return rows;
    }

    /// <summary>How many admin audit rows, webhook events and deliveries the store holds.</summary>
    private static async Task<(long Audit, long WebhookEvents, long WebhookDeliveries)> ChangeRecordsAsync(EngineStore store)
    {
        await using var connection = await store.OpenRawAsync();
        return (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM admin_audit"),
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM webhook_events"),
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM webhook_deliveries"));
    }

    private static Task<CliResult> CliAsync(EngineStore store, string? key, string? previous, params string[] args)
    {
        var environment = store.Environment;
        if (key is not null)
        {
            environment["APIGATE_SECRET_KEY"] = key;
        }

        if (previous is not null)
        {
            environment["APIGATE_SECRET_KEY_PREVIOUS"] = previous;
        }

        return CliRunner.RunAsync(environment, args);
    }

    private static void AssertNoSecretIn(CliResult result, string webhookSecret)
    {
        foreach (var secret in new[] { OldKey, NewKey, Credential, "forms-key-material", webhookSecret }.Where(s => s.Length > 0))
        {
            Assert.DoesNotContain(secret, result.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, result.Error, StringComparison.Ordinal);
        }
    }
}
