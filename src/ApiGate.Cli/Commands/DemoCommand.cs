using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Demo;
using ApiGate.Cli.Settings;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Hosting;
using Microsoft.Extensions.Hosting;
using ApiGate.Gateway.Configuration;
using ApiGate.Storage;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate demo</c>: the quick start. Starts a built-in echo upstream on loopback, creates (or refreshes) an
/// upstream and routes for it in <c>apigate-demo.db</c>, runs the gateway and prints what to curl.
/// </summary>
internal static class DemoCommand
{
    public const string UpstreamName = "demo-echo";

    /// <summary>
    /// The demo's store beside the gateway's default one, on loopback; the customer portal is part of the tour.
    /// </summary>
    private static readonly Dictionary<string, string> DemoDefaults = new()
    {
        ["database.dsn"] = "apigate-demo.db",
        ["server.host"] = "127.0.0.1",
        ["portal.enabled"] = "true",
    };

    public static Command Create(CliContext context)
    {
        var port = new Option<int?>("--port") { Description = "Gateway port (default 8080)" };
        var host = new Option<string?>("--host") { Description = "Gateway listen address (default 127.0.0.1)" };
        var command = new Command("demo", "Run the gateway with a demo upstream and routes, and print what to try") { port, host };
        CliApp.SetHandler(command, context, async (parse, ct) =>
        {
            var flags = CliApp.StoreFlags(parse);
            flags["server.port"] = parse.GetValue(port)?.ToString(CultureInfo.InvariantCulture);
            flags["server.host"] = parse.GetValue(host);
            // The demo's own defaults, beneath every source (a stored setting, the file, the environment and flags win).
            var (options, configuration, settings) = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), flags, ct, DemoDefaults);
            GatewayHost.PrepareProcess(options.DatabaseDriver); // before the port probe and the store: their sockets would fix the setting
            if (settings.First(s => s.Key == "log.level").Source == SettingSource.Default)
            {
                options.LogLevel = "warn";
                options.LogFormat = "console";
            }

            // With no SMTP server to send confirmation links, the portal's sign-up skips them.
            if (options.SmtpUrl.Length == 0 && settings.First(s => s.Key == "portal.require_verification").Source == SettingSource.Default)
            {
                options.PortalRequireVerification = false;
            }

            // Try the port before touching the store: a demo that cannot bind changes nothing — no key or token left
            // behind, and the demo upstream still points at the echo server of the demo that may be holding the port.
            if (CliApp.PortProblem(options.Host, options.Port) is { } problem)
            {
                await context.Error.WriteLineAsync(
                    $"error: the demo cannot listen on {options.Host}:{options.Port} ({problem}); nothing in the store was changed. " +
                    $"Pick a free port with --port, e.g. apigate demo --port {(options.Port is > 0 and < 65535 ? options.Port + 1 : 8081)}");
                return 1;
            }

            await using var echo = EchoUpstream.Build(0);
            await echo.StartAsync(ct);
            var echoUrl = GatewayHost.Addresses(echo).First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);

            await using var store = await context.OpenStoreAsync(options, ct, migrate: true);
            var upstreams = new UpstreamService(store, TimeProvider.System);
            var routes = new RouteService(store, TimeProvider.System);
            await EnsureUpstreamAsync(upstreams, store, echoUrl, ct);
            await EnsureRouteAsync(routes, store, new RouteChanges
            {
                Name = "demo",
                Description = "Demo: everything under /demo/ goes to the echo upstream's /echo/",
                Path = "/demo/*",
                Upstream = UpstreamName,
                PathRewrite = "/echo/$1",
                AuthRequired = false,
                Enabled = true,
            }, ct);
            await EnsureRouteAsync(routes, store, new RouteChanges
            {
                Name = "demo-users",
                Description = "Demo: a path parameter and an expression rewrite",
                Path = "/demo-users/{id}",
                MatchType = PathMatchType.Exact,
                Methods = ["GET"],
                Upstream = UpstreamName,
                PathRewrite = "'/users/' + pathParams.id",
                AuthRequired = false,
                Enabled = true,
            }, ct);

