// Usage figures for docs/performance.md. Modes:
//   enqueue N        the request side: build a UsageEvent and hand it to UsageRecorder.TryRecord (ns and bytes allocated per event)
//   writer N [raw|noraw]  the writer side: AddUsageEventsAsync in batches of 500 on one thread (CPU µs per event, store bytes per event)
//   steady MINUTES   raw events off at a steady 100 requests/s for one (key, route): store bytes per request
//   prune N          N raw events past retention deleted in batches of 1000 (CPU per row, longest transaction)
//   month            a synthetic month of 50M requests in minute rollups; compaction time; summary/history timings
// Build against an older tree with -p:DefineConstants=LEGACY to measure "before" (writer and enqueue modes only).
using System.Diagnostics;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Persistence;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Usage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

var mode = args.Length > 0 ? args[0] : "writer";
var n = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
var directory = Path.Combine(Path.GetTempPath(), "apigate-usagebench-" + Guid.NewGuid().ToString("N"));
Directory.CreateDirectory(directory);
var path = Path.Combine(directory, "apigate.db");
try
{
    var store = new SqliteGatewayStore(path, new SecretProtector(null));
    await store.InitializeAsync(CancellationToken.None);
    switch (mode)
    {
        case "enqueue":
            await EnqueueAsync(store, n);
            break;
        case "writer":
            await WriterAsync(store, path, n, args.Length < 3 || args[2] != "noraw");
            break;
#if !LEGACY
        case "steady":
            await SteadyAsync(store, path, n);
            break;
        case "prune":
            await PruneAsync(store, path, n);
            break;
        case "month":
            await MonthAsync(store, path);
            break;
#endif
        default:
            Console.WriteLine("unknown mode " + mode);
            return 2;
    }

    await store.DisposeAsync();
}
finally
{
    SqliteConnection.ClearAllPools();
    Directory.Delete(directory, recursive: true);
}

return 0;

static UsageEvent Event(int i, DateTimeOffset at, string key = "key_3f9a2c71d04e", string route = "rt_5b1e08c2") => new()
{
    UserId = "usr_b49664b3c636c427",
    KeyId = key,
    RouteId = route,
    UpstreamId = "up_77c1d2e9",
    Method = "GET",
    Path = "/v1/items/" + (i % 1000),
    Status = i % 50 == 0 ? 502 : 200,
    LatencyMs = 1 + i % 40 * 0.7,
    RequestBytes = 0,
    ResponseBytes = 512 + i % 300,
    Units = 1,
    ClientIp = "10.1.2." + (i % 250),
    RequestId = Guid.NewGuid().ToString("N"),
    Timestamp = at,
};

static async Task EnqueueAsync(SqliteGatewayStore store, int count)
{
    using var writer = new StoreWriter(new StoreMetrics(new NoMeters()), TimeProvider.System, NullLogger<StoreWriter>.Instance);
    var recorder = new UsageRecorder(store, writer, TimeProvider.System, NullLogger<UsageRecorder>.Instance, capacity: count + 1);
    // As MeterStep does: strings the request already holds, a fresh event per request.
    var paths = Enumerable.Range(0, 1000).Select(i => "/v1/items/" + i).ToArray();
    var ids = Enumerable.Range(0, 4096).Select(_ => Guid.NewGuid().ToString("N")).ToArray();
    var at = DateTimeOffset.UtcNow;
    for (var round = 0; round < 2; round++) // the first round warms up the JIT
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            recorder.TryRecord(new UsageEvent
            {
                UserId = "usr_b49664b3c636c427", KeyId = "key_3f9a2c71d04e", RouteId = "rt_5b1e08c2", UpstreamId = "up_77c1d2e9", Method = "GET",
                Path = paths[i % 1000], Status = 200, LatencyMs = 1.5, RequestBytes = 0, ResponseBytes = 512, Units = 1, ClientIp = "10.1.2.3",
                RequestId = ids[i % 4096], Timestamp = at,
            });
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (round == 1)
        {
            Console.WriteLine($"enqueue: {count} events, {elapsed.TotalMilliseconds * 1e6 / count:0.0} ns/event, {(double)allocated / count:0.0} bytes allocated/event, dropped {recorder.Dropped}");
        }

        await recorder.StartAsync(CancellationToken.None);
        await recorder.StopAsync(CancellationToken.None);
        recorder = new UsageRecorder(store, writer, TimeProvider.System, NullLogger<UsageRecorder>.Instance, capacity: count + 1);
    }
}

