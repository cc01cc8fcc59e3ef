// CPU per access-log line through the gateway's log provider (JSON format, the default), every thread of the process
// counted — the request thread's formatting and the writer thread's batched writes — with the output going to a
// null stream. Usage: dotnet run -c Release [-- LINES [ROUNDS]]
using System.Diagnostics;
using System.Globalization;
using ApiGate.Gateway.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

var lines = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;

using var services = new ServiceCollection().AddLogging(logging => logging.AddJsonConsole()).BuildServiceProvider();
var formatter = services.GetServices<ConsoleFormatter>().First(f => f.Name == ConsoleFormatterNames.Json);
using var provider = new BufferedLoggerProvider(formatter, new StreamWriter(Stream.Null, new System.Text.UTF8Encoding(false), 64 * 1024));
var logger = provider.CreateLogger(AccessLog.Category);

var entry = new AccessLogEntry
{
    RequestId = "5f0c2b8e9d6a4f1b8c3e7a2d9b4f6e1c",
    Method = "GET",
    Path = "/v1/orders/12345/items",
    Route = "orders-api",
    Upstream = "orders",
    Target = "http://127.0.0.1:8080",
    Attempts = 1,
    UserId = "usr_8f2a6c1e4b9d",
    KeyId = "key_3e7b1d9a5c2f",
    Status = 200,
    BytesIn = 0,
    BytesOut = 1532,
    DurationMs = 1.274,
    UpstreamMs = 0.981,
    ClientIp = "127.0.0.1",
    Error = "",
    TraceId = "",
};

Run(lines / 10); // warm-up: tiered compilation
var results = new List<double>();
for (var round = 0; round < rounds; round++)
{
    results.Add(Run(lines));
}

results.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"access line: {results[results.Count / 2]:F3} µs CPU per line (median of {rounds} rounds of {lines:N0}; min {results[0]:F3}, max {results[^1]:F3})"));

double Run(int count)
{
    var process = Process.GetCurrentProcess();
    process.Refresh();
    var cpu = process.TotalProcessorTime;
    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    for (var i = 0; i < count; i++)
    {
        AccessLog.Write(logger, entry);
        if (i % 500 == 499)
        {
            Thread.Sleep(10); // ~50,000 lines a second at most, the rate of a busy gateway: batches as in production
        }
    }

    Thread.Sleep(100); // the writer thread's last batch
    process.Refresh();
    var perLine = (process.TotalProcessorTime - cpu).TotalMicroseconds / count;
    var bytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)count;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {count:N0} lines: {perLine:F3} µs CPU, {bytes:F1} B allocated per line"));
    return perLine;
}