            await EnsureRouteAsync(routes, store, new RouteChanges
            {
                Name = "demo-api",
                Description = "Demo: an authenticated route; the echo shows the identity and entitlement headers it received",
                Path = "/api/*",
                Upstream = UpstreamName,
                PathRewrite = "/echo/$1",
                AuthRequired = true,
                Enabled = true,
            }, ct);
            var keys = new KeyService(store, TimeProvider.System, options.AuthKeyPrefix);
            await EnsureDemoIdentityAsync(store, ct);

            // The credentials exist before the gateway starts, so its admin-token check at start sees the token.
            var key = Check(await keys.CreateAsync(new KeyChanges { User = DemoEmail, Name = "demo " + Stamp() }, ct)).FullKey;
            var adminToken = Check(await new AdminTokenService(store, TimeProvider.System).CreateAsync("demo " + Stamp(), ct));
            await using var app = GatewayHost.Build(options, store, settings: configuration, webModules: ApiGate.Web.GatewayWebModules.All);
            await GatewayHost.StartAsync(app, ct);
            var gateway = GatewayHost.Addresses(app).First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
            var output = context.Output;
            // The store as every command names it (store.Location): a PostgreSQL DSN's password is not shown.
            output.WriteLine($"APIGate demo is running at {gateway}  (database: {store.Location})");
            output.WriteLine($"  upstream  {UpstreamName} -> {echoUrl} (built-in echo server: it answers with what it received)");
            output.WriteLine("  route     demo        /demo/*           -> /echo/$1                      (public)");
            output.WriteLine("  route     demo-users  GET /demo-users/{id} -> '/users/' + pathParams.id  (public)");
            output.WriteLine("  route     demo-api    /api/*            -> /echo/$1                      (API key required)");
            output.WriteLine($"  plan      {DemoPlan} (60 requests/minute + burst, 1000/month, entitlement webhooks=true)");
            output.WriteLine($"  user      {DemoEmail}, with a new API key: {key}");
            output.WriteLine($"  admin     a new admin token for {options.AdminBasePath}: {adminToken.Token}");
            if (options.PortalEnabled)
            {
                output.WriteLine($"  portal    {gateway}/portal  (customer sign-up, keys, usage; email verification is "
                    + (options.PortalRequireVerification ? "on)" : "OFF in this demo: anyone can sign up with any address, no email is sent)"));
            }
            output.WriteLine();
            output.WriteLine("Try:");
            output.WriteLine($"  curl -i -H 'Authorization: Bearer {key}' {gateway}/api/hello");
            output.WriteLine("      # the echo shows X-User-ID, X-Key-ID, X-Plan-ID, X-Entitlement-Webhooks; the response carries X-RateLimit-* and X-Quota-*");
            output.WriteLine($"  curl -i {gateway}/api/hello          # 401 missing_api_key");
            output.WriteLine($"  curl -i '{gateway}/demo/hello?name=apigate'");
            output.WriteLine($"  curl -i {gateway}/demo-users/42");
            output.WriteLine($"  curl -i {gateway}/nowhere          # 404 route_not_found");
            output.WriteLine($"  curl {gateway}/health");
            output.WriteLine($"  curl -H 'Authorization: Bearer {adminToken.Token}' {gateway}{options.AdminBasePath}/routes   # the admin API");
            output.WriteLine($"  curl {gateway}/metrics              # Prometheus metrics");
            if (options.AdminUiEnabled)
            {
                var console = (GatewayHost.AdminAddress(app) ?? gateway).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
                output.WriteLine();
                output.WriteLine($"Admin console: open {console}/ui in a browser and sign in with the admin token above:");
                output.WriteLine($"  {adminToken.Token}");
            }

