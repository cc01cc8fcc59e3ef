using ApiGate.Core.Storage;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using ApiGate.Core.Upstreams;
using ApiGate.Core.Webhooks;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The CLI on either engine: <c>apigate migrate</c>, <c>apigate store copy</c> (SQLite to PostgreSQL, docs/scaling.md)
/// and the one-line start errors for a bad or unreachable PostgreSQL DSN.
/// </summary>
public sealed class StoreCommandTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidate_NoStoreThereYet_SettingsCheckedAndNothingCreated(string engine)
    {
        // Arrange: a SQLite path with no file yet, or a PostgreSQL schema with no store in it
        var dsn = await engines.NewDsnAsync(engine);
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = engine, ["APIGATE_DATABASE_DSN"] = dsn };

        // Act
        var validated = await CliRunner.RunAsync(environment, "config", "validate");
        var migrated = await CliRunner.RunAsync(environment, "migrate");

        // Assert: valid, said so, and the store the next migrate makes is new (validate made none)
        Assert.Equal(0, validated.ExitCode);
        Assert.Equal("configuration is valid" + Environment.NewLine, validated.Output);
        Assert.StartsWith("no store at ", validated.Error, StringComparison.Ordinal);
        Assert.EndsWith(" yet" + Environment.NewLine, validated.Error, StringComparison.Ordinal);
        Assert.Equal(0, migrated.ExitCode);
        Assert.StartsWith("created a new store at ", migrated.Error, StringComparison.Ordinal);
        Assert.Contains("applied migration 1: upstreams and routes", migrated.Output, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidateJson_OlderStoreAndAnExportServeCannotWrite_BothListedAsProblemsStoreUnchanged(string engine)
    {
        // Arrange: a store an older apigate created, and a usage.export under a plain file (serve could not create it)
        var store = await engines.CreateAsync(engine);
        var latest = store.Store.SchemaVersion;
        await using (var connection = await store.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "DELETE FROM schema_migrations WHERE version = @Latest", new { Latest = latest });
        }

        var file = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, "x");
        var environment = new Dictionary<string, string>(store.Environment) { ["APIGATE_USAGE_EXPORT"] = Path.Combine(file, "usage.jsonl") };

        // Act
        var validated = await CliRunner.RunAsync(environment, "config", "validate", "--json");

        // Assert: the answer is JSON a script can read, with every problem found, not only the first
        Assert.Equal(1, validated.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(validated.Output);
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        var problems = json.RootElement.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("store: ", StringComparison.Ordinal)
            && p.Contains($"is at schema version {latest - 1}, older than this apigate ({latest}); it was not changed", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("usage.export (from APIGATE_USAGE_EXPORT): cannot append to ", StringComparison.Ordinal));
        await using var raw = await store.OpenRawAsync();
        Assert.Equal(latest - 1, await Dapper.SqlMapper.ExecuteScalarAsync<long>(raw, "SELECT MAX(version) FROM schema_migrations"));
        File.Delete(file);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidate_RouteStoredWithAListPastTheBound_AWarningNamingRouteAndListExitCode0_AlsoInJson(string engine)
    {
        // Arrange: route "wide" written straight to the store with 150 CORS origins, as a build before the bound of 100 could
        var store = await engines.CreateAsync(engine);
        await CreateRouteAsync(store, "wide", r => r with
        {
            CorsOrigins = [.. Enumerable.Range(0, 150).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"https://app{i}.example.com"))],
        });

        // Act
        var validated = await store.CliAsync("config", "validate");
        var json = await store.CliAsync("config", "validate", "--json");

        // Assert
        const string warning = "route 'wide': cors_origins has 150 entries, more than the 100 a write may hold (stored before that bound): " +
                               "the gateway serves it and the route can be edited, but the list can shrink, not grow";
        AssertValidWithWarnings(validated, json, [warning]);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidate_RouteStoredWithTransformsPastTheWriteOnlyRules_AWarningPerRuleNamingRouteAndRuleExitCode0_AlsoInJson(string engine)
    {
        // Arrange: route "legacy" written straight to the store, as a build before these rules could: 101 conditions,
        // Content-Length set, one header set twice, 150 query operations; a response transform removing
        // Transfer-Encoding and masking 150 paths
        static string Many(int count, Func<int, string> entry) => string.Join(",", Enumerable.Range(0, count).Select(entry));
        var store = await engines.CreateAsync(engine);
        await CreateRouteAsync(store, "legacy", r => r with
        {
            RequestTransform = """{"headers":{"set":{"Content-Length":"5","X-Plan":"a","x-plan":"b"}},"query":{"add":{""" + Many(150, i => $"\"q{i}\":\"1\"") +
                               "}},\"conditions\":[" + Many(101, _ => """{"when":{"method":"GET"}}""") + "]}",
            ResponseTransform = """{"headers":{"remove":["Transfer-Encoding"]},"body":{"mask":[""" + Many(150, i => $"\"f{i}\"") + "]}}",
        });

        // Act
        var validated = await store.CliAsync("config", "validate");
        var json = await store.CliAsync("config", "validate", "--json");

        // Assert
        static string Warning(string field, string rule, string served) =>
            $"route 'legacy': {field}: {rule} (stored before that rule): {served}, and the route can be edited with the transform sent back unchanged, " +
            "but a changed transform must follow the rule";
        string[] warnings =
        [
            Warning("request_transform", "request_transform.conditions has 101 entries; at most 100 are allowed", "the gateway applies every one"),
            Warning("request_transform", "request_transform.headers: 'Content-Length' cannot be changed by a transform: the gateway sets Content-Length and Transfer-Encoding from the body it sends",
                "the gateway leaves that operation out"),
            Warning("request_transform", "request_transform.headers.set: 'X-Plan' and 'x-plan' are the same header (names are case-insensitive); set it once",
                "the gateway sets the header to the later value"),
            Warning("request_transform", "request_transform.query has 150 operations; at most 100 are allowed", "the gateway applies every one"),
            Warning("response_transform", "response_transform.headers: 'Transfer-Encoding' cannot be changed by a transform: the gateway sets Content-Length and Transfer-Encoding from the body it sends",
                "the gateway leaves that operation out"),
            Warning("response_transform", "response_transform.body.mask has 150 operations; at most 100 are allowed", "the gateway applies every one"),
        ];
        AssertValidWithWarnings(validated, json, warnings);
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task ConfigValidate_UpstreamStoredBeforeTheDotSegmentAndHealthPathRules_AWarningPerValueExitCode0_AlsoInJson(string engine)
    {
        // Arrange: upstream "legacy" written straight to the store, as a build before those rules could: a target URL
        // with a '..' segment and a health-check path past 2048 bytes, both of which the gateway loads and serves
        var store = await engines.CreateAsync(engine);
        await CreateUpstreamAsync(store, "legacy", ["http://127.0.0.1:1", "http://127.0.0.1:2/v2/../x"], "/" + new string('h', 2100));

        // Act
        var validated = await store.CliAsync("config", "validate");
        var json = await store.CliAsync("config", "validate", "--json");

        // Assert
        string[] warnings =
        [
            "upstream 'legacy': targets[1].url: its path holds the dot segment '..' ('%2e' counts as '.'), so requests would not go to the path as written: "
            + "write the path without '.' or '..' segments (stored before that rule): the gateway serves it with the dot segments resolved by the URL parser, "
            + "as before (/v2/../x sends to /x), but every change to the upstream is refused until it is fixed: send url or targets in the same change "
            + "(CLI --url or --targets) with every target URL valid",
            "upstream 'legacy': health_check.path: is longer than 2048 bytes (stored before that rule): the gateway loads it and probes each target at that path, "
            + "as before, but every change to the upstream is refused until it is fixed: send health_check.path in the same change (CLI --health-path), "
            + "e.g. /healthz, or none to turn active checks off",
        ];
        AssertValidWithWarnings(validated, json, warnings);
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task ConfigValidate_UpstreamTargetWithCredentialsAndADotSegment_TheOlderRuleAProblemExitCode1_PasswordNeverShown(string engine)
    {
        // Arrange: credentials in the URL broke a rule older than the dot segments one
        var store = await engines.CreateAsync(engine);
        await CreateUpstreamAsync(store, "legacy", ["http://svc:S3cretPW9@127.0.0.1:2/v2/../x"], "");

        // Act
        var validated = await store.CliAsync("config", "validate");

        // Assert
        Assert.Equal(1, validated.ExitCode);
        Assert.Equal("", validated.Output);
        var lines = validated.Diagnostics.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("warning: upstream 'legacy': targets[0].url: its path holds the dot segment '..' ", lines[0], StringComparison.Ordinal);
        Assert.Equal("problem: upstream 'legacy': targets[0].url: put credentials in the upstream's auth type and value (auth_type/auth_value; "
            + "CLI --auth-type/--auth-value), not in the URL", lines[1]);
        Assert.DoesNotContain("S3cretPW9", validated.Output + validated.Error, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidate_RouteRowWhoseStoredHeadersAreNotJson_AProblemNamingTheRowExitCode1_AlsoInJson(string engine)
    {
        // Arrange: route "damaged" whose headers column was edited by hand into text that is not JSON
        var store = await engines.CreateAsync(engine);
        await CreateRouteAsync(store, "damaged", r => r);
        await using (var connection = await store.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE routes SET headers = '{not json' WHERE id = 'rt_damaged'");
        }

        // Act
        var validated = await store.CliAsync("config", "validate");
        var json = await store.CliAsync("config", "validate", "--json");

        // Assert
        const string Problem = "store: routes row 'rt_damaged' cannot be read: ";
        Assert.Equal(1, validated.ExitCode);
        Assert.StartsWith("problem: " + Problem, validated.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(1, json.ExitCode);
        using var document = System.Text.Json.JsonDocument.Parse(json.Output);
        Assert.False(document.RootElement.GetProperty("valid").GetBoolean());
        Assert.StartsWith(Problem, Assert.Single(document.RootElement.GetProperty("problems").EnumerateArray()).GetString(), StringComparison.Ordinal);
        Assert.Empty(document.RootElement.GetProperty("warnings").EnumerateArray());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidate_RouteStoredWithATransformTheGatewayCannotCompile_AProblemNamingRouteAndTransformExitCode1(string engine)
    {
        // Arrange: route "twice" written straight to the store with a member given twice, which no build could compile
        var store = await engines.CreateAsync(engine);
        await CreateRouteAsync(store, "twice", r => r with { RequestTransform = """{"headers":{},"headers":{}}""" });

        // Act
        var json = await store.CliAsync("config", "validate", "--json");

        // Assert
        Assert.Equal(1, json.ExitCode);
        using var document = System.Text.Json.JsonDocument.Parse(json.Output);
        Assert.False(document.RootElement.GetProperty("valid").GetBoolean());
        Assert.StartsWith("route 'twice': request_transform: request_transform is not valid JSON: ",
            Assert.Single(document.RootElement.GetProperty("problems").EnumerateArray()).GetString(), StringComparison.Ordinal);
        Assert.Empty(document.RootElement.GetProperty("warnings").EnumerateArray());
    }

    [PostgresFact]
    public async Task ConfigShow_PostgresDsnAndUrlWithAPassword_PasswordMaskedInTheTableAndInJson()
    {
        // Arrange: a store's connection string with a password (the server trusts loopback: it connects all the same),
        // and its database as a URL
        var store = await engines.CreateAsync(GatewayStores.Postgres);
        var parts = new Npgsql.NpgsqlConnectionStringBuilder(store.Dsn);
        var location = $"{parts.Host}:{parts.Port}/{parts.Database}";
        (string Given, string Masked)[] dsns =
        [
            (store.Dsn + ";Password=pgSecret77", store.Dsn + ";Password=***"),
            ($"postgres://{parts.Username}:pgSecret77@{location}", $"postgres://***@{location}"),
        ];

        foreach (var (given, masked) in dsns)
        {
            var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = GatewayStores.Postgres, ["APIGATE_DATABASE_DSN"] = given };

            // Act
            var table = await CliRunner.RunAsync(environment, "config", "show");
            var json = await CliRunner.RunAsync(environment, "config", "show", "--json");

            // Assert
            Assert.Equal((0, 0), (table.ExitCode, json.ExitCode));
            Assert.Contains($" {masked} ", table.Output.Split('\n').Single(l => l.StartsWith("database.dsn ", StringComparison.Ordinal)), StringComparison.Ordinal);
            using var document = System.Text.Json.JsonDocument.Parse(json.Output);
            Assert.Equal((masked, "environment"), ConfigShow.Setting(document.RootElement, "database.dsn"));
            Assert.DoesNotContain("pgSecret77", table.Output + table.Error + json.Output + json.Error, StringComparison.Ordinal);
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConfigValidate_RouteStoredWithTwoSpellingsOfAHeader_AWarningNamingRouteAndHeaderExitCode0(string engine)
    {
        // Arrange: route "tiered" written straight to the store with X-Tier=gold and x-tier=silver, as an earlier build could
        var store = await engines.CreateAsync(engine);
        var now = DateTimeOffset.UtcNow;
        await store.Store.CreateRouteAsync(new RouteDefinition
        {
            Id = "rt_tiered", Name = "tiered", Slug = "tiered", PathPattern = "/tiered/*",
            Headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["X-Tier"] = "gold", ["x-tier"] = "silver" }, CreatedAt = now, UpdatedAt = now,
        }, None);

        // Act
        var validated = await store.CliAsync("config", "validate");

        // Assert
        const string warning = "route 'tiered': headers: header 'x-tier' is given twice; header names ignore case, stored before that rule: " +
                               "a request must carry every value given, and the route can be edited with the conditions sent back unchanged, but none can be added";
        Assert.Equal((0, "configuration is valid\n", $"warning: {warning}\n"),
            (validated.ExitCode, validated.Output.ReplaceLineEndings("\n"), validated.Diagnostics.ReplaceLineEndings("\n")));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Migrate_NewStoreThenAgain_AppliesEveryMigrationThenNone(string engine)
    {
        // Arrange
        var dsn = await engines.NewDsnAsync(engine);
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = engine, ["APIGATE_DATABASE_DSN"] = dsn };

        // Act
        var first = await CliRunner.RunAsync(environment, "migrate");
        var second = await CliRunner.RunAsync(environment, "migrate");

        // Assert
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("applied migration 1: upstreams and routes", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 6: upstream http version", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 7: usage rollups, compaction, retention", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 8: portal accounts, one-time tokens, visible plans", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 9: outgoing webhooks", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 10: billing: stripe prices, customers, events, overage outbox", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 11: ", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 17: stored settings", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 18: webhook deliveries: indexes for claiming and listing a long backlog", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 19: webhook deliveries: index by event, for pruning old history", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 20: usage events: times the first build of migration 7 kept as text", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 21: config content token moved by triggers on the tables snapshots are built from", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 22: config content token moved by TRUNCATE too (PostgreSQL; SQLite triggers re-checked)", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 23: quota units handed over to the next instance that reaches Redis", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 24: identity version moved by a trigger on billing customers' subscriptions", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 25: identity version moved by TRUNCATE of keys, users and identity links too (PostgreSQL; SQLite triggers re-checked)", first.Output, StringComparison.Ordinal);
        Assert.Contains("applied migration 26: users: the mailbox each address names, indexed", first.Output, StringComparison.Ordinal);
        Assert.Contains("schema is now at version 26", first.Output, StringComparison.Ordinal);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal("schema is up to date at version 26" + Environment.NewLine, second.Output);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Migrate_StoreMigratedByANewerBuild_RefusedNamingBothVersions_NothingRuns(string engine)
    {
        // Arrange: a store a later apigate migrated one step further (a rollback after an upgrade).
        var store = await engines.CreateAsync(engine);
        var next = store.Store.SchemaVersion + 1;
        await using (var connection = await store.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Next, 'from the future', '2027-01-01T00:00:00.000Z')", new { Next = next });
        }

        // Act
        var migrate = await CliRunner.RunAsync(store.Environment, "migrate");
        var list = await CliRunner.RunAsync(store.Environment, "users", "list");

        // Assert
        foreach (var result in new[] { migrate, list })
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"is at schema version {next}, newer than this apigate knows ({next - 1})", result.Error, StringComparison.Ordinal);
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Migrate_NewerStoreMissingOneOfThisBuildsMigrations_RefusedAsNewer_NothingApplied(string engine)
    {
        // Arrange: a newer build's version stored, and this build's newest migration missing (a gap): it was called older
        // ("at schema version 999, older than this apigate") and migrate applied the missing one to a newer build's store
        var store = await engines.CreateAsync(engine);
        var latest = store.Store.SchemaVersion;
        await using (var connection = await store.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection,
                "DELETE FROM schema_migrations WHERE version = @Latest; INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2027-01-01T00:00:00.000Z')",
                new { Latest = latest });
        }

        // Act
        var migrate = await CliRunner.RunAsync(store.Environment, "migrate");
        var list = await CliRunner.RunAsync(store.Environment, "users", "list");
        await using var raw = await store.OpenRawAsync();
        var applied = await Dapper.SqlMapper.ExecuteScalarAsync<long>(raw, "SELECT COUNT(*) FROM schema_migrations WHERE version = @Latest", new { Latest = latest });

        // Assert
        foreach (var result in new[] { migrate, list })
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"is at schema version 999, newer than this apigate knows ({latest})", result.Error, StringComparison.Ordinal);
        }

        Assert.Equal(0, applied);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ManagementCommands_StoreOfAnOlderSchema_RefusedNamingBothVersions_StoreUnchangedUntilMigrate(string engine)
    {
        // Arrange: a store an older apigate created (this build's newest migration not applied), as after installing
        // the new binary while the old gateway still serves
        var store = await engines.CreateAsync(engine);
        var latest = store.Store.SchemaVersion;
        await using (var connection = await store.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "DELETE FROM schema_migrations WHERE version = @Latest", new { Latest = latest });
        }

        // Act
        var list = await CliRunner.RunAsync(store.Environment, "users", "list");
        var validate = await CliRunner.RunAsync(store.Environment, "config", "validate");
        long versionAfterRefusals;
        await using (var connection = await store.OpenRawAsync())
        {
            versionAfterRefusals = await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT MAX(version) FROM schema_migrations");
        }

        var migrate = await CliRunner.RunAsync(store.Environment, "migrate");
        var listAfterMigrate = await CliRunner.RunAsync(store.Environment, "users", "list");

        // Assert
        foreach (var result in new[] { list, validate })
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"is at schema version {latest - 1}, older than this apigate ({latest}); it was not changed", result.Error, StringComparison.Ordinal);
            Assert.Contains("then run 'apigate migrate'", result.Error, StringComparison.Ordinal);
        }

        Assert.Equal(latest - 1, versionAfterRefusals);
        Assert.Equal(0, migrate.ExitCode);
        Assert.Contains($"applied migration {latest}: ", migrate.Output, StringComparison.Ordinal);
        Assert.Equal(0, listAfterMigrate.ExitCode);
    }


    [PostgresFact]
    public async Task StoreCopy_SqliteToEmptyPostgres_CopiesEveryTable()
    {
        // Arrange: a SQLite install with one of everything, and usage
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var store = source.Store;
        await new UpstreamService(store, TimeProvider.System).CreateAsync(new UpstreamInput { Name = "Billing", Url = "http://127.0.0.1:9001", AuthType = "bearer", AuthValue = "upstream-secret" }.Parsed(), None);
        await new RouteService(store, TimeProvider.System).CreateAsync(new RouteInput { Name = "bill", Path = "/bill/*", Upstream = "billing", CorsOrigins = "https://app.example.com", CorsCredentials = true }.Parsed(), None);
        await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro", RateLimitPerMinute = 600, RequestsPerMonth = 50_000 }, None);
        var user = (await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = "move@example.com", Plan = "pro" }, None)).Value!;
        var key = (await new KeyService(store, TimeProvider.System).CreateAsync(new KeyChanges { User = user.Id }, None)).Value!;
        await new EntitlementService(store, TimeProvider.System).CreateAsync(new EntitlementChanges { Name = "webhooks", ValueType = Core.Entitlements.EntitlementValueType.Boolean, DefaultValue = "false" }, None);
        await new PlanEntitlementService(store, TimeProvider.System).CreateAsync(new PlanEntitlementInput { Plan = "pro", Entitlement = "webhooks", Value = "true" }, None);
        await new AdminTokenService(store, TimeProvider.System).CreateAsync("ops", None);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 3; i++)
        {
            await store.AddAdminAuditAsync(new AdminAuditRecord(0, now.AddMinutes(i), "POST", "/admin/routes", 201, "adt_1", "ops", "127.0.0.1", $"change {i}"), None);
        }

        // ~0.9 s apart over three hours, with microseconds in every timestamp; the hours before the last compacted
        var events = Enumerable.Range(0, 12_000).Select(i => UsageStoreTests.Event(user.Id, now.AddTicks(-i * 9_000_013L), units: 2, status: i % 7 == 0 ? 502 : 200) with { RequestId = $"req-{i}" }).ToList();
        await store.AddUsageEventsAsync(events, None);
        for (var i = 0; i < 10 && await store.CompactUsageAsync(UsageGranularity.Hour, now.AddHours(-1), 100, None) > 0; i++)
        {
        }
        await store.ChangeStoredSettingsAsync([KeyValuePair.Create("ratelimit.burst", (string?)"9")], now, None);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Postgres);

        // Act
        var copied = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn, "--json");
        var again = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(0, copied.ExitCode);
        var rows = System.Text.Json.JsonDocument.Parse(copied.Output).RootElement.GetProperty("rows");
        Assert.Equal(12_000, rows.GetProperty("usage_events").GetInt64());
        var from = now.AddDays(-1);
        // One user, one key, one route: the gateway-wide series of a granularity are its stored rows of it, row for row
        var minutes = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, from, now.AddDays(1), None);
        var hours = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Hour, from, now.AddDays(1), None);
        Assert.NotEmpty(hours);
        Assert.Equal(minutes.Count + hours.Count, rows.GetProperty("usage_rollups").GetInt64());
        Assert.Equal(2, rows.GetProperty("usage_compaction").GetInt64());
        Assert.Equal(2, rows.GetProperty("plans").GetInt64());
        Assert.Equal(1, rows.GetProperty("api_keys").GetInt64());
        await using var target = GatewayStores.Create(GatewayStores.Postgres, targetDsn, new SecretProtector(null));
        await target.InitializeAsync(None);
        var config = await target.LoadConfigAsync(None);
        Assert.Equal("upstream-secret", Assert.Single(config.Upstreams).AuthValue);
        Assert.Equal("bill", Assert.Single(config.Routes).Slug);
        Assert.Equal(["https://app.example.com"], config.Routes[0].CorsOrigins);
        Assert.True(config.Routes[0].CorsCredentials);
        Assert.Equal(1, rows.GetProperty("route_cors").GetInt64());
        Assert.Equal(["free", "pro"], config.Plans.Select(p => p.Id));
        Assert.Equal("true", Assert.Single(config.PlanEntitlements).Value);
        Assert.True(config.Version > await store.GetConfigVersionAsync(None));
        var (foundKey, foundOwner) = Assert.Single(await target.FindKeysByPrefixAsync(key.Key.Prefix, None));
        Assert.Equal((key.Key.Hash, user.Email), (foundKey.Hash, foundOwner.User.Email));
        Assert.Equal(1, await target.CountActiveAdminTokensAsync(None));
        Assert.Equal(
            await store.GetUsageSummaryAsync(user.Id, now.AddDays(-1), now.AddDays(1), None),
            await target.GetUsageSummaryAsync(user.Id, now.AddDays(-1), now.AddDays(1), None));
        Assert.Equal(await store.GetUsageWatermarksAsync(None), await target.GetUsageWatermarksAsync(None));
        Assert.NotEqual(DateTimeOffset.UnixEpoch, (await target.GetUsageWatermarksAsync(None)).Hours);
        Assert.Equal(ToTuples(minutes), ToTuples(await target.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, from, now.AddDays(1), None)));
        Assert.Equal(ToTuples(hours), ToTuples(await target.GetGatewayUsageSeriesAsync(UsageGranularity.Hour, from, now.AddDays(1), None)));
        Assert.Equal(ToTuples(await store.GetUserUsageRowsAsync(user.Id, from, now.AddDays(1), None)), ToTuples(await target.GetUserUsageRowsAsync(user.Id, from, now.AddDays(1), None)));
        var recent = await target.GetRecentUsageAsync(user.Id, 3, None);
        Assert.Equal(await store.GetRecentUsageAsync(user.Id, 3, None), recent);
        Assert.Equal(UsageTime.FromUnixMicroseconds(UsageTime.ToUnixMicroseconds(events[1].Timestamp)), recent[1].Timestamp);
        Assert.NotEqual(0, recent[1].Timestamp.UtcTicks % TimeSpan.TicksPerMillisecond);
        Assert.Equal(await store.LoadQuotaUsageAsync(Core.Quotas.QuotaPeriod.StartOf(now), None), await target.LoadQuotaUsageAsync(Core.Quotas.QuotaPeriod.StartOf(now), None));
        Assert.Equal(3, rows.GetProperty("admin_audit").GetInt64());
        Assert.Equal(await store.ListAdminAuditAsync(10, None), await target.ListAdminAuditAsync(10, None));
        await target.AddAdminAuditAsync(new AdminAuditRecord(0, now, "DELETE", "/admin/routes/bill", 200, "adt_1", "ops", "127.0.0.1", ""), None);
        Assert.Equal(4, (await target.ListAdminAuditAsync(1, None))[0].Id); // new ids follow the copied ones
        Assert.Equal(("ratelimit.burst", "9"), (await target.ListStoredSettingsAsync(None)).Select(s => (s.Key, s.Value)).Single());
        Assert.Equal(4, again.ExitCode); // a conflict, as the management verbs' conflicts
        Assert.Contains("error: --to-dsn: the store at ", again.Error, StringComparison.Ordinal);
        Assert.Contains("already holds data", again.Error, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task StoreCopy_TargetWithOnlyAPlanAndAWebhook_RefusedAndTheTargetKeepsThem(string engine)
    {
        // Arrange: a target already in use, with nothing in the tables an older check counted.
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var target = await engines.CreateAsync(engine);
        await new PlanService(target.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "enterprise", Name = "Enterprise" }, None);
        var hook = await new WebhookService(target.Store, TimeProvider.System).CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["user.created"] }, None);
        Assert.True(hook.Ok, hook.Error?.ToString());

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", engine, "--to-dsn", target.Dsn);

        // Assert
        Assert.Equal(4, copy.ExitCode);
        Assert.Contains("already holds data", copy.Error, StringComparison.Ordinal);
        Assert.NotNull(await target.Store.FindPlanAsync("enterprise", None));
        Assert.Null(await target.Store.FindPlanAsync("pro", None));
        Assert.Single(await target.Store.ListWebhookEndpointsAsync(None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task StoreCopy_TargetOfAnOlderSchema_RefusedAsNotNewExitCode4_NotMigratedAndNothingWritten(string engine)
    {
        // Arrange: an empty store an older apigate created (this build's newest migration not applied)
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var target = await engines.CreateAsync(engine);
        var latest = target.Store.SchemaVersion;
        await using (var connection = await target.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "DELETE FROM schema_migrations WHERE version = @Latest", new { Latest = latest });
        }

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", engine, "--to-dsn", target.Dsn);

        // Assert: not a new, empty store, as one that holds data
        Assert.Equal(4, copy.ExitCode);
        Assert.Contains($"error: --to-dsn: the store at {target.Store.Location} is at schema version {latest - 1}, older than this apigate ({latest}); it was not changed",
            copy.Error, StringComparison.Ordinal);
        await using (var connection = await target.OpenRawAsync())
        {
            Assert.Equal(latest - 1, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT MAX(version) FROM schema_migrations"));
        }

        Assert.Null(await target.Store.FindPlanAsync("pro", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task StoreCopy_TargetOfANewerSchema_RefusedAsNotNewExitCode4_NothingWritten(string engine)
    {
        // Arrange: an empty store a newer apigate migrated past this build's newest migration
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var target = await engines.CreateAsync(engine);
        var latest = target.Store.SchemaVersion;
        await using (var connection = await target.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Next, 'future', '2026-12-01T00:00:00.000Z')",
                new { Next = latest + 1 });
        }

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", engine, "--to-dsn", target.Dsn);

        // Assert
        Assert.Equal(4, copy.ExitCode);
        Assert.Contains($"error: --to-dsn: the store at {target.Store.Location} is at schema version {latest + 1}, newer than this apigate knows ({latest})",
            copy.Error, StringComparison.Ordinal);
        Assert.Null(await target.Store.FindPlanAsync("pro", None));
    }

    [Theory]
    [InlineData("key-two", "cannot be decrypted: APIGATE_SECRET_KEY differs from the key it was written with; nothing was copied")]
    [InlineData("", "is encrypted: set APIGATE_SECRET_KEY to the key it was written with; nothing was copied")]
    public async Task StoreCopy_SecretsTheKeyDoesNotRead_RefusedNamingTheKeySetting_TargetNeverCreated(string key, string problem)
    {
        // Arrange: a store whose upstream credential is encrypted with key-one
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await using (var keyed = GatewayStores.Create(GatewayStores.Sqlite, source.Dsn, new SecretProtector("key-one")))
        {
            await keyed.InitializeAsync(None);
            await new UpstreamService(keyed, TimeProvider.System).CreateAsync(new UpstreamInput { Name = "Billing", Url = "http://127.0.0.1:9001", AuthType = "bearer", AuthValue = "upstream-secret" }.Parsed(), None);
        }

        string upstreamId;
        await using (var connection = await source.OpenRawAsync())
        {
            upstreamId = (await Dapper.SqlMapper.ExecuteScalarAsync<string>(connection, "SELECT id FROM upstreams"))!;
        }

        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        var environment = new Dictionary<string, string>(source.Environment) { ["APIGATE_SECRET_KEY"] = key };

        // Act
        var copy = await CliRunner.RunAsync(environment, "store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains($"error: upstreams row {upstreamId} (auth_value): a stored secret (upstream credential, webhook signing secret or the forms key) {problem}",
            copy.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(targetDsn));
    }

    [Fact]
    public async Task StoreCopy_SecretsUnderThePreviousKey_WrittenToTheTargetWithTheCurrentKey()
    {
        // Arrange: an upstream credential and a webhook signing secret encrypted with the key being rotated out
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        string signingSecret;
        await using (var keyed = GatewayStores.Create(GatewayStores.Sqlite, source.Dsn, new SecretProtector("key-one")))
        {
            await keyed.InitializeAsync(None);
            await new UpstreamService(keyed, TimeProvider.System).CreateAsync(new UpstreamInput { Name = "Billing", Url = "http://127.0.0.1:9001", AuthType = "bearer", AuthValue = "upstream-secret" }.Parsed(), None);
            signingSecret = (await new WebhookService(keyed, TimeProvider.System).CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["user.created"] }, None)).Value!.Secret;
        }

        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        var environment = new Dictionary<string, string>(source.Environment) { ["APIGATE_SECRET_KEY"] = "key-two", ["APIGATE_SECRET_KEY_PREVIOUS"] = "key-one" };

        // Act
        var copy = await CliRunner.RunAsync(environment, "store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert: the target's gateways, given only the current key, read both
        Assert.Equal(0, copy.ExitCode);
        await using var target = GatewayStores.Create(GatewayStores.Sqlite, targetDsn, new SecretProtector("key-two"));
        await target.InitializeAsync(None);
        Assert.Equal("upstream-secret", Assert.Single((await target.LoadConfigAsync(None)).Upstreams).AuthValue);
        Assert.Equal(0, await target.CountSecretsNotUnderCurrentKeyAsync(None));
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + targetDsn);
        var storedSecret = await Dapper.SqlMapper.ExecuteScalarAsync<string>(connection, "SELECT secret FROM webhook_endpoints");
        Assert.Equal(signingSecret, new SecretProtector("key-two").Unprotect(storedSecret!));
    }

    [PostgresFact]
    public async Task StoreCopy_EmptyPostgresSource_RefusedAndNoSchemaCreatedInIt()
    {
        // Arrange: a PostgreSQL schema with no store in it, and a SQLite target
        var sourceDsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = sourceDsn };

        // Act
        var copy = await CliRunner.RunAsync(environment, "store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(2, copy.ExitCode);
        Assert.Contains("error: database.dsn (APIGATE_DATABASE_DSN / --database): there is no store at postgres://", copy.Error, StringComparison.Ordinal);
        Assert.Contains(" to copy from; check the path or DSN", copy.Error, StringComparison.Ordinal);
        await using var connection = new Npgsql.NpgsqlConnection(sourceDsn);
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"));
        Assert.False(File.Exists(targetDsn));
    }

    [PostgresFact]
    public async Task StoreCopy_TargetRefusesARow_ErrorNamesToDsnAndTheTable_NotThePassword_NoSchemaLeftInTheTarget()
    {
        // Arrange: a plan description holding a NUL (written past the admin API), which SQLite keeps and PostgreSQL's
        // text refuses
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        await using (var connection = await source.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE plans SET description = 'fast' || char(0) WHERE id = 'pro'");
        }

        var targetDsn = await engines.NewDsnAsync(GatewayStores.Postgres) + ";Password=Hunter2Copy";

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains("error: --to-dsn: writing the plans table to the target failed, nothing was copied: ", copy.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Hunter2Copy", copy.Error + copy.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("APIGATE_DATABASE_DSN", copy.Error, StringComparison.Ordinal);
        await using var target = new Npgsql.NpgsqlConnection(targetDsn);
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(target, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"));
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(target,
            "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"));
    }

    [PostgresFact]
    public async Task StoreCopy_NulCharactersInASqliteSource_EachRefusalNamesTableRowAndColumnNotTheValue_NothingLeftInTheTarget_TheFixedSourceCopies()
    {
        // Arrange: a SQLite install (no secret key: the credential is stored, and copied, in plaintext) whose values hold
        // NULs in five tables, written past the admin API: SQLite keeps them, PostgreSQL's text refuses them
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var store = source.Store;
        await new UpstreamService(store, TimeProvider.System).CreateAsync(
            new UpstreamInput { Name = "billing", Url = "http://127.0.0.1:9001", AuthType = "bearer", AuthValue = "cred" }.Parsed(), None);
        var upstream = Assert.Single(await store.ListUpstreamsAsync(None));
        await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var user = (await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = "nul@example.com", Plan = "pro" }, None)).Value!;
        var now = DateTimeOffset.UtcNow;
        // Past the first batch of 5,000, so the row named is the source's, not a place in a batch
        await store.AddUsageEventsAsync(Enumerable.Range(0, 6_000).Select(i => UsageStoreTests.Event(user.Id, now.AddTicks(-i * 10_000L))).ToList(), None);
        await using (var connection = await source.OpenRawAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, """
                UPDATE upstreams SET auth_value = 'upstream-' || char(0) || 'secret-9f2';
                UPDATE plans SET description = 'fast' || char(0) WHERE id = 'pro';
                UPDATE quota_usage SET user_id = user_id || char(0);
                UPDATE usage_events SET path = '/items' || char(0) || '/x' WHERE id = 5500;
                UPDATE usage_rollups SET route_id = 'rte_' || char(0) WHERE id = (SELECT MIN(id) FROM usage_rollups);
                """);
        }

        var targetDsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        var migrated = await engines.CreateAsync(GatewayStores.Postgres); // a new store with its schema already there
        var fixes = new[]
        {
            ($"upstreams row {upstream.Id} (auth_value)", "UPDATE upstreams SET auth_value = 'upstream-secret-9f2'"),
            ("plans row pro (description)", "UPDATE plans SET description = 'fast' WHERE id = 'pro'"),
            ($"quota_usage row user_id={user.Id}\\0, period_start=", $"UPDATE quota_usage SET user_id = '{user.Id}'"),
            ("usage_events row 5500 (path)", "UPDATE usage_events SET path = '/items' WHERE id = 5500"),
            ("usage_rollups row granularity=", "UPDATE usage_rollups SET route_id = 'rte_1' WHERE route_id <> 'rte_1'"),
        };

        foreach (var (named, fix) in fixes)
        {
            // Act
            var copy = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn);
            var intoMigrated = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", migrated.Dsn);

            // Assert: the table, the row by its key and the column, never the value; nothing of it in either target
            var table = named[..named.IndexOf(' ', StringComparison.Ordinal)];
            foreach (var refused in new[] { copy, intoMigrated })
            {
                Assert.Equal(1, refused.ExitCode);
                Assert.Contains($"error: --to-dsn: writing the {table} table to the target failed, nothing was copied: {named}", refused.Error, StringComparison.Ordinal);
                Assert.Contains("holds a NUL character (U+0000), which the target's text cannot hold: remove it from that value in the source store, then copy again",
                    refused.Error, StringComparison.Ordinal);
                Assert.DoesNotContain("secret-9f2", refused.Error + refused.Output, StringComparison.Ordinal);
                Assert.DoesNotContain("\0", refused.Error + refused.Output, StringComparison.Ordinal);
                Assert.Equal("", refused.Output);
            }

            if (table == "usage_rollups")
            {
                Assert.Contains($", user_id={user.Id}, key_id=key_1, route_id=rte_\\0, status_class=2 (route_id)", copy.Error, StringComparison.Ordinal);
            }

            await using (var target = new Npgsql.NpgsqlConnection(targetDsn))
            {
                Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(target, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"));
            }

            await using (var target = await migrated.OpenRawAsync())
            {
                Assert.Equal((0L, "free", 0L, 0L, 0L), (
                    await Dapper.SqlMapper.ExecuteScalarAsync<long>(target, "SELECT COUNT(*) FROM upstreams"),
                    await Dapper.SqlMapper.ExecuteScalarAsync<string>(target, "SELECT string_agg(id, ',') FROM plans"),
                    await Dapper.SqlMapper.ExecuteScalarAsync<long>(target, "SELECT COUNT(*) FROM users"),
                    await Dapper.SqlMapper.ExecuteScalarAsync<long>(target, "SELECT COUNT(*) FROM usage_events"),
                    await Dapper.SqlMapper.ExecuteScalarAsync<long>(target, "SELECT COUNT(*) FROM usage_rollups")));
            }

            await using var connection = await source.OpenRawAsync();
            await Dapper.SqlMapper.ExecuteAsync(connection, fix);
        }

        // Act: the source without NULs
        var copied = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn, "--json");
        var copiedIntoMigrated = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", migrated.Dsn, "--json");

        // Assert: both targets, left as they were by the refusals, take the whole store
        foreach (var done in new[] { copied, copiedIntoMigrated })
        {
            Assert.Equal(0, done.ExitCode);
            Assert.Equal(6_000, System.Text.Json.JsonDocument.Parse(done.Output).RootElement.GetProperty("rows").GetProperty("usage_events").GetInt64());
        }

        await using var copiedStore = GatewayStores.Create(GatewayStores.Postgres, targetDsn, new SecretProtector(null));
        await copiedStore.InitializeAsync(None);
        Assert.Equal("upstream-secret-9f2", Assert.Single((await copiedStore.LoadConfigAsync(None)).Upstreams).AuthValue);
        Assert.Equal(
            await store.GetUsageSummaryAsync(user.Id, now.AddDays(-1), now.AddDays(1), None),
            await copiedStore.GetUsageSummaryAsync(user.Id, now.AddDays(-1), now.AddDays(1), None));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StoreCopy_SqliteTargetRefusesARow_AFileTheCopyCreatedIsDeleted_AnExistingOneKept(bool targetExists)
    {
        // Arrange: a user whose plan is gone (written with foreign keys off), which the target refuses
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        await AddAUserWhosePlanIsGoneAsync(source);

        var targetDsn = targetExists ? (await engines.CreateAsync(GatewayStores.Sqlite)).Dsn : await engines.NewDsnAsync(GatewayStores.Sqlite);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains("error: --to-dsn: writing the users table to the target failed, nothing was copied: ", copy.Error, StringComparison.Ordinal);
        Assert.Equal(targetExists, File.Exists(targetDsn));
        if (targetExists)
        {
            await using var target = GatewayStores.Create(GatewayStores.Sqlite, targetDsn, new SecretProtector(null));
            await target.InitializeAsync(None);
            Assert.Null(await target.FindPlanAsync("pro", None));
        }
        else
        {
            Assert.False(File.Exists(targetDsn + "-wal"));
            Assert.False(File.Exists(targetDsn + "-shm"));
        }
    }

    [Fact]
    public async Task StoreCopy_SqliteTargetASymbolicLinkToANewFile_CopyFails_TheFileCreatedIsDeleted_TheLinkKept()
    {
        // Arrange: a user whose plan is gone (written with foreign keys off), which the target refuses; --to-dsn a link,
        // made before the copy, to a file not yet there in another directory
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await AddAUserWhosePlanIsGoneAsync(source);

        var realFile = await engines.NewDsnAsync(GatewayStores.Sqlite);
        var link = Path.Combine(Path.GetDirectoryName(await engines.NewDsnAsync(GatewayStores.Sqlite))!, "link.db");
        File.CreateSymbolicLink(link, realFile);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", link);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains("error: --to-dsn: writing the users table to the target failed, nothing was copied: ", copy.Error, StringComparison.Ordinal);
        Assert.Equal(realFile, new FileInfo(link).LinkTarget);
        Assert.False(File.Exists(realFile));
        Assert.False(File.Exists(realFile + "-wal"));
        Assert.False(File.Exists(realFile + "-shm"));
        Assert.False(File.Exists(link + "-wal"));
    }

    [Fact]
    public async Task StoreCopy_SqliteTargetAnEmptyFileMadeBefore_CopyFails_TheFileKeptEmpty()
    {
        // Arrange: a user whose plan is gone (written with foreign keys off), which the target refuses; --to-dsn a file
        // of 0 bytes made ahead of the copy (touch, a mount point for one file), which SQLite takes as a new database
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await AddAUserWhosePlanIsGoneAsync(source);

        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        await File.WriteAllBytesAsync(targetDsn, []);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains("error: --to-dsn: writing the users table to the target failed, nothing was copied: ", copy.Error, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(targetDsn).Length);
        Assert.False(File.Exists(targetDsn + "-wal"));
        Assert.False(File.Exists(targetDsn + "-shm"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StoreCopy_SqliteTargetInDirectoriesNotThereYet_CopyFails_TheDirectoriesItCreatedAreRemoved_ThoseThereBeforeKept(bool firstThere)
    {
        // Arrange: a user whose plan is gone (written with foreign keys off), which the target refuses; --to-dsn three
        // directories down from one that exists, the first of them there already or not
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await AddAUserWhosePlanIsGoneAsync(source);
        var existing = Path.GetDirectoryName(await engines.NewDsnAsync(GatewayStores.Sqlite))!;
        var first = Path.Combine(existing, "a");
        if (firstThere)
        {
            Directory.CreateDirectory(first);
        }

        var targetDsn = Path.Combine(first, "b", "c", "apigate.db");

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains("error: --to-dsn: writing the users table to the target failed, nothing was copied: ", copy.Error, StringComparison.Ordinal);
        Assert.Equal(firstThere ? [first] : [], Directory.GetFileSystemEntries(existing));
        Assert.Equal([], firstThere ? Directory.GetFileSystemEntries(first) : []);
    }

    [Fact]
    public async Task StoreCopy_SqliteTargetInDirectoriesNotThereYetThatCannotBeOpened_TheOpenErrorAsItWas_TheDirectoriesItCreatedAreRemoved()
    {
        // Arrange: --to-dsn a file whose name no file system takes (300 characters), two directories down from one that
        // exists: the directories are made, then the file there cannot be opened
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var existing = Path.GetDirectoryName(await engines.NewDsnAsync(GatewayStores.Sqlite))!;
        var targetFile = Path.Combine(existing, "a", "b", new string('x', 300) + ".db");

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetFile);

        // Assert
        Assert.Equal((1, $"error: cannot open the store at {targetFile} (--to-dsn): unable to open database file\n"),
            (copy.ExitCode, copy.Diagnostics.ReplaceLineEndings("\n")));
        Assert.Empty(Directory.GetFileSystemEntries(existing));
    }

    [Fact]
    public async Task StoreCopy_SqliteTargetDirectoryNameTooLongTwoDirectoriesDown_TheCreateErrorAsItWas_TheDirectoriesMadeBeforeItAreRemoved()
    {
        // Arrange: --to-dsn under two directories not there yet and then one whose name no file system takes (300
        // characters): the first two are made, then making the third fails
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var existing = Path.GetDirectoryName(await engines.NewDsnAsync(GatewayStores.Sqlite))!;
        var tooLong = Path.Combine(existing, "a", "b", new string('x', 300));
        var targetFile = Path.Combine(tooLong, "apigate.db");

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetFile);

        // Assert
        Assert.Equal((1, $"error: cannot create the directory of the store at {targetFile} (--to-dsn): " +
                         $"The path '{tooLong}' is too long, or a component of the specified path is too long.\n"),
            (copy.ExitCode, copy.Diagnostics.ReplaceLineEndings("\n")));
        Assert.Empty(Directory.GetFileSystemEntries(existing));
    }

    [Fact]
    public async Task StoreCopy_SqliteTargetHoldingOnlyOtherTables_CopyFails_TheFileIsLeftByteForByteAsItWas()
    {
        // Arrange: a user whose plan is gone (written with foreign keys off), which the target refuses; --to-dsn a
        // SQLite database of another application's (a table and a row, no store)
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await AddAUserWhosePlanIsGoneAsync(source);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        await WriteAnotherApplicationsDatabaseAsync(targetDsn);
        var before = await File.ReadAllBytesAsync(targetDsn);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Contains("error: --to-dsn: writing the users table to the target failed, nothing was copied: ", copy.Error, StringComparison.Ordinal);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={targetDsn};Mode=ReadOnly;Pooling=False"))
        {
            Assert.Equal(["notes"], await Dapper.SqlMapper.QueryAsync<string>(connection, "SELECT name FROM sqlite_master WHERE type = 'table'"));
        }

        Assert.Equal(before, await File.ReadAllBytesAsync(targetDsn));
        Assert.Equal([targetDsn], Directory.GetFileSystemEntries(Path.GetDirectoryName(targetDsn)!));
    }

    [Fact]
    public async Task StoreCopy_SqliteTargetHoldingOnlyOtherTables_Copied_TheOtherTablesKeptBesideTheStore()
    {
        // Arrange: a plan in the source; --to-dsn a SQLite database of another application's (a table and a row, no store)
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        await WriteAnotherApplicationsDatabaseAsync(targetDsn);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(0, copy.ExitCode);
        await using var target = GatewayStores.Create(GatewayStores.Sqlite, targetDsn, new SecretProtector(null));
        await target.InitializeAsync(None);
        Assert.NotNull(await target.FindPlanAsync("pro", None));
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + targetDsn);
        Assert.Equal("kept", await Dapper.SqlMapper.ExecuteScalarAsync<string>(connection, "SELECT body FROM notes"));
    }

    /// <summary>A SQLite database of another application's at <paramref name="path"/>: one table, one row, no store.</summary>
    private static async Task WriteAnotherApplicationsDatabaseAsync(string path)
    {
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes (body) VALUES ('kept')");
        }
    }

    [PostgresFact]
    public async Task StoreCopy_AnotherSchemaOfTheSameDatabase_Copied_TheSameSchemaRefused()
    {
        // Arrange: two schemas of one database (the same host and database, another search path)
        var source = await engines.CreateAsync(GatewayStores.Postgres);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Postgres);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn);
        var itself = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", source.Dsn);

        // Assert
        Assert.Equal(0, copy.ExitCode);
        await using var target = GatewayStores.Create(GatewayStores.Postgres, targetDsn, new SecretProtector(null));
        await target.InitializeAsync(None);
        Assert.NotNull(await target.FindPlanAsync("pro", None));
        Assert.Equal(2, itself.ExitCode);
        Assert.Contains($"error: --to-dsn: the target is the configured store itself ({source.Store.Location})", itself.Error, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task StoreCopy_PostgresTargetWrittenDuringTheCopy_TheCopyWaitsForTheWriteThenRefuses()
    {
        // Arrange: a migrated, empty target that a gateway is writing a user to (not yet committed)
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var target = await engines.CreateAsync(GatewayStores.Postgres);
        await using var writer = (Npgsql.NpgsqlConnection)await target.OpenRawAsync();
        await using var writing = await writer.BeginTransactionAsync();
        await Dapper.SqlMapper.ExecuteAsync(writer, "INSERT INTO users (id, email, name, plan_id, status, created_at, updated_at) " +
            "VALUES ('usr_late', 'late@example.com', '', 'free', 'active', '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z')", transaction: writing);
        await using var observer = (Npgsql.NpgsqlConnection)await target.OpenRawAsync();

        // Act: the copy starts while the write is under way; the write commits once the copy waits for it (or has ended)
        var copying = source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", target.Dsn);
        for (var i = 0; i < 3000 && !copying.IsCompleted
             && await Dapper.SqlMapper.ExecuteScalarAsync<long>(observer, "SELECT COUNT(*) FROM pg_locks WHERE NOT granted") == 0; i++)
        {
            await Task.Delay(10);
        }

        await writing.CommitAsync();
        var copy = await copying;

        // Assert: the row that came in first is seen, and nothing of the copy is written beside it
        Assert.Equal(4, copy.ExitCode);
        Assert.Contains("already holds data (1 rows)", copy.Error, StringComparison.Ordinal);
        Assert.Null(await target.Store.FindPlanAsync("pro", None));
    }

    [PostgresFact]
    public async Task StoreCopy_PostgresTargetTablesInUsePastTheLockTimeout_RefusedNamingToDsnExitCode1_NothingWritten()
    {
        // Arrange: a migrated, empty target whose users table another connection holds for writing and does not let go
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var target = await engines.CreateAsync(GatewayStores.Postgres);
        await using var holder = (Npgsql.NpgsqlConnection)await target.OpenRawAsync();
        await using var holding = await holder.BeginTransactionAsync();
        await Dapper.SqlMapper.ExecuteAsync(holder, "LOCK TABLE users IN ROW EXCLUSIVE MODE", transaction: holding);
        var version = await target.Store.GetConfigVersionAsync(None);

        // Act
        var copy = await source.CliAsync(TimeSpan.FromSeconds(1), "store", "copy", "--to-driver", "postgres", "--to-dsn", target.Dsn);
        await holding.RollbackAsync();

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Equal($"error: --to-dsn: the tables of the store at {target.Store.Location} stayed in use by another connection for 1 s (a gateway or command " +
                     "writing to it?); nothing was copied: stop what writes to the new store, then copy again\n", copy.Diagnostics.ReplaceLineEndings("\n"));
        Assert.Null(await target.Store.FindPlanAsync("pro", None));
        Assert.NotNull(await target.Store.FindPlanAsync("free", None)); // the seeded plan, not deleted
        Assert.Equal(version, await target.Store.GetConfigVersionAsync(None));
    }

    [PostgresFact]
    public async Task StoreCopy_PostgresTargetMigrationLockHeldPastTheLockTimeout_RefusedNamingToDsnExitCode1_NothingCreated()
    {
        // Arrange: a new, empty target; another session holds the migration lock (an 'apigate migrate' that does not end)
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        await new PlanService(source.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        await using var holder = new Npgsql.NpgsqlConnection(targetDsn);
        await holder.OpenAsync();
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_lock(@Key)", new { Key = ApiGate.Storage.Postgres.PostgresGatewayStore.MigrationLock });
        string location;
        await using (var described = GatewayStores.Create(GatewayStores.Postgres, targetDsn, new SecretProtector(null)))
        {
            location = described.Location;
        }

        // Act: the lock is let go once the copy has ended, or after 15 s (a copy still waiting then would wait for ever)
        var copying = source.CliAsync(TimeSpan.FromSeconds(1), "store", "copy", "--to-driver", "postgres", "--to-dsn", targetDsn);
        await Task.WhenAny(copying, Task.Delay(TimeSpan.FromSeconds(15)));
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_unlock(@Key)", new { Key = ApiGate.Storage.Postgres.PostgresGatewayStore.MigrationLock });
        var copy = await copying;

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Equal($"error: --to-dsn: another process held the migration lock of the store at {location} for 1 s (an 'apigate migrate', " +
                     "or a gateway starting on it, still migrating it?); nothing was copied: let it finish, then copy again\n", copy.Diagnostics.ReplaceLineEndings("\n"));
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(holder, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"));
    }

    [PostgresFact]
    public async Task StoreCopy_TwoCopiesAtOnceWithDifferentLockTimeouts_EachGivesUpAfterItsOwn()
    {
        // Arrange: two migrated, empty targets whose users tables other connections hold for writing and do not let go
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var targets = new[] { await engines.CreateAsync(GatewayStores.Postgres), await engines.CreateAsync(GatewayStores.Postgres) };
        var holders = new List<(Npgsql.NpgsqlConnection Connection, Npgsql.NpgsqlTransaction Transaction)>();
        foreach (var target in targets)
        {
            var holder = (Npgsql.NpgsqlConnection)await target.OpenRawAsync();
            var holding = await holder.BeginTransactionAsync();
            await Dapper.SqlMapper.ExecuteAsync(holder, "LOCK TABLE users IN ROW EXCLUSIVE MODE", transaction: holding);
            holders.Add((holder, holding));
        }

        // Act: the two copies run at the same time in one process, one waiting 1 s and the other 2 s
        var copies = await Task.WhenAll(
            source.CliAsync(TimeSpan.FromSeconds(1), "store", "copy", "--to-driver", "postgres", "--to-dsn", targets[0].Dsn),
            source.CliAsync(TimeSpan.FromSeconds(2), "store", "copy", "--to-driver", "postgres", "--to-dsn", targets[1].Dsn));
        foreach (var (connection, transaction) in holders)
        {
            await transaction.RollbackAsync();
            await connection.DisposeAsync();
        }

        // Assert
        Assert.Equal([1, 1], copies.Select(c => c.ExitCode));
        Assert.Contains($"the store at {targets[0].Store.Location} stayed in use by another connection for 1 s", copies[0].Diagnostics, StringComparison.Ordinal);
        Assert.Contains($"the store at {targets[1].Store.Location} stayed in use by another connection for 2 s", copies[1].Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreCopy_SourcePathMistyped_RefusedAndNothingCreated()
    {
        // Arrange
        var directory = Directory.CreateTempSubdirectory("apigate-copy-source-").FullName;
        var typo = Path.Combine(directory, "typo.db");
        var target = Path.Combine(directory, "target.db");

        // Act
        var copy = await CliRunner.RunAsync(new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = typo },
            "store", "copy", "--to-driver", "sqlite", "--to-dsn", target);

        // Assert
        Assert.Equal(2, copy.ExitCode);
        Assert.Contains($"there is no store at {typo} to copy from", copy.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(typo));
        Assert.False(File.Exists(target));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task StoreCopy_TargetThatCannotBeOpened_TheErrorNamesToDsnNotTheSourceSetting()
    {
        // Arrange: a file that is not a database where the target's database file should be.
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Sqlite);
        await File.WriteAllTextAsync(targetDsn, "not a database, but long enough for SQLite to read a header from it: " + new string('x', 100));

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Equal($"error: cannot open the store at {targetDsn} (--to-dsn): file is not a database\n", copy.Diagnostics.ReplaceLineEndings("\n"));
    }

    [PostgresFact]
    public Task StoreCopy_WebhookOutboxSqliteToPostgres_KeepsDeliveriesAttemptsAndMarksAndNewIdsFollow() =>
        CopyWebhookOutboxAsync(GatewayStores.Sqlite, GatewayStores.Postgres);

    [PostgresFact]
    public Task StoreCopy_WebhookOutboxPostgresToSqlite_KeepsDeliveriesAttemptsAndMarksAndNewIdsFollow() =>
        CopyWebhookOutboxAsync(GatewayStores.Postgres, GatewayStores.Sqlite);

    /// <summary>A user whose plan is gone, written with foreign keys off: a row every copy target refuses.</summary>
    private static async Task AddAUserWhosePlanIsGoneAsync(EngineStore source)
    {
        await using var connection = await source.OpenRawAsync();
        await Dapper.SqlMapper.ExecuteAsync(connection, "PRAGMA foreign_keys = OFF");
        await Dapper.SqlMapper.ExecuteAsync(connection, "INSERT INTO users (id, email, name, plan_id, status, created_at, updated_at) " +
            "VALUES ('usr_orphan', 'orphan@example.com', '', 'gone', 'active', '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z')");
    }

    private async Task CopyWebhookOutboxAsync(string from, string to)
    {
        // Arrange: an endpoint with deliveries (user and key events, usage crossings), a gap in the delivery ids (an
        // endpoint deleted with its deliveries), one recorded attempt, and the usage marks of a crossed quota
        var origin = await engines.CreateAsync(from);
        var source = origin.Store;
        var webhooks = new WebhookService(source, TimeProvider.System);
        var dropped = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/old", Events = ["user.created"] }, None)).Value!.Endpoint.Id;
        var endpoint = (await webhooks.CreateAsync(new WebhookInput
        {
            Url = "http://127.0.0.1:9/hooks", Events = ["user.created", "key.created", "usage.threshold", "usage.limit"],
        }, None)).Value!.Endpoint.Id;
        await new PlanService(source, TimeProvider.System).CreateAsync(new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10 }, None);
        var user = (await new UserService(source, TimeProvider.System).CreateAsync(new UserChanges { Email = "hooks@example.com", Plan = "ten" }, None)).Value!;
        await new KeyService(source, TimeProvider.System).CreateAsync(new KeyChanges { User = user.Id }, None);
        await webhooks.DeleteAsync(dropped, None);
        source.EnableUsageAlerts(0.8);
        var now = DateTimeOffset.UtcNow;
        await source.AddUsageEventsAsync(Enumerable.Range(0, 10).Select(i => UsageStoreTests.Event(user.Id, now, units: 1) with { RequestId = $"r{i}" }).ToList(), None);
        var claimed = await source.ClaimWebhookDeliveriesAsync("test", now, now.AddMinutes(1), 1, None);
        // Past one copy batch (5,000 rows): the history is copied in batches and nothing falls between them.
        await QueueTestEventsAsync(origin, endpoint, 5_000, now);

        await source.RecordWebhookAttemptAsync(new WebhookAttempt(claimed[0].DeliveryId, now, 503, 12.5, "HTTP 503"), "test", claimed[0].StartedAt, "pending", now.AddMinutes(1), None);
        var before = await source.ListWebhookDeliveriesAsync(endpoint, 10_000, None);
        var targetDsn = await engines.NewDsnAsync(to);

        // Act
        var copied = await origin.CliAsync("store", "copy", "--to-driver", to, "--to-dsn", targetDsn, "--json");

        // Assert: the same deliveries under the same ids, with their attempt; new ids continue after the largest
        Assert.Equal(0, copied.ExitCode);
        var rows = System.Text.Json.JsonDocument.Parse(copied.Output).RootElement.GetProperty("rows");
        Assert.Equal(5_004, before.Count);
        Assert.Equal(before.Count, rows.GetProperty("webhook_deliveries").GetInt64());
        Assert.Equal(1, rows.GetProperty("webhook_attempts").GetInt64());
        Assert.Equal(2, rows.GetProperty("webhook_usage_marks").GetInt64());
        Assert.Equal(5_004, rows.GetProperty("webhook_events").GetInt64()); // user.created went to both endpoints: one event
        await using var target = GatewayStores.Create(to, targetDsn, new SecretProtector(null));
        await target.InitializeAsync(None);
        var after = await target.ListWebhookDeliveriesAsync(endpoint, 10_000, None);
        Assert.Equal(Shape(before), Shape(after));
        Assert.Equal("HTTP 503", Assert.Single(after.Single(d => d.Id == claimed[0].DeliveryId).Attempts).Error);
        await target.AddWebhookEventAsync(WebhookEvent.Create(WebhookEventTypes.Test, new System.Text.Json.Nodes.JsonObject(), null, now), endpoint, None);
        Assert.Equal(before.Max(d => d.Id) + 1, (await target.ListWebhookDeliveriesAsync(endpoint, 1, None))[0].Id);

        // ...and the quota crossings already notified are not notified again
        target.EnableUsageAlerts(0.8);
        await target.AddUsageEventsAsync([UsageStoreTests.Event(user.Id, now, units: 1) with { RequestId = "r10" }], None);
        Assert.Equal(before.Count + 1, (await target.ListWebhookDeliveriesAsync(endpoint, 10_000, None)).Count);
    }

    /// <summary>
    /// Queues <paramref name="count"/> test events for <paramref name="endpointId"/> with the two statements
    /// <see cref="IWebhookStore.AddWebhookEventAsync"/> queues one with, in one transaction: a commit per event made
    /// each outbox copy test spend some 20 s writing its source.
    /// </summary>
    private static async Task QueueTestEventsAsync(EngineStore store, string endpointId, int count, DateTimeOffset now)
    {
        var at = ApiGate.Storage.Rows.StoredValues.Time(now);
        await using var connection = await store.OpenRawAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        for (var i = 0; i < count; i++)
        {
            var queued = WebhookEvent.Create(WebhookEventTypes.Test, new System.Text.Json.Nodes.JsonObject { ["n"] = i }, null, now);
            await Dapper.SqlMapper.ExecuteAsync(connection, "INSERT INTO webhook_events (id, type, user_id, body, created_at) VALUES (@Id, @Type, @UserId, @Body, @At)",
                new { queued.Id, queued.Type, queued.UserId, queued.Body, At = at }, transaction);
            Assert.Equal(1, await Dapper.SqlMapper.ExecuteAsync(connection, """
                INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempt_count, next_attempt_at, lease_owner, lease_until, started_at, updated_at)
                SELECT id, @EventId, 'pending', 0, @At, '', '', @At, @At FROM webhook_endpoints WHERE id = @EndpointId
                """, new { EventId = queued.Id, At = at, EndpointId = endpointId }, transaction));
        }

        await transaction.CommitAsync();
    }

    private static List<(long, string, string, string, int, string)> Shape(IReadOnlyList<WebhookDelivery> deliveries) =>
        deliveries.Select(d => (d.Id, d.EventId, d.EventType, d.Status, d.AttemptCount, string.Join(",", d.Attempts.Select(a => $"{a.StatusCode}:{a.Error}")))).ToList();

    private static List<(DateTimeOffset, string, int, long, long, long, double, string)> ToTuples(IReadOnlyList<UsageRollup> rollups) =>
        rollups.Select(r => (r.BucketStart, r.KeyId, r.StatusClass, r.Requests, r.Units, r.ResponseBytes, r.LatencyMsSum, string.Join(",", r.LatencyBuckets))).ToList();

    [PostgresFact]
    public async Task StoreCopy_PostgresTargetTheRoleMayNotCreateTablesIn_RefusedNamingToDsnNotTheSourceSetting_NothingCreated()
    {
        // Arrange: a role that may use the target's schema but not create tables in it (a database made without --owner)
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var targetDsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        var target = new Npgsql.NpgsqlConnectionStringBuilder(targetDsn);
        var role = "copier_" + Guid.NewGuid().ToString("N")[..8];
        await PostgresServer.ExecuteAsync(targetDsn, $"CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {target.SearchPath} TO {role}");
        var asRole = new Npgsql.NpgsqlConnectionStringBuilder(targetDsn) { Username = role }.ConnectionString;

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", asRole);

        // Assert
        Assert.Equal(1, copy.ExitCode);
        Assert.Equal($"error: PostgreSQL at {target.Host}:{target.Port} (--to-dsn) refused: permission denied for schema {target.SearchPath} (42501)",
            copy.Diagnostics.Trim());
        await using var connection = new Npgsql.NpgsqlConnection(targetDsn);
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"));
    }

    [Fact]
    public async Task StoreCopy_PostgresTargetUnreachable_OneLineNamingToDsnAndHostNotPassword()
    {
        // Arrange
        var source = await engines.CreateAsync(GatewayStores.Sqlite);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", "postgres://apigate:hunter2@127.0.0.1:1/apigate");

        // Assert: said as at start (the target is asked which store it is before it is opened)
        Assert.Equal(1, copy.ExitCode);
        Assert.StartsWith("error: cannot connect to PostgreSQL at 127.0.0.1:1 (--to-dsn): ", copy.Diagnostics, StringComparison.Ordinal);
        Assert.Single(copy.Diagnostics.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("hunter2", copy.Error + copy.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgres://apigate:hunter2@127.0.0.1:1/apigate")]
    [InlineData("Host=127.0.0.1;Port=1;Username=apigate;Password=hunter2;Database=apigate")]
    public async Task UsersList_PostgresUnreachable_OneLineNamingSettingAndHostNotPassword(string dsn)
    {
        // Arrange
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = dsn };

        // Act
        var listed = await CliRunner.RunAsync(environment, "users", "list");
        var served = await CliRunner.RunAsync(environment, "serve", "--port", "0", "--host", "127.0.0.1");

        // Assert
        foreach (var result in new[] { listed, served })
        {
            Assert.Equal(1, result.ExitCode);
            var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: cannot connect to PostgreSQL at 127.0.0.1:1 (APIGATE_DATABASE_DSN", line, StringComparison.Ordinal);
            Assert.DoesNotContain("hunter2", result.Error + result.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Password=hunter2;Bogus Key=1", "is not a PostgreSQL connection string")]
    [InlineData("Host=127.0.0.1;Port=abc;Password=hunter2", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@127.0.0.1:notaport/apigate", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@127.0.0.1:5432,127.0.0.1:notaport/apigate", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@::1,127.0.0.1/apigate", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@[::1:5432,127.0.0.1/apigate", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@[db.internal]:5432,127.0.0.1/apigate", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@db1:,db2/apigate", "is not a PostgreSQL connection string")]
    [InlineData("Password=hunter2", "names no PostgreSQL host")]
    public async Task UsersList_PostgresDsnMalformed_InvalidInputNamingSettingNotPassword(string dsn, string problem)
    {
        // Arrange
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = dsn };

        // Act
        var result = await CliRunner.RunAsync(environment, "users", "list");
        var validated = await CliRunner.RunAsync(environment, "config", "validate");

        // Assert: invalid input (exit 2) like every other malformed setting, not a failure to reach the store (1)
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: invalid configuration: database.dsn (from APIGATE_DATABASE_DSN): " + problem, line, StringComparison.Ordinal);
        Assert.NotEqual(0, validated.ExitCode);
        Assert.Contains("database.dsn", validated.Output + validated.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.Error + result.Output + validated.Output + validated.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Couldn't set foo (Parameter 'foo')", "Host=x;Password=a;Foo=bar", "Couldn't set foo (Parameter 'foo')")]
    [InlineData("Requested value 'bogus' was not found.", "postgres://u:a@h/db?sslmode=bogus", "Requested value 'bogus' was not found.")]
    [InlineData("bad value in Password=hunter2;Host=x", "Host=x;Password=hunter2", "bad value in Password=***;Host=x")]
    [InlineData("at postgres://u:p4ss@h/db", "postgres://u:p4ss@h/db", "at postgres://u:***@h/db")]
    public void Redact_DriverMessage_MasksThePasswordWhereItIsAWordAndLeavesOtherWordsWhole(string message, string dsn, string expected)
    {
        // A short password ('a') must not turn the driver's message into "P***r***meter".
        Assert.Equal(expected, ApiGate.Storage.Postgres.PostgresDsn.Redact(message, dsn));
    }

    [PostgresFact]
    public async Task UsersList_PostgresUrlWithASocketDirectoryAsItsHost_ConnectsThroughTheSocket()
    {
        // Arrange: libpq's way of naming a Unix-domain socket in a URL: its directory, percent-encoded, as the host
        var server = await PostgresServer.Shared();
        var database = new Npgsql.NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()).Database;
        var url = $"postgres://postgres@{Uri.EscapeDataString(server.SocketDirectory)}:{server.Port}/{database}";
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = url };

        // Act
        var result = await CliRunner.RunAsync(environment, "users", "list");

        // Assert: the store was made in the database the socket leads to
        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"created a new store at postgres://postgres@{server.SocketDirectory}:{server.Port}/{database}", result.Error.Trim());
    }

    [PostgresFact]
    public async Task UsersList_PostgresUrlListingTwoHostsTheFirstDown_ConnectsToTheSecond()
    {
        // Arrange: libpq's URL for a failover: every host, each with its port, and the kind of server wanted
        var server = await PostgresServer.Shared();
        var database = new Npgsql.NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()).Database;
        var hosts = $"127.0.0.1:1,127.0.0.1:{server.Port}";
        var url = $"postgres://postgres@{hosts}/{database}?target_session_attrs=read-write";
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = url };

        // Act
        var result = await CliRunner.RunAsync(environment, "users", "list");

        // Assert: nothing listens on the first; the store was made on the second
        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"created a new store at postgres://postgres@{hosts}/{database}", result.Error.Trim());
    }

    [Theory]
    [InlineData("postgres://app@[::1]:5433,[fe80::1]/apigate", "[::1]:5433,[fe80::1]")]
    [InlineData("postgres://app@[::1],db2.internal:5433/apigate", "[::1],db2.internal:5433")]
    public void Parse_UrlListingIPv6AddressesInBrackets_HostListKeepsThemForTheDriver(string dsn, string hosts)
    {
        // Act
        var builder = ApiGate.Storage.Postgres.PostgresDsn.Parse(dsn);

        // Assert: written as the driver reads a host list (brackets kept, each entry with its own port)
        Assert.Equal(hosts, builder.Host);
    }

    [Theory]
    [InlineData("postgres://app:hunter2@[fd00::5]:6543/apigate", "[fd00::5]:6543", "postgres://app@[fd00::5]:6543/apigate")]
    [InlineData("postgres://app@[::1]/apigate", "[::1]:5432", "postgres://app@[::1]:5432/apigate")]
    [InlineData("Host=fd00::5;Port=6543;Username=app;Database=apigate", "[fd00::5]:6543", "postgres://app@[fd00::5]:6543/apigate")]
    [InlineData("postgres://app@db.internal/apigate", "db.internal:5432", "postgres://app@db.internal:5432/apigate")]
    [InlineData("postgres://app@%2Fvar%2Frun%2Fpostgresql/apigate", "/var/run/postgresql:5432", "postgres://app@/var/run/postgresql:5432/apigate")]
    public void HostOf_IPv6Address_InBracketsSoItsLastGroupIsNotReadAsThePort(string dsn, string host, string location)
    {
        // Act
        var builder = ApiGate.Storage.Postgres.PostgresDsn.Parse(dsn);

        // Assert: "PostgreSQL at ::1:5432" named no port anyone could tell from the address
        Assert.Equal(host, ApiGate.Storage.Postgres.PostgresDsn.HostOf(builder));
        Assert.Equal(location, ApiGate.Storage.Postgres.PostgresDsn.Describe(builder));
    }

    [Theory]
    [InlineData("postgres:///apigate?host=/var/run/postgresql&user=app", "/var/run/postgresql", "app", "apigate")]
    [InlineData("postgres://app@/apigate?host=/var/run/postgresql", "/var/run/postgresql", "app", "apigate")]
    [InlineData("postgresql://db.internal?user=app&dbname=apigate", "db.internal", "app", "apigate")]
    [InlineData("postgres://other@db.internal/other?user=app&dbname=apigate", "db.internal", "app", "apigate")]
    public void Parse_UrlAsLibpqWritesIt_EmptyHostWithHostInTheQueryAndUserAndDbnameParameters(string dsn, string host, string user, string database)
    {
        // Act: refused before as "Couldn't set user" or "The hostname could not be parsed"
        var builder = ApiGate.Storage.Postgres.PostgresDsn.Parse(dsn);

        // Assert
        Assert.Equal((host, user, database), (builder.Host, builder.Username, builder.Database));
    }

    [Fact]
    public void Problem_UrlWithNoHostAnywhere_SaysItNamesNoHost()
    {
        // Act
        var problem = ApiGate.Storage.Postgres.PostgresDsn.Problem("postgres://app:hunter2@/apigate");

        // Assert
        Assert.Equal("names no PostgreSQL host (Host=… or postgres://user@host/database)", problem);
    }

    [Fact]
    public void Parse_UrlWithLibpqSslParameters_MapsThemToTheDriversSettings()
    {
        // Act
        var builder = ApiGate.Storage.Postgres.PostgresDsn.Parse(
            "postgres://app@db.internal/apigate?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&sslcert=/c.pem&sslkey=/k.pem&sslpassword=s3cret");

        // Assert
        Assert.Equal(Npgsql.SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/etc/ca.pem", builder.RootCertificate);
        Assert.Equal("/c.pem", builder.SslCertificate);
        Assert.Equal("/k.pem", builder.SslKey);
        Assert.Equal("s3cret", builder.SslPassword);
    }

    [Theory]
    [InlineData("Host=db.internal;Password=hunter2", 5)]
    [InlineData("Host=db.internal;Command Timeout=30", 5)]
    [InlineData("Host=db.internal;Cancellation Timeout=3000", 5)]
    [InlineData("postgres://app@db.internal/apigate?command%20timeout=30", 5)]
    [InlineData("Host=db.internal;Timeout=15", 15)]
    [InlineData("Host=db.internal;timeout=7", 7)]
    [InlineData("postgres://app@db.internal/apigate?connect_timeout=7", 7)]
    [InlineData("postgres://app@db.internal/apigate?timeout=9", 9)]
    public void Parse_DsnWithOrWithoutAConnectTimeout_OnlyAConnectTimeoutReplacesTheFiveSecondDefault(string dsn, int seconds)
    {
        // Act
        var builder = ApiGate.Storage.Postgres.PostgresDsn.Parse(dsn);

        // Assert: a command or cancellation timeout is no connect timeout (the driver's own default is 15 s)
        Assert.Equal(seconds, builder.Timeout);
    }

    [Fact]
    public async Task UsersList_UnknownDriver_NamesTheSettingAndTheDrivers()
    {
        // Arrange
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "mysql", ["APIGATE_DATABASE_DSN"] = "x" };

        // Act
        var result = await CliRunner.RunAsync(environment, "users", "list");

        // Assert
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("database.driver", result.Error, StringComparison.Ordinal);
        Assert.Contains("'mysql' is not one of sqlite, postgres", result.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Writes route <paramref name="name"/>, as <paramref name="shape"/> makes it, and an upstream for it straight to the
    /// store, past every check a write makes (as a build before a rule could).
    /// </summary>
    /// <summary>
    /// <c>config validate</c> as text (<paramref name="validated"/>) and as JSON (<paramref name="json"/>): valid, exit 0,
    /// no problem, and exactly <paramref name="warnings"/> in order (on stderr as <c>warning: …</c> lines).
    /// </summary>
    private static void AssertValidWithWarnings(CliResult validated, CliResult json, IReadOnlyList<string> warnings)
    {
        Assert.Equal((0, "configuration is valid\n", string.Concat(warnings.Select(w => $"warning: {w}\n"))),
            (validated.ExitCode, validated.Output.ReplaceLineEndings("\n"), validated.Diagnostics.ReplaceLineEndings("\n")));
        Assert.Equal(0, json.ExitCode);
        using var document = System.Text.Json.JsonDocument.Parse(json.Output);
        Assert.True(document.RootElement.GetProperty("valid").GetBoolean());
        Assert.Empty(document.RootElement.GetProperty("problems").EnumerateArray());
        Assert.Equal(warnings, document.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
    }

    private static async Task CreateUpstreamAsync(EngineStore store, string name, string[] targets, string healthPath)
    {
        var now = DateTimeOffset.UtcNow;
        await store.Store.CreateUpstreamAsync(new UpstreamDefinition
        {
            Id = "up_" + name, Name = name, Slug = name, BaseUrl = targets[0], Targets = [.. targets.Select(t => new UpstreamTarget(t))],
            HealthCheck = HealthCheckSettings.Default with { Path = healthPath }, CreatedAt = now, UpdatedAt = now,
        }, None);
    }

    private static async Task CreateRouteAsync(EngineStore store, string name, Func<RouteDefinition, RouteDefinition> shape)
    {
        var now = DateTimeOffset.UtcNow;
        await store.Store.CreateUpstreamAsync(new UpstreamDefinition
        {
            Id = "up_backend", Name = "backend", Slug = "backend", BaseUrl = "http://127.0.0.1:1",
            Targets = [new UpstreamTarget("http://127.0.0.1:1")], CreatedAt = now, UpdatedAt = now,
        }, None);
        await store.Store.CreateRouteAsync(shape(new RouteDefinition
        {
            Id = "rt_" + name, Name = name, Slug = name, PathPattern = $"/{name}/*", UpstreamId = "up_backend", CreatedAt = now, UpdatedAt = now,
        }), None);
    }
}