static async Task WriterAsync(SqliteGatewayStore store, string path, int count, bool raw)
{
    var start = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
    var events = Enumerable.Range(0, count).Select(i => Event(i, start.AddMilliseconds(i * 5))).ToArray(); // 200 requests/s
    Checkpoint(path);
    var baseline = StoreBytes(path);
    var process = Process.GetCurrentProcess();
    var cpu = process.TotalProcessorTime;
    var started = Stopwatch.GetTimestamp();
    for (var i = 0; i < count; i += 500)
    {
        var batch = new ArraySegment<UsageEvent>(events, i, Math.Min(500, count - i));
#if LEGACY
        await store.AddUsageEventsAsync(batch, CancellationToken.None);
#else
        await store.AddUsageEventsAsync(batch, raw ? RawUsageEvents.All : RawUsageEvents.None, CancellationToken.None);
#endif
    }

    var elapsed = Stopwatch.GetElapsedTime(started);
    process.Refresh();
    var used = process.TotalProcessorTime - cpu;
    Checkpoint(path);
    var bytes = StoreBytes(path) - baseline;
    Console.WriteLine($"writer ({(raw ? "raw events on" : "raw events off")}): {count} events, CPU {used.TotalMilliseconds * 1000 / count:0.00} µs/event, " +
        $"wall {elapsed.TotalMilliseconds * 1000 / count:0.00} µs/event, store +{bytes / 1024.0 / 1024:0.0} MiB = {(double)bytes / count:0.0} bytes/event");
}

#if !LEGACY
static async Task SteadyAsync(SqliteGatewayStore store, string path, int minutes)
{
    // 100 requests a second for one (key, route), written as the recorder would: a batch every 200 ms.
    var start = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
    Checkpoint(path);
    var baseline = StoreBytes(path);
    var total = minutes * 60 * 100;
    for (var i = 0; i < total; i += 20)
    {
        var batch = Enumerable.Range(i, 20).Select(j => Event(j, start.AddMilliseconds(j * 10))).ToArray();
        await store.AddUsageEventsAsync(batch, RawUsageEvents.None, CancellationToken.None);
    }

    Checkpoint(path);
    var bytes = StoreBytes(path) - baseline;
    Console.WriteLine($"steady, raw events off: {total} requests over {minutes} min at 100/s for one (key, route): store +{bytes} bytes = {(double)bytes / total:0.000} bytes/request");
}

static async Task PruneAsync(SqliteGatewayStore store, string path, int count)
{
    var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
    for (var i = 0; i < count; i += 500)
    {
        await store.AddUsageEventsAsync([.. Enumerable.Range(i, Math.Min(500, count - i)).Select(j => Event(j, start.AddMilliseconds(j * 5)))], CancellationToken.None);
    }

    Checkpoint(path);
    var process = Process.GetCurrentProcess();
    var cpu = process.TotalProcessorTime;
    var longest = TimeSpan.Zero;
    var times = new List<double>();
    var deleted = 0;
    var batches = 0;
    while (true)
    {
        var began = Stopwatch.GetTimestamp();
        var n = await store.PruneUsageAsync(UsageData.RawEvents, start.AddDays(30), 1000, CancellationToken.None);
        var took = Stopwatch.GetElapsedTime(began);
        longest = took > longest ? took : longest;
        times.Add(took.TotalMilliseconds);
        deleted += n;
        batches++;
        if (n < 1000)
        {
            break;
        }
    }

    process.Refresh();
    var used = process.TotalProcessorTime - cpu;
    Console.WriteLine($"prune: {deleted} raw events in {batches} transactions of <= 1000 rows, CPU {used.TotalMilliseconds * 1000 / deleted:0.00} µs/row, median transaction {times.Order().ElementAt(times.Count / 2):0.0} ms, longest {longest.TotalMilliseconds:0.0} ms (#{times.IndexOf(longest.TotalMilliseconds) + 1})");
}

