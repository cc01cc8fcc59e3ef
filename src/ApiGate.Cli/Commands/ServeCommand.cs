using System.CommandLine;
using System.Globalization;
using ApiGate.Gateway.Hosting;
using Microsoft.Extensions.Hosting;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate serve</c>: run the gateway until SIGINT/SIGTERM.</summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var host = new Option<string?>("--host") { Description = "Listen address (APIGATE_SERVER_HOST, default 0.0.0.0)" };
        var port = new Option<int?>("--port") { Description = "Listen port (APIGATE_SERVER_PORT, default 8080)" };
        var logLevel = new Option<string?>("--log-level") { Description = "trace | debug | info | warn | error" };
        var upstreamUrl = new Option<string?>("--upstream-url") { Description = "Default upstream for unmatched requests (APIGATE_UPSTREAM_URL)" };
        var adminListen = new Option<string?>("--admin-listen") { Description = "HOST:PORT serving only the admin API, the admin console (/ui) and /metrics (APIGATE_ADMIN_LISTEN, default: the main port)" };
        var command = new Command("serve", "Run the gateway") { host, port, logLevel, upstreamUrl, adminListen };
        CliApp.SetHandler(command, context, async (parse, ct) =>
        {
            var flags = CliApp.StoreFlags(parse);
            flags["server.host"] = parse.GetValue(host);
            flags["server.port"] = parse.GetValue(port)?.ToString(CultureInfo.InvariantCulture);
            flags["log.level"] = parse.GetValue(logLevel);
            flags["upstream.url"] = parse.GetValue(upstreamUrl);
            flags["admin.listen"] = parse.GetValue(adminListen);
            // Bound and validated before the store is opened or a port is bound: a bad value fails here, naming the
            // setting and where it came from.
            var settings = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), flags, ct);
            var options = settings.Options;
            GatewayHost.PrepareProcess(options.DatabaseDriver); // before the port probe and the store: their sockets would fix the setting
            if (CliApp.PortProblem(options.Host, options.Port) is { } problem)
            {
                // Before the store is opened: one line naming the setting, not the host's error log with a stack trace.
                await context.Error.WriteLineAsync(
                    $"error: server.port (APIGATE_SERVER_PORT / --port): cannot listen on {options.Host}:{options.Port} ({problem}); stop what holds it or pick another port");
                return 1;
            }

            await using var store = await context.OpenStoreAsync(settings.Options, ct, serving: true, migrate: true);
            await using var app = GatewayHost.Build(settings.Options, store, settings: settings.Configuration, webModules: ApiGate.Web.GatewayWebModules.All);
            await GatewayHost.StartAsync(app, ct);
            await GatewayHost.RunUntilStoppedAsync(app, ct);
            return 0;
        });
        return command;
    }
}
