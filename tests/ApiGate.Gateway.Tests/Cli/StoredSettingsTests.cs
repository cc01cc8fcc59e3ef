using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Dapper;
using static ApiGate.Gateway.Tests.Infrastructure.ConfigShow;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// Settings kept in the store (SPEC §7.3: flags &gt; environment &gt; config file &gt; stored settings &gt; defaults):
/// <c>apigate config set|unset</c> on either engine, checked with every other setting before anything is written, read
/// by every command and by <c>serve</c> at its start without creating or migrating a store.
/// </summary>
public sealed class StoredSettingsTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigSet_OneSetting_IsStoredAndEverySourceAboveItWins(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);
        var file = Path.Combine(Path.GetTempPath(), $"apigate-stored-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, "ratelimit:\n  burst: 8\n");

        try
        {
            // Act
            var set = await store.CliAsync("config", "set", "ratelimit.burst", "9");
            var stored = await ShowAsync(store.Environment);
            var underFile = await ShowAsync(store.Environment, "--config", file);
            var underEnvironment = await ShowAsync(new Dictionary<string, string>(store.Environment) { ["APIGATE_RATELIMIT_BURST"] = "7" }, "--config", file);
            var hidden = await CliRunner.RunAsync(new Dictionary<string, string>(store.Environment) { ["APIGATE_RATELIMIT_BURST"] = "7" }, "config", "set", "ratelimit.burst", "6");

            // Assert
            Assert.Equal(0, set.ExitCode);
            Assert.Matches(@"ratelimit\.burst\s+9\s+stored", set.Output);
            Assert.Contains("running gateways apply stored settings when they restart", set.Error, StringComparison.Ordinal);
            Assert.Equal(("9", "stored"), Setting(stored, "ratelimit.burst"));
            Assert.Equal(("8", "file"), Setting(underFile, "ratelimit.burst"));
            Assert.Equal(("7", "environment"), Setting(underEnvironment, "ratelimit.burst"));
            Assert.Equal(0, hidden.ExitCode);
            Assert.Contains("note: APIGATE_RATELIMIT_BURST sets ratelimit.burst too and takes precedence over the stored value", hidden.Error, StringComparison.Ordinal);
            var row = Assert.Single(await store.Store.ListStoredSettingsAsync(None));
            Assert.Equal(("ratelimit.burst", "6"), (row.Key, row.Value));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigSet_SeveralSettings_AreCheckedTogetherAndWrittenAllOrNone(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);

        // Act: a duration without its unit in the second pair; then a pair that only goes together (the h2c port may
        // not be the main port, which is 8080 until the same command moves it)
        var refused = await store.CliAsync("config", "set", "ratelimit.burst", "9", "upstream.timeout", "30");
        var storedAfterRefusal = await store.Store.ListStoredSettingsAsync(None);
        var alone = await store.CliAsync("config", "set", "server.h2c_port", "8080");
        var together = await store.CliAsync("config", "set", "server.port", "9001", "server.h2c_port", "8080", "--json");

        // Assert
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("upstream.timeout (from the stored settings ('apigate config set')): '30' has no unit", refused.Error, StringComparison.Ordinal);
        Assert.Empty(storedAfterRefusal);
        Assert.Equal(2, alone.ExitCode);
        Assert.Contains("server.h2c_port (from the stored settings ('apigate config set')): 8080 is the same as the main port", alone.Error, StringComparison.Ordinal);
        Assert.Equal(0, together.ExitCode);
        var shown = JsonDocument.Parse(together.Output).RootElement;
        Assert.Equal(("9001", "stored"), Setting(shown, "server.port"));
        Assert.Equal(("8080", "stored"), Setting(shown, "server.h2c_port"));
        Assert.Equal(["server.h2c_port", "server.port"], (await store.Store.ListStoredSettingsAsync(None)).Select(s => s.Key));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigUnset_StoredAndNotStoredKeys_ChangesNothingUnlessEveryKeyIsStored(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);
        Assert.Equal(0, (await store.CliAsync("config", "set", "ratelimit.burst", "9", "log.level", "warn")).ExitCode);

        // Act
        var missing = await store.CliAsync("config", "unset", "ratelimit.burst", "server.port");
        var afterMissing = await store.Store.ListStoredSettingsAsync(None);
        var unset = await store.CliAsync("config", "unset", "ratelimit.burst");
        var shown = await ShowAsync(store.Environment);

        // Assert
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("server.port is not stored", missing.Error, StringComparison.Ordinal);
        Assert.Equal(["log.level", "ratelimit.burst"], afterMissing.Select(s => s.Key));
        Assert.Equal(0, unset.ExitCode);
        Assert.Matches(@"ratelimit\.burst\s+5\s+default", unset.Output);
        Assert.Equal(("5", "default"), Setting(shown, "ratelimit.burst"));
        Assert.Equal(("warn", "stored"), Setting(shown, "log.level"));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigSet_AValueTheEnvironmentHidesHere_IsCheckedAsWhereItAppliesAndNothingIsWritten(string engine)
    {
        // Arrange: this shell sets the port and the burst; the gateways on the store may not
        var store = await engines.CreateAsync(engine);
        var environment = new Dictionary<string, string>(store.Environment) { ["APIGATE_SERVER_PORT"] = "9001", ["APIGATE_RATELIMIT_BURST"] = "7" };

        // Act
        var unparsable = await CliRunner.RunAsync(environment, "config", "set", "server.port", "abc");
        var refused = await CliRunner.RunAsync(environment, "config", "set", "log.level", "warn", "ratelimit.burst", "-1");
        var storedAfterRefusals = await store.Store.ListStoredSettingsAsync(None);
        var accepted = await CliRunner.RunAsync(environment, "config", "set", "ratelimit.burst", "9");
        var elsewhere = await ShowAsync(store.Environment);

        // Assert: refused as a start without those variables would refuse it; a good hidden value is still stored
        Assert.Equal(2, unparsable.ExitCode);
        Assert.Contains("server.port (from the stored settings ('apigate config set')): 'abc' is not a whole number", unparsable.Error, StringComparison.Ordinal);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("ratelimit.burst (from the stored settings ('apigate config set')): must be 0 or more", refused.Error, StringComparison.Ordinal);
        Assert.Empty(storedAfterRefusals);
        Assert.Equal(0, accepted.ExitCode);
        Assert.Contains("note: APIGATE_RATELIMIT_BURST sets ratelimit.burst too", accepted.Error, StringComparison.Ordinal);
        Assert.Equal(("9", "stored"), Setting(elsewhere, "ratelimit.burst"));
    }

    [Fact]
    public async Task AnyCommand_StoreFileIsNoDatabase_NamesTheStoreAsOpeningItWould()
    {
        // Arrange
        var file = Path.Combine(Path.GetTempPath(), $"apigate-notdb-{Guid.NewGuid():N}.db");
        await File.WriteAllTextAsync(file, string.Concat(Enumerable.Repeat("this is a text file, not a SQLite database. ", 20)));
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = file };

        try
        {
            // Act
            var shown = await CliRunner.RunAsync(environment, "config", "show");
            var listed = await CliRunner.RunAsync(environment, "users", "list");
            var set = await CliRunner.RunAsync(environment, "config", "set", "log.level", "warn");

            // Assert: every command says which store and which setting, as opening the store for its work does
            foreach (var result in new[] { listed, set })
            {
                Assert.Equal(1, result.ExitCode);
                Assert.StartsWith($"error: cannot open the store at {file} (APIGATE_DATABASE_DSN / --database): file is not a database", result.Error, StringComparison.Ordinal);
            }

            // config show, which is how one looks into it, shows the settings without the stored ones after a warning
            Assert.Equal(1, shown.ExitCode);
            Assert.Equal(
                $"warning: cannot open the store at {file} (APIGATE_DATABASE_DSN / --database): file is not a database; the stored settings could not be read, so these are shown without them",
                shown.Error.Trim());
            Assert.Contains(file, shown.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ConfigValidate_StoreFileIsNoDatabase_ListsTheStoreAsAProblemInTextAndJsonWithExit1()
    {
        // Arrange
        var file = Path.Combine(Path.GetTempPath(), $"apigate-notdb-{Guid.NewGuid():N}.db");
        await File.WriteAllTextAsync(file, string.Concat(Enumerable.Repeat("this is a text file, not a SQLite database. ", 20)));
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = file };
        var problem = $"store: cannot open the store at {file} (APIGATE_DATABASE_DSN / --database): file is not a database";

        try
        {
            // Act
            var text = await CliRunner.RunAsync(environment, "config", "validate");
            var json = await CliRunner.RunAsync(environment, "config", "validate", "--json");

            // Assert: a store that cannot be read is a problem among the others, not the end of the check
            Assert.Equal(1, text.ExitCode);
            Assert.Equal("problem: " + problem, text.Error.Trim());
            Assert.Equal(1, json.ExitCode);
            using var document = System.Text.Json.JsonDocument.Parse(json.Output);
            Assert.False(document.RootElement.GetProperty("valid").GetBoolean());
            Assert.Equal([problem], document.RootElement.GetProperty("problems").EnumerateArray().Select(p => p.GetString()));
            Assert.Empty(document.RootElement.GetProperty("warnings").EnumerateArray());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ConfigUnset_AStoredValueTheEnvironmentNowConflictsWith_StillRemovesIt()
    {
        // Arrange: the h2c port stored; the environment later moves the main port onto it
        var store = await engines.CreateAsync(GatewayStores.Sqlite);
        Assert.Equal(0, (await store.CliAsync("config", "set", "server.h2c_port", "9001")).ExitCode);
        var environment = new Dictionary<string, string>(store.Environment) { ["APIGATE_SERVER_PORT"] = "9001" };

        // Act
        var shown = await CliRunner.RunAsync(environment, "config", "show");
        var unset = await CliRunner.RunAsync(environment, "config", "unset", "server.h2c_port");
        var after = await CliRunner.RunAsync(environment, "config", "show");

        // Assert: every command names the stored value; unsetting it is what still works
        Assert.Equal(2, shown.ExitCode);
        Assert.Contains("server.h2c_port (from the stored settings ('apigate config set')): 9001 is the same as the main port", shown.Error, StringComparison.Ordinal);
        Assert.Equal(0, unset.ExitCode);
        Assert.Equal(0, after.ExitCode);
        Assert.Empty(await store.Store.ListStoredSettingsAsync(None));
    }

    [Theory]
    [InlineData("database.dsn", "/tmp/elsewhere.db", "says where the store is and how to open it, so it cannot be kept there; set it in the environment (APIGATE_DATABASE_DSN)")]
    [InlineData("database.driver", "postgres", "says where the store is and how to open it")]
    [InlineData("secret_key", "k-3f9a71c0", "secret_key is a secret, which the store would keep in plain text; set it in the environment (APIGATE_SECRET_KEY)")]
    [InlineData("stripe.secret_key", "sk_test_3f9a71c0", "stripe.secret_key is a secret")]
    [InlineData("redis.url", "redis://:pw-3f9a71c0@127.0.0.1:6379", "redis.url: the value holds a password, which the store would keep in plain text")]
    [InlineData("server.prot", "9001", "'server.prot' is not a setting (did you mean server.port?")]
    [InlineData("server.port", "eighty", "server.port (from the stored settings ('apigate config set')): 'eighty' is not a whole number")]
    [InlineData("transform.env_allow", "REGION\nX-3f9a71c0", "transform.env_allow: must not contain control characters (U+000A at position 7)")]
    [InlineData("portal.app_name", "Acme\u001b[31m", "portal.app_name: must not contain control characters (U+001B at position 5)")]
    public async Task ConfigSet_WhatTheStoreMayNotKeep_IsRefusedNamingTheSettingAndNothingIsWritten(string key, string value, string message)
    {
        await RefusedAsync(key, value, message);
    }

    [Fact]
    public async Task ConfigSet_ValuePast8192Characters_IsRefusedAndNothingIsWritten()
    {
        await RefusedAsync("usage.export", new string('a', 8193), "usage.export: is longer than 8192 characters");
    }

    private async Task RefusedAsync(string key, string value, string message)
    {
        // Arrange
        var store = await engines.CreateAsync(GatewayStores.Sqlite);

        // Act
        var refused = await store.CliAsync("config", "set", key, value);

        // Assert
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains(message, refused.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("3f9a71c0", refused.Output + refused.Error, StringComparison.Ordinal); // no secret or password echoed
        Assert.Empty(await store.Store.ListStoredSettingsAsync(None));
    }

    [Theory]
    [InlineData(new[] { "config", "set", "server.port" }, "'server.port' has no value: give each setting as KEY VALUE")]
    [InlineData(new[] { "config", "set", "server.port", "9001", "Server.Port", "9002" }, "server.port is given twice")]
    [InlineData(new[] { "config", "unset", "database.dsn" }, "database.dsn says where the store is")]
    public async Task ConfigSetOrUnset_MalformedArguments_AreRefusedBeforeTheStoreIsOpened(string[] args, string message)
    {
        // Arrange: the DSN names a file that does not exist; a refused command must not create it
        var dsn = Path.Combine(Path.GetTempPath(), $"apigate-stored-{Guid.NewGuid():N}.db");

        // Act
        var refused = await CliRunner.RunAsync(new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = dsn }, args);

        // Assert
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains(message, refused.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dsn));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigShow_NoStoreThereYet_ReadsNoStoredSettingsAndCreatesNothing(string engine)
    {
        // Arrange: a place for a store, not yet created (SQLite: no file; PostgreSQL: an empty schema)
        var dsn = await engines.NewDsnAsync(engine);
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = engine, ["APIGATE_DATABASE_DSN"] = dsn };

        // Act
        var shown = await ShowAsync(environment);

        // Assert
        Assert.Equal(("5", "default"), Setting(shown, "ratelimit.burst"));
        if (engine == GatewayStores.Sqlite)
        {
            Assert.False(File.Exists(dsn));
        }
        else
        {
            await using var connection = new Npgsql.NpgsqlConnection(dsn);
            Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"));
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Unset_AnotherChangeForgetsTheKeyJustBefore_NotFoundAndNothingClaimed(string engine)
    {
        // Arrange: a stored key that a change made elsewhere forgets just before this change takes its turn
        var store = await engines.CreateAsync(engine);
        await store.Store.ChangeStoredSettingsAsync([KeyValuePair.Create("ratelimit.burst", (string?)"30"), KeyValuePair.Create("log.level", (string?)"debug")], DateTimeOffset.UtcNow, None);
        var editor = new Gateway.Configuration.StoredSettingsEditor(
            new ForgottenJustBefore(store.Store, "ratelimit.burst"), Gateway.Configuration.GatewaySettings.Build(null, _ => null, new Dictionary<string, string?>()),
            Gateway.Hosting.GatewayOptionsSetup.Resolve, TimeProvider.System);

        // Act: forget it, and log.level with it
        var result = await editor.ChangeAsync([KeyValuePair.Create("ratelimit.burst", (string?)null), KeyValuePair.Create("log.level", (string?)null)], None);

        // Assert: the second forgetting of the key is not claimed, and the change is all or nothing
        Assert.Equal(Core.Management.ManagementErrorKind.NotFound, result.Error?.Kind);
        Assert.StartsWith("ratelimit.burst is not stored", result.Error!.Message, StringComparison.Ordinal);
        Assert.Equal([("log.level", "debug")], (await store.Store.ListStoredSettingsAsync(None)).Select(s => (s.Key, s.Value)));
    }

    /// <summary>A store where another change, forgetting <paramref name="key"/>, commits just before each change made through it.</summary>
    private sealed class ForgottenJustBefore(Core.Storage.IStoredSettingStore store, string key) : Core.Storage.IStoredSettingStore
    {
        public Task<IReadOnlyList<Core.Storage.StoredSetting>> ListStoredSettingsAsync(CancellationToken cancellationToken) => store.ListStoredSettingsAsync(cancellationToken);

        public async Task ChangeStoredSettingsAsync(
            IReadOnlyList<KeyValuePair<string, string?>> changes, DateTimeOffset at, CancellationToken cancellationToken,
            Action<IReadOnlyDictionary<string, string>, IReadOnlyDictionary<string, string>>? check = null)
        {
            await store.ChangeStoredSettingsAsync([KeyValuePair.Create(key, (string?)null)], at, cancellationToken);
            await store.ChangeStoredSettingsAsync(changes, at, cancellationToken, check);
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ChangeStoredSettings_TwoAtOnce_TheSecondIsCheckedAgainstTheFirstsOutcome(string engine)
    {
        // Arrange: the h2c port, then the main port onto it; each alone is fine, together a start refuses them
        var store = await engines.CreateAsync(engine);
        using var firstChecking = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var secondChecked = false;

        // Act: the first change holds its turn inside its check (a blocked thread) while the second is made
        ThreadPool.GetMinThreads(out var workers, out var completions);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), completions);
        var first = Task.Run(() => store.Store.ChangeStoredSettingsAsync([KeyValuePair.Create("server.h2c_port", (string?)"9001")], DateTimeOffset.UtcNow, None, (_, _) =>
        {
            firstChecking.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        }));
        Assert.True(firstChecking.Wait(TimeSpan.FromSeconds(30)));
        var second = Task.Run(() => store.Store.ChangeStoredSettingsAsync([KeyValuePair.Create("server.port", (string?)"9001")], DateTimeOffset.UtcNow, None, (_, after) =>
        {
            secondChecked = true;
            if (after.GetValueOrDefault("server.h2c_port") == after["server.port"])
            {
                throw new ArgumentException("server.h2c_port: 9001 is the same as the main port");
            }
        }));
        await SecondIsUnderWayAsync(store); // the second has had its chance to run its check now, if changes did not take turns
        var checkedWhileFirstHeldItsTurn = secondChecked;
        release.Set();
        await first;
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => second);

        // Assert
        Assert.False(checkedWhileFirstHeldItsTurn);
        Assert.Contains("same as the main port", refused.Message, StringComparison.Ordinal);
        Assert.Equal([("server.h2c_port", "9001")], (await store.Store.ListStoredSettingsAsync(None)).Select(s => (s.Key, s.Value)));
    }

    /// <summary>
    /// PostgreSQL: until the second change waits for its turn (a lock not granted; bounded, 30 s — without turns it never
    /// waits, and its check has run by then). SQLite: a moment (its writers take turns in the process and in the file).
    /// </summary>
    private static async Task SecondIsUnderWayAsync(EngineStore store)
    {
        if (store.Driver != GatewayStores.Postgres)
        {
            await Task.Delay(300);
            return;
        }

        await using var connection = await store.OpenRawAsync();
        for (var i = 0; i < 300 && await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 0; i++)
        {
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task AnyCommand_RowsConfigSetWouldRefuse_AreNotApplied()
    {
        // Arrange: rows written into the table by hand (or by a later build that knows more settings)
        var store = await engines.CreateAsync(GatewayStores.Sqlite);
        await store.Store.ChangeStoredSettingsAsync(
        [
            KeyValuePair.Create("database.busy_timeout", (string?)"9s"), KeyValuePair.Create("secret_key", (string?)"k-3f9a71c0"),
            KeyValuePair.Create("later.setting", (string?)"1"), KeyValuePair.Create("ratelimit.burst", (string?)"9"),
        ], DateTimeOffset.UtcNow, None);

        // Act
        var shown = await ShowAsync(store.Environment);

        // Assert: the storable one applies; the others are as if absent
        Assert.Equal(("9", "stored"), Setting(shown, "ratelimit.burst"));
        Assert.Equal(("2s", "default"), Setting(shown, "database.busy_timeout"));
        Assert.Equal(("", "default"), Setting(shown, "secret_key"));
    }

    [Fact]
    public async Task ConfigShow_StoreOfAnEarlierVersionWithoutStoredSettings_ShowsTheOtherSourcesAndLeavesItAsItIs()
    {
        // Arrange: a store as builds before stored settings left it (migration 17 and its table taken away)
        var store = await engines.CreateAsync(GatewayStores.Sqlite);
        await using (var connection = await store.OpenRawAsync())
        {
            await connection.ExecuteAsync("DROP TABLE stored_settings; DELETE FROM schema_migrations WHERE version = 17;");
        }

        // Act
        var shown = await ShowAsync(new(store.Environment) { ["APIGATE_RATELIMIT_BURST"] = "7" });

        // Assert
        Assert.Equal(("7", "environment"), Setting(shown, "ratelimit.burst"));
        await using var after = await store.OpenRawAsync();
        Assert.Equal(0L, await after.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'stored_settings'"));
    }

    [Fact]
    public async Task AnyCommand_StoreUnreachableAndABadValueElsewhere_ReportsTheBadValueFirstAndConfigShowShowsTheRest()
    {
        // Arrange: nothing listens on port 1
        var environment = new Dictionary<string, string>
        {
            ["APIGATE_DATABASE_DRIVER"] = "postgres",
            ["APIGATE_DATABASE_DSN"] = "Host=127.0.0.1;Port=1;Username=apigate;Password=pw-3f9a71c0",
            ["APIGATE_RATELIMIT_BURST"] = "-1",
        };

        // Act
        var withBadValue = await CliRunner.RunAsync(environment, "config", "show");
        environment.Remove("APIGATE_RATELIMIT_BURST");
        var unreachable = await CliRunner.RunAsync(environment, "users", "list");
        var shown = await CliRunner.RunAsync(environment, "config", "show", "--json");

        // Assert
        Assert.Equal(2, withBadValue.ExitCode);
        Assert.StartsWith("error: invalid configuration: ratelimit.burst (from APIGATE_RATELIMIT_BURST)", withBadValue.Error, StringComparison.Ordinal);
        Assert.Equal(1, unreachable.ExitCode);
        Assert.StartsWith("error: cannot connect to PostgreSQL at 127.0.0.1:1 (APIGATE_DATABASE_DSN", unreachable.Error, StringComparison.Ordinal);
        // config show still shows the settings (without stored ones), after a warning, and exits 1: they may be incomplete
        Assert.Equal(1, shown.ExitCode);
        Assert.StartsWith("warning: cannot connect to PostgreSQL at 127.0.0.1:1 (APIGATE_DATABASE_DSN", shown.Error, StringComparison.Ordinal);
        Assert.EndsWith("; the stored settings could not be read, so these are shown without them", shown.Error.Trim(), StringComparison.Ordinal);
        Assert.Equal("postgres", JsonDocument.Parse(shown.Output).RootElement.GetProperty("database.driver").GetProperty("value").GetString());
        Assert.DoesNotContain("3f9a71c0", withBadValue.Error + unreachable.Error + shown.Error + shown.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_StoredSettings_AreAppliedAtStartBeneathTheEnvironment()
    {
        // Arrange: the admin API moved and the burst changed through the store; a stored port the environment overrides
        var store = await engines.CreateAsync(GatewayStores.Sqlite);
        await store.Store.DisposeAsync();
        Assert.Equal(0, (await store.CliAsync("config", "set", "admin.base_path", "/manage", "ratelimit.burst", "9", "server.port", "1")).ExitCode);
        var token = (await store.CliAsync("admin", "tokens", "create", "--name", "stored-settings")).Output.Trim();
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // Act
        using var serve = ServeProcess.Start(store.Dsn);
        await serve.WaitUntilReadyAsync(client);
        using var moved = await client.GetAsync(serve.Url + "/manage/settings");
        using var old = await client.GetAsync(serve.Url + "/admin/settings");
        using var console = new AdminUi.ConsoleHttp(serve.Url);
        await console.SignInAsync(token);
        using var page = await console.GetAsync("/ui/settings");
        var html = await page.Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var settings = JsonDocument.Parse(await moved.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        Assert.Equal(9, settings.GetProperty("rate_limit_burst").GetInt32());
        Assert.Equal("/manage", settings.GetProperty("admin_base_path").GetString());
        Assert.Equal(new Uri(serve.Url).Port, settings.GetProperty("port").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode); // no route there: the admin API moved
        Assert.Equal(HttpStatusCode.OK, page.StatusCode); // the console's settings page says where each value came from
        Assert.Equal("stored", SourceOnThePage(html, "ratelimit.burst"));
        Assert.Equal("environment", SourceOnThePage(html, "server.port"));
        Assert.Equal("default", SourceOnThePage(html, "upstream.timeout"));
    }

    [Fact]
    public async Task Serve_ChangeThroughTheAdminApi_CheckedWithTheProcesssEnvironmentAndAppliedAtTheNextStart()
    {
        // Arrange: a running gateway whose environment sets the port
        var store = await engines.CreateAsync(GatewayStores.Sqlite);
        await store.Store.DisposeAsync();
        var token = (await store.CliAsync("admin", "tokens", "create", "--name", "stored-settings")).Output.Trim();
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var serve = ServeProcess.Start(store.Dsn);
        await serve.WaitUntilReadyAsync(client);
        var port = new Uri(serve.Url).Port;

        // Act: an h2c port equal to the main port this process has from its environment, then a good change
        using var clash = await client.PatchAsync(serve.Url + "/admin/settings/stored",
            new StringContent("""{"set": {"ratelimit.burst": 12, "server.h2c_port": PORT}}""".Replace("PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"));
        using var good = await client.PatchAsync(serve.Url + "/admin/settings/stored",
            new StringContent("""{"set": {"ratelimit.burst": 12}}""", System.Text.Encoding.UTF8, "application/json"));
        using var running = await client.GetAsync(serve.Url + "/admin/settings");
        await serve.KillAsync();
        serve.Dispose();
        using var restarted = ServeProcess.Start(store.Dsn);
        await restarted.WaitUntilReadyAsync(client);
        using var after = await client.GetAsync(restarted.Url + "/admin/settings");

        // Assert: the clash refused, naming it; the good change stored, applied at the next start, not before
        Assert.Equal(HttpStatusCode.UnprocessableEntity, clash.StatusCode);
        Assert.Contains($"{port} is the same as the main port (server.port)", await clash.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(5, JsonDocument.Parse(await running.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetProperty("rate_limit_burst").GetInt32());
        Assert.Equal(12, JsonDocument.Parse(await after.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetProperty("rate_limit_burst").GetInt32());
        var shown = await ShowAsync(store.Environment);
        Assert.Equal("stored", shown.GetProperty("ratelimit.burst").GetProperty("source").GetString());
        Assert.Equal("default", shown.GetProperty("server.h2c_port").GetProperty("source").GetString());
    }

    private static string SourceOnThePage(string html, string key) =>
        System.Text.RegularExpressions.Regex.Match(html, $"data-setting=\"{System.Text.RegularExpressions.Regex.Escape(key)}\".*?<td class=\"ag-source\">([^<]*)</td>", System.Text.RegularExpressions.RegexOptions.Singleline).Groups[1].Value;

    private static async Task<JsonElement> ShowAsync(Dictionary<string, string> environment, params string[] args)
    {
        var result = await CliRunner.RunAsync(environment, ["config", "show", "--json", .. args]);
        Assert.True(result.ExitCode == 0, result.Error);
        return JsonDocument.Parse(result.Output).RootElement.Clone();
    }
}
