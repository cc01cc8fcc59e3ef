using System.Net;
using ApiGate.Cli.Commands;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Snapshots;
using ApiGate.Storage.Secrets;
using ApiGate.Storage;
using ApiGate.Storage.Sql;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A real gateway on a loopback port with its own SQLite file in a temp directory.</summary>
internal sealed class TestGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private TestGateway(WebApplication app, SqlGatewayStore store, GatewayOptions options, string directory, string url)
    {
        _app = app;
        Store = store;
        Options = options;
        Directory = directory;
        Url = url;
        Upstreams = new UpstreamService(store, TimeProvider.System);
        Routes = new RouteService(store, TimeProvider.System);
        Plans = new PlanService(store, TimeProvider.System);
        Users = new UserService(store, TimeProvider.System);
        Keys = new KeyService(store, TimeProvider.System);
        Entitlements = new EntitlementService(store, TimeProvider.System);
        PlanEntitlements = new PlanEntitlementService(store, TimeProvider.System);
        Client = CreateClient();
    }

    public string Url { get; }

    /// <summary>The admin listener's URL (<see cref="GatewayOptions.AdminListen"/>), or null when there is none.</summary>
    public string? AdminUrl => GatewayHost.AdminAddress(_app);

    public string Directory { get; }

    /// <summary>Every address the gateway listens on: the main one first, then the h2c one (<see cref="GatewayOptions.H2cPort"/>), then the admin one.</summary>
    public IReadOnlyCollection<string> Addresses => GatewayHost.Addresses(_app);

    public string DatabasePath => Path.Combine(Directory, "apigate.db");

    /// <summary>The gateway's store: SQLite in <see cref="Directory"/> unless the options chose another driver.</summary>
    public SqlGatewayStore Store { get; }

    /// <summary>The options the gateway runs with.</summary>
    public GatewayOptions Options { get; }

    public UpstreamService Upstreams { get; }

    public RouteService Routes { get; }

    public PlanService Plans { get; }

    public UserService Users { get; }

    public KeyService Keys { get; }

    public EntitlementService Entitlements { get; }

    public PlanEntitlementService PlanEntitlements { get; }

    public HttpClient Client { get; }

    /// <param name="services">Registrations that replace the gateway's own (e.g. an <see cref="UpstreamTlsTrust"/> for a test certificate).</param>
    /// <param name="settings">The settings' sources, as <c>serve</c> gives them (null: a host built from options alone).</param>
    public static async Task<TestGateway> StartAsync(
        Action<GatewayOptions>? configure = null, string? directory = null, TimeProvider? timeProvider = null, Action<IServiceCollection>? services = null,
        Microsoft.Extensions.Configuration.IConfiguration? settings = null)
    {
        directory ??= Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var options = new GatewayOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            DatabaseDsn = Path.Combine(directory, "apigate.db"),
            LogLevel = "warn",
            LogFormat = "console",
            ConfigPollInterval = TimeSpan.FromMilliseconds(100),
        };
        configure?.Invoke(options);
        var store = GatewayStores.Create(options.DatabaseDriver, options.DatabaseDsn, new SecretProtector(options.SecretKey, options.SecretKeyPrevious), options.StoreBusyTimeout);
        var app = GatewayHost.Build(options, store, timeProvider, services, settings, webModules: Web.GatewayWebModules.All);
        try
        {
            await GatewayHost.StartAsync(app);
        }
        catch
        {
            // A start the test expects to fail: the services that did start (loops on threads of their own among them) are
            // stopped before the test goes on, so none of them still opens the store while the test deletes its directory.
            await StopQuietlyAsync(app, store);
            throw;
        }

        var url = GatewayHost.Addresses(app).First();
        return new TestGateway(app, store, options, directory, url);
    }

    private static async Task StopQuietlyAsync(WebApplication app, IAsyncDisposable store)
    {
        try
        {
            await app.StopAsync();
        }
        catch (Exception)
        {
            // what stopping a half-started host may throw is not what the test asserts
        }

        await app.DisposeAsync();
        await store.DisposeAsync();
    }

    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
    })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    public async Task<UpstreamDefinition> AddUpstreamAsync(string name, string url, UpstreamInput? extra = null)
    {
        var input = (extra ?? new UpstreamInput()) with { Name = name, Url = url };
        var result = await Upstreams.CreateAsync(input.Parsed(), CancellationToken.None);
        Assert.True(result.Ok, result.Error?.ToString());
        return result.Value!;
    }

    public async Task<RouteDefinition> AddRouteAsync(RouteInput input, bool reload = true)
    {
        var result = await Routes.CreateAsync((input with { AuthRequired = input.AuthRequired ?? false }).Parsed(), CancellationToken.None);
        Assert.True(result.Ok, result.Error?.ToString());
        if (reload)
        {
            await ReloadAsync();
        }

        return result.Value!;
    }

    /// <summary>Creates a plan (when <paramref name="plan"/> is given), a user on it and a key; returns the full key and the records.</summary>
    public async Task<(string Key, Core.Identity.UserDefinition User, Core.Identity.ApiKeyDefinition Record)> CreateKeyAsync(
        string email, PlanInput? plan = null, bool reload = true)
    {
        if (plan is not null)
        {
            var createdPlan = await Plans.CreateAsync(plan, CancellationToken.None);
            Assert.True(createdPlan.Ok, createdPlan.Error?.ToString());
        }

        var user = await Users.CreateAsync(new UserChanges { Email = email, Plan = plan?.Id }, CancellationToken.None);
        Assert.True(user.Ok, user.Error?.ToString());
        var key = await Keys.CreateAsync(new KeyChanges { User = email }, CancellationToken.None);
        Assert.True(key.Ok, key.Error?.ToString());
        if (reload)
        {
            await ReloadAsync();
        }

        return (key.Value!.FullKey, user.Value!, key.Value.Key);
    }

    internal T Service<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    /// <summary>Applies stored changes now instead of waiting for the next poll.</summary>
    public Task ReloadAsync() => _app.Services.GetRequiredService<SnapshotManager>().RefreshAsync(force: false, CancellationToken.None);

    internal SnapshotManager Snapshots => _app.Services.GetRequiredService<SnapshotManager>();

    /// <summary>
    /// Returns once a config poll that began after this call has finished, so a change committed before the call is
    /// applied: two more polls, as the one under way may have read the store before the commit. Counted, not timed; the
    /// 30 s bound is only for a broken build.
    /// </summary>
    public Task WaitForNextPollAsync()
    {
        var polls = Snapshots.Polls;
        return Poll.UntilAsync(() => Snapshots.Polls >= polls + 2, () => $"the config poll ran {Snapshots.Polls - polls} times, not twice");
    }

    /// <summary>Runs the apigate CLI in-process against this gateway's database.</summary>
    public Task<CliResult> CliAsync(params string[] args) =>
        CliRunner.RunAsync(new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = Options.DatabaseDriver, ["APIGATE_DATABASE_DSN"] = Options.DatabaseDsn }, args);

    /// <summary>Stops the server gracefully (flushing counters) but keeps its directory, for restart tests.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        Client.Dispose();
        await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        await _app.DisposeAsync();
        await Store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Exit code and output of one CLI invocation.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    /// <summary>
    /// stderr after the line every verb that opens the store starts with ("store: PATH", "created a new store at
    /// PATH", or for <c>config validate</c> "no store at PATH yet"): the command's own errors and warnings.
    /// </summary>
    public string Diagnostics =>
        Error.StartsWith("store: ", StringComparison.Ordinal) || Error.StartsWith("created a new store at ", StringComparison.Ordinal)
            || Error.StartsWith("no store at ", StringComparison.Ordinal)
            ? Error[(Error.IndexOf('\n', StringComparison.Ordinal) + 1)..]
            : Error;
}

/// <summary>Runs the real command tree in-process with a controlled environment.</summary>
internal static class CliRunner
{
    public static Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunAsync(environment, null, args);

    /// <summary>As above, with <c>store copy</c> waiting <paramref name="copyLockTimeout"/> for a target's locks held elsewhere.</summary>
    public static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, TimeSpan? copyLockTimeout, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // Every command a test runs ends well within this; a serve a test expects to be refused, if it starts, is
        // stopped here (and then fails the test on its exit code) instead of holding the test run.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var code = await CliApp.RunAsync(args, output, error, name => environment.GetValueOrDefault(name), bound.Token,
            environmentNames: environment.Keys, copyLockTimeout: copyLockTimeout);
        return new CliResult(code, output.ToString(), error.ToString());
    }
}
