// Amortised CPU per usage event written by the store (docs/performance.md): the gateway process's CPU and, for
// PostgreSQL, the server backend's, over many batches of UsageRecorder.MaxBatchSize events.
// Usage: dotnet run -c Release -- sqlite /tmp/usage-bench.db | postgres "Host=127.0.0.1;Port=5432;Username=postgres;Database=bench"
// BATCH=N events per batch (500), USERS=N distinct users in a batch (50), ALERTS=1 looks for quota crossings as serve does.
using System.Diagnostics;
using System.Globalization;
using ApiGate.Core.Usage;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

var driver = args.Length > 0 ? args[0] : "sqlite";
var dsn = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), $"usage-bench-{Guid.NewGuid():N}.db");
var batchSize = int.TryParse(Environment.GetEnvironmentVariable("BATCH"), out var b) ? b : 500; // events per batch (BATCH, 1..200000)
if (batchSize is < 1 or > 200_000)
{
    Console.Error.WriteLine($"BATCH must be between 1 and 200000 (got {batchSize})");
    return 2;
}

var batches = 200_000 / batchSize;
if (driver == GatewayStores.Postgres)
{
    dsn += ";Maximum Pool Size=1"; // one backend does every write: its CPU is the server's cost
}

await using var store = GatewayStores.Create(driver, dsn, new SecretProtector(null));
await store.InitializeAsync(CancellationToken.None);
if (Environment.GetEnvironmentVariable("ALERTS") == "1")
{
    store.EnableUsageAlerts(0.8); // as serve does: each batch looks for quota crossings (usage.threshold, usage.limit)
}

var users = int.TryParse(Environment.GetEnvironmentVariable("USERS"), out var u) && u > 0 ? u : 50; // distinct users per batch (USERS)
var start = DateTimeOffset.UtcNow;
var batch = Enumerable.Range(0, batchSize).Select(i => new UsageEvent
{
    UserId = $"usr_{i % users}", KeyId = "key_1", RouteId = "rte_1", UpstreamId = "ups_1", Method = "GET", Path = "/items/" + i, Status = 200,
    LatencyMs = 1.25, RequestBytes = 120, ResponseBytes = 2048, Units = 1, ClientIp = "127.0.0.1", RequestId = "req-" + i, Timestamp = start.AddMilliseconds(i),
}).ToList();

for (var i = 0; i < 100; i++)
{
    await store.AddUsageEventsAsync(batch, CancellationToken.None); // warm-up: JIT, pool, server caches
}

var backend = driver == GatewayStores.Postgres ? BackendPid(dsn) : 0;
var serverBefore = backend > 0 ? ProcessCpu(backend) : TimeSpan.Zero;
var process = Process.GetCurrentProcess();
var cpuBefore = process.TotalProcessorTime;
var wall = Stopwatch.StartNew();
for (var i = 0; i < batches; i++)
{
    await store.AddUsageEventsAsync(batch, CancellationToken.None);
}

wall.Stop();
process.Refresh();
var events = (double)batchSize * batches;
var clientUs = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / events;
var serverUs = backend > 0 ? (ProcessCpu(backend) - serverBefore).TotalMicroseconds / events : 0;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{driver}: {events:0} events in batches of {batchSize}: gateway CPU {clientUs:0.00} µs/event, server backend CPU {serverUs:0.00} µs/event, {events / wall.Elapsed.TotalSeconds:0} events/s"));

return 0;

static int BackendPid(string dsn)
{
    using var connection = new Npgsql.NpgsqlConnection(dsn.Replace(";Maximum Pool Size=1", ";Pooling=false", StringComparison.Ordinal));
    connection.Open();
    // The store's own pooled connection: the other client backend on this (otherwise unused) database.
    using var command = new Npgsql.NpgsqlCommand(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'", connection);
    return (int)command.ExecuteScalar()!;
}

// utime + stime from /proc/<pid>/stat, in clock ticks (100 per second on Linux).
static TimeSpan ProcessCpu(int pid)
{
    var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    return TimeSpan.FromSeconds(ticks / 100.0);
}
