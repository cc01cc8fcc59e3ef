using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using ApiGate.Gateway.Tests.Auth;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Xunit.Sdk;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Upgrading from SQLite stores that older builds of apigate really wrote (Storage/Fixtures, README.md there says which
/// build and what each holds): this build's <c>apigate migrate</c> brings each up to date, and a real <c>apigate
/// serve</c> on it — or on the PostgreSQL store <c>apigate store copy</c> makes of it — serves what the operator set up
/// with the old build: its routes, plans and users, its keys (the revoked one refused), its plan's limits and the usage
/// the old build counted, to which a new request is added.
/// </summary>
public sealed class OldBuildStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>, IAsyncLifetime
{
    /// <summary>The month the old builds served their requests in (Storage/Fixtures/README.md).</summary>
    private static readonly DateTimeOffset FixtureMonth = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Requests each old build served with Alice's key (and 2 with Bob's before revoking it).</summary>
    private const long AliceSent = 4;

    private readonly List<ServeProcess> _processes = [];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        await _upstream.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory, OldStoreData(GatewayStores.Sqlite), OldStoreData(GatewayStores.Postgres)]
    public async Task StoreAnOldBuildWrote_MigratedAndServed_KeepsRoutesPlansUsersKeysLimitsAndUsage(OldStore old, string engine)
    {
        // Arrange: the fixture (the old store's dump) made a database again in a directory of its own; the old build's
        // upstream (a port long gone) pointed at ours
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "apigate.db");
        await RestoreDumpAsync(Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", old.File), file);
        var sqlite = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = file };

        // Act
        var migrated = await CliRunner.RunAsync(sqlite, "migrate");
        var cli = sqlite;
        if (engine == GatewayStores.Postgres)
        {
            var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
            var copied = await CliRunner.RunAsync(sqlite, "store", "copy", "--to-driver", "postgres", "--to-dsn", dsn);
            Assert.True(copied.ExitCode == 0, copied.Error);
            cli = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = dsn };
        }

        await CliAsync(cli, "upstreams", "update", "backend", "--url", _upstream.Url);
        var routes = await ListAsync(cli, "routes", "name");
        var plans = await ListAsync(cli, "plans", "id");
        var users = await ListAsync(cli, "users", "email");
        var serve = ServeProcess.Start(cli["APIGATE_DATABASE_DSN"], cli);
        _processes.Add(serve);
        using var client = new HttpClient();
        await serve.WaitUntilReadyAsync(client);
        var recorded = await MonthAsync(cli, FixtureMonth);
        using var alice = await SendAsync(client, serve.Url + "/api/hello", old.AliceKey);
        using var bob = await SendAsync(client, serve.Url + "/api/hello", old.BobKey);
        using var anonymous = await SendAsync(client, serve.Url + "/pub/hello", key: null);
        var thisMonth = new DateTimeOffset(DateTimeOffset.UtcNow.Year, DateTimeOffset.UtcNow.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var before = thisMonth == FixtureMonth ? old.AliceRecorded : 0;
        var counted = await MonthAsync(cli, thisMonth, atLeast: before + 1);
        using var summary = JsonDocument.Parse(await CliAsync(cli, "usage", "summary", "--email", "alice@example.com", "--json"));
        using var recent = JsonDocument.Parse(await CliAsync(cli, "usage", "recent", "--email", "alice@example.com", "--json"));
        var times = recent.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("timestamp").GetDateTimeOffset()).ToList();

        // Assert: migrated from the old build's schema to this one's
        Assert.True(migrated.ExitCode == 0, migrated.Error);
        Assert.EndsWith($"applied migration {LatestVersion}: {LatestMigration}{Environment.NewLine}schema is now at version {LatestVersion}{Environment.NewLine}",
            migrated.Output, StringComparison.Ordinal);
        Assert.StartsWith($"applied migration {old.SchemaVersion + 1}: ", migrated.Output, StringComparison.Ordinal);
        // what the operator set up is all there
        Assert.Equal(["api", "public"], routes.Order(StringComparer.Ordinal));
        Assert.Equal(["free", "pro"], plans.Order(StringComparer.Ordinal));
        Assert.Equal(["alice@example.com", "bob@example.com"], users.Order(StringComparer.Ordinal));
        // Alice's key still authenticates: the upstream is told who she is, on which plan, with the plan's entitlement
        Assert.Equal(HttpStatusCode.OK, alice.StatusCode);
        var seen = _upstream.Received.Single(r => r.Path == "/api/hello");
        Assert.Equal((old.AliceUserId, "pro", "true"), (seen.Headers["X-User-ID"].Single(), seen.Headers["X-Plan-ID"].Single(), seen.Headers["X-Entitlement-Webhooks"].Single()));
        // the plan's limits: 600 a minute and a burst of 5; 1,000 a month, with what the old build counted in its month
        Assert.Equal(("605", "604"), (Header(alice, "X-RateLimit-Limit"), Header(alice, "X-RateLimit-Remaining")));
        var used = (thisMonth == FixtureMonth ? AliceSent : 0) + 1;
        Assert.Equal(("1000", used.ToString(CultureInfo.InvariantCulture)), (Header(alice, "X-Quota-Limit"), Header(alice, "X-Quota-Used")));
        // Bob's key was revoked by the old build; the public route needs no key
        await AuthenticationTests.AssertErrorAsync(bob, HttpStatusCode.Unauthorized, "key_revoked");
        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
        // the usage the old build recorded is still counted, and the new request is added to it
        Assert.Equal(old.AliceRecorded, recorded);
        Assert.Equal(before + 1, counted);
        Assert.Equal((before + 1, used), (summary.RootElement.GetProperty("requests").GetInt64(), summary.RootElement.GetProperty("quota_used").GetInt64()));
        // and its events are listed with the times it gave them, after the new one
        Assert.Equal(old.AliceRecorded + 1, times.Count);
        Assert.All(times.Skip(1), time => Assert.InRange(time, FixtureMonth, FixtureMonth.AddMonths(1)));
    }

    /// <summary>This build's last migration, as <c>apigate migrate</c> names it.</summary>
    private const int LatestVersion = 26;

    private const string LatestMigration = "users: the mailbox each address names, indexed";

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string url, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        return await client.SendAsync(request);
    }

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    private static async Task<string> CliAsync(Dictionary<string, string> environment, params string[] args)
    {
        var result = await CliRunner.RunAsync(environment, args);
        Assert.True(result.ExitCode == 0, $"apigate {string.Join(' ', args)}: {result.Error}");
        return result.Output;
    }

    /// <summary>The <paramref name="field"/> of each row <c>apigate NOUN list --json</c> prints.</summary>
    private static async Task<List<string>> ListAsync(Dictionary<string, string> environment, string noun, string field)
    {
        using var listed = JsonDocument.Parse(await CliAsync(environment, noun, "list", "--json"));
        var rows = listed.RootElement.ValueKind == JsonValueKind.Array ? listed.RootElement : listed.RootElement.GetProperty("data");
        return [.. rows.EnumerateArray().Select(row => row.GetProperty(field).GetString()!)];
    }

    /// <summary>
    /// Alice's requests in <paramref name="month"/> as <c>apigate usage history --json</c> reports them; with
    /// <paramref name="atLeast"/>, once they reach it (the gateway writes usage in batches; bounded: 30 s).
    /// </summary>
    private static async Task<long> MonthAsync(Dictionary<string, string> environment, DateTimeOffset month, long atLeast = 0)
    {
        var requests = 0L;
        for (var i = 0; i < 300; i++)
        {
            using var history = JsonDocument.Parse(await CliAsync(environment, "usage", "history", "--email", "alice@example.com", "--months", "120", "--json"));
            requests = history.RootElement.EnumerateArray()
                .Where(row => row.GetProperty("period_start").GetDateTimeOffset() == month)
                .Sum(row => row.GetProperty("requests").GetInt64());
            if (requests >= atLeast)
            {
                break;
            }

            await Task.Delay(100);
        }

        return requests;
    }

    /// <summary>Runs <paramref name="dump"/> (<c>sqlite3 … .dump</c> of a store an old build wrote) into a new database file.</summary>
    private static async Task RestoreDumpAsync(string dump, string file)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = await File.ReadAllTextAsync(dump);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A store fixture an older build wrote (Storage/Fixtures/README.md), with what the test needs to know of it.</summary>