static async Task MonthAsync(SqliteGatewayStore store, string path)
{
    // 50M requests in May 2026 for one user over 50 (key, route, status class) groups: one minute row per group and minute.
    const int groups = 50;
    const long requestsPerMonth = 50_000_000;
    var month = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
    var minutes = 31 * 24 * 60;
    var perRow = requestsPerMonth / (minutes * (long)groups);
    var started = Stopwatch.GetTimestamp();
    using (var connection = new SqliteConnection($"Data Source={path}"))
    {
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        var latency = string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => i == 2 ? "$r" : "0"));
        insert.CommandText = "INSERT INTO usage_rollups (granularity, bucket, user_id, key_id, route_id, status_class, requests, units, request_bytes, response_bytes, latency_ms_sum, " +
            string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"lat_{i}")) + $") VALUES (60, $b, 'usr_big', $k, $rt, $c, $r, $r, 0, $r * 700, $r * 12.5, {latency})";
        var b = insert.Parameters.Add("$b", SqliteType.Integer);
        var k = insert.Parameters.Add("$k", SqliteType.Text);
        var rt = insert.Parameters.Add("$rt", SqliteType.Text);
        var c = insert.Parameters.Add("$c", SqliteType.Integer);
        var r = insert.Parameters.Add("$r", SqliteType.Integer);
        insert.Prepare();
        for (var m = 0; m < minutes; m++)
        {
            for (var g = 0; g < groups; g++)
            {
                b.Value = month.AddMinutes(m).ToUnixTimeSeconds();
                k.Value = "key_" + (g % 5);
                rt.Value = "rt_" + (g / 5 % 5);
                c.Value = g < 25 ? 2 : 5;
                r.Value = perRow;
                insert.ExecuteNonQuery();
            }
        }

        transaction.Commit();
    }

    Console.WriteLine($"month: {minutes * groups:N0} minute rows ({perRow * minutes * groups:N0} requests) inserted in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s, store {StoreBytes(path) / 1024.0 / 1024:0.0} MiB");
    var now = month.AddMonths(1).AddMinutes(-30); // the last half hour still in minute rows
    Time("summary from minute rows only (nothing compacted)", () => store.GetUsageSummaryAsync("usr_big", month, month.AddMonths(1), CancellationToken.None));

    started = Stopwatch.GetTimestamp();
    var compacted = 0;
    while (await store.CompactUsageAsync(UsageGranularity.Hour, now.AddHours(-1), 6, CancellationToken.None) is var h and > 0)
    {
        compacted += h;
    }

    while (await store.CompactUsageAsync(UsageGranularity.Day, now.AddHours(-1), 7, CancellationToken.None) is var d and > 0)
    {
        compacted += d;
    }

    Console.WriteLine($"compaction: {compacted} hour and day buckets in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
    Time("summary (days + hours + minutes)", () => store.GetUsageSummaryAsync("usr_big", month, month.AddMonths(1), CancellationToken.None));
    Time("history 12 months", () => store.GetUsageHistoryAsync("usr_big", 12, now, CancellationToken.None));

    void Time<T>(string what, Func<Task<T>> query)
    {
        query().GetAwaiter().GetResult(); // warm
        var best = TimeSpan.MaxValue;
        T result = default!;
        for (var i = 0; i < 5; i++)
        {
            var began = Stopwatch.GetTimestamp();
            result = query().GetAwaiter().GetResult();
            var took = Stopwatch.GetElapsedTime(began);
            best = took < best ? took : best;
        }

        Console.WriteLine($"{what}: best of 5 {best.TotalMilliseconds:0.0} ms -> {(result is UsageSummary s ? s.Requests.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " requests" : "ok")}");
    }
}
#endif

static void Checkpoint(string path)
{
    using var connection = new SqliteConnection($"Data Source={path}");
    connection.Open();
    using var command = connection.CreateCommand();
    command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
    command.ExecuteNonQuery();
}

static long StoreBytes(string path) =>
    new[] { path, path + "-wal" }.Where(File.Exists).Sum(f => new FileInfo(f).Length);

internal sealed class NoMeters : System.Diagnostics.Metrics.IMeterFactory
{
    public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options) => new(options);

    public void Dispose()
    {
    }
}