            var manage = options.DatabaseDriver == GatewayStores.Postgres
                ? $"  {ThisCli()} routes list   # with the same APIGATE_DATABASE_DRIVER and APIGATE_DATABASE_DSN"
                : $"  {ThisCli()} routes list --database {ShellWord(store.Location)}";
            // One write: the console logger's lines (the host's start) would otherwise land between these.
            output.Write($"{Environment.NewLine}Manage it while it runs (changes apply within a second), e.g.:{Environment.NewLine}{manage}{Environment.NewLine}Press Ctrl+C to stop.{Environment.NewLine}");
            await GatewayHost.RunUntilStoppedAsync(app, ct);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// How to run this apigate from the demo's working directory: the README's <c>dotnet run</c> in a clone, else the
    /// executable that runs now (a published <c>apigate</c>), else <c>dotnet</c> and this assembly.
    /// </summary>
    private static string ThisCli()
    {
        if (Directory.Exists(Path.Combine("src", "ApiGate.Cli")))
        {
            return "dotnet run --project src/ApiGate.Cli --";
        }

        var process = Environment.ProcessPath;
        var name = process is null ? "" : Path.GetFileNameWithoutExtension(process);
        return name == "apigate"
            ? ShellWord(process!)
            : (name == "dotnet" ? ShellWord(process!) : "dotnet") + " " + ShellWord(typeof(DemoCommand).Assembly.Location);
    }

    /// <summary>The text as one POSIX shell word: as it is when it holds nothing a shell reads, else single-quoted.</summary>
    private static string ShellWord(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:@%,".Contains(c))
            ? text
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private const string DemoPlan = "demo";
    private const string DemoEmail = "demo@example.com";

    /// <summary>A plan with an entitlement and a user on it (the key is made once the gateway listens).</summary>
    private static async Task EnsureDemoIdentityAsync(IGatewayStore store, CancellationToken ct)
    {
        var plans = new PlanService(store, TimeProvider.System);
        var entitlements = new EntitlementService(store, TimeProvider.System);
        var users = new UserService(store, TimeProvider.System);
        if (!(await plans.GetAsync(DemoPlan, ct)).Ok)
        {
            Check(await plans.CreateAsync(new PlanInput { Id = DemoPlan, Name = "Demo", RateLimitPerMinute = 60, RequestsPerMonth = 1000, Visible = true }, ct));
        }

        if (!(await entitlements.GetAsync("webhooks", ct)).Ok)
        {
            Check(await entitlements.CreateAsync(new EntitlementChanges { Name = "webhooks", ValueType = EntitlementValueType.Boolean, DefaultValue = "false" }, ct));
            Check(await new PlanEntitlementService(store, TimeProvider.System).CreateAsync(new PlanEntitlementInput { Plan = DemoPlan, Entitlement = "webhooks", Value = "true" }, ct));
        }

        if (!(await users.GetAsync(DemoEmail, ct)).Ok)
        {
            Check(await users.CreateAsync(new UserChanges { Email = DemoEmail, Name = "Demo User", Plan = DemoPlan }, ct));
        }
    }

    /// <summary>The created value; a refused demo setup step stops the demo with its reason.</summary>
    private static T Check<T>(ManagementResult<T> result) =>
        result.Ok ? result.Value! : throw new InvalidOperationException("demo setup: " + result.Error);

    /// <summary>Names the demo's credentials after the run that made them (admin token names are unique).</summary>
    private static string Stamp() => DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private static async Task EnsureUpstreamAsync(UpstreamService service, IGatewayStore store, string url, CancellationToken ct)
    {
        var input = new UpstreamChanges { Name = UpstreamName, Url = new Uri(url), Description = "Built-in echo server of `apigate demo`", Enabled = true };
        var result = await store.FindUpstreamAsync(UpstreamName, ct) is null
            ? await service.CreateAsync(input, ct)
            : await service.UpdateAsync(UpstreamName, input, ct);
        if (!result.Ok)
        {
            throw new InvalidOperationException("demo upstream: " + result.Error);
        }
    }

    private static async Task EnsureRouteAsync(RouteService service, IGatewayStore store, RouteChanges input, CancellationToken ct)
    {
        var result = await store.FindRouteAsync(input.Name!, ct) is null
            ? await service.CreateAsync(input, ct)
            : await service.UpdateAsync(input.Name!, input, ct);
        if (!result.Ok)
        {
            throw new InvalidOperationException($"demo route {input.Name}: {result.Error}");
        }
    }
}
