// Bare YARP reverse proxy with default settings: one catch-all route to one
// destination. Reference point for the APIGate benchmark (bench/run.sh).
//
// Optional overrides (defaults match bench/run.sh):
//   BAREYARP_URL          listen URL          (default http://127.0.0.1:18083)
//   BAREYARP_DESTINATION  upstream base URL   (default http://127.0.0.1:18081)
using Yarp.ReverseProxy.Configuration;

var listenUrl = Environment.GetEnvironmentVariable("BAREYARP_URL") ?? "http://127.0.0.1:18083";
var destination = Environment.GetEnvironmentVariable("BAREYARP_DESTINATION") ?? "http://127.0.0.1:18081";

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseUrls(listenUrl);

builder.Services.AddReverseProxy().LoadFromMemory(
    [
        new RouteConfig
        {
            RouteId = "catch-all",
            ClusterId = "bench-upstream",
            Match = new RouteMatch { Path = "{**catch-all}" },
        },
    ],
    [
        new ClusterConfig
        {
            ClusterId = "bench-upstream",
            Destinations = new Dictionary<string, DestinationConfig>
            {
                ["d1"] = new DestinationConfig { Address = destination },
            },
        },
    ]);

var app = builder.Build();
app.MapReverseProxy();
app.Run();