/// <param name="AliceRecorded">Alice's requests the old build recorded as usage events (the first builds counted only the quota).</param>
public sealed record OldStore(string File, int SchemaVersion, string AliceUserId, string AliceKey, string BobKey, long AliceRecorded)
{
    public override string ToString() => File;
}

/// <summary>Each fixture of <see cref="OldBuildStoreTests"/> on one engine; PostgreSQL's skipped as <see cref="EngineDataAttribute"/> skips it.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class OldStoreDataAttribute : DataAttribute
{
    private static readonly OldStore[] Stores =
    [
        new("store-2026-11-29-bf3b14b.sql", 3, "usr_2f5c718cc1c4d150",
            "ak_f592739f415343f19886b5e6685df0f5e05fcd6e343b3cb6295cbc09b9bcb6d9", "ak_30fc4a4db1ed8455790001080726ffc5cac7e18d9e526808bff0262f48d8de04", 0),
        new("store-2026-11-30-e0f3479.sql", 7, "usr_666cf507f297c398",
            "ak_0611c32c4638c677f58c28728cc3bbb0fc82cc6c7b758c495b5fc68a85172d5b", "ak_b832d2cb75aac23a46e2c6eef54e67b032b1beb63dbfc01c3f38cfc338de01d8", 4),
        new("store-2026-12-02-854853f.sql", 16, "usr_8db0a5ab3d87b47f",
            "ak_5cc04de5f95852401508c21676e60bc1860d5ece4185aefd50e063a9d9f23c22", "ak_f041936a640a7f746aa05224a4039aa8ffcf2110c1ed2a8186efd1533ac4ae2a", 4),
    ];

    private readonly string _engine;

    public OldStoreDataAttribute(string engine)
    {
        _engine = engine;
        Skip = engine == GatewayStores.Postgres ? PostgresServer.MissingReason : null;
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => Stores.Select(store => new object[] { store, _engine });
}
