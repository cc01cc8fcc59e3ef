using ApiGate.Core.Storage;
using ApiGate.Core.Timing;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Configuration;
using ApiGate.Storage.Secrets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Snapshots;

/// <summary>
/// Holds the current <see cref="ConfigSnapshot"/> and replaces it atomically when the store's config version changes
/// (checked every <see cref="GatewayOptions.ConfigPollInterval"/>, so changes made by a CLI in another process apply
/// within a second). A snapshot that fails to build leaves the previous one serving and is logged.
/// </summary>
internal sealed partial class SnapshotManager(
    IGatewayStore store,
    SnapshotBuilder builder,
    UpstreamClientPool clients,
    TargetRegistry targets,
    GatewayOptions options,
    TimeProvider timeProvider,
    ILogger<SnapshotManager> logger) : BackgroundService
{
    private ConfigSnapshot? _current;
    private readonly ChangeSignal _replaced = new();
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private long _failedVersion = -1;
    private long _polls;

    /// <summary>The snapshot requests use; null until the first successful load.</summary>
    public ConfigSnapshot? Current => Volatile.Read(ref _current);

    /// <summary>
    /// Completes when <see cref="Current"/> is next replaced (once the targets are bound to the new snapshot's health
    /// policies, so a probe started on the news is judged by them). Take it before reading <see cref="Current"/>: a snapshot
    /// published between the two is then either the one read or completes the task, never missed. Lets work that has
    /// nothing to do in the current snapshot (no health checks to run) sleep instead of looking again on a timer.
    /// </summary>
    public Task NextReplacement => _replaced.Next;

    /// <summary>
    /// Polls that asked the store and applied what had changed, since start (a poll that failed is not counted): a change
    /// committed before poll n began is served once this reaches n. Lets tests count polls instead of timing a change.
    /// </summary>
    public long Polls => Interlocked.Read(ref _polls);

    /// <summary>Number of reloads that failed to build since start.</summary>
    public long ReloadFailures { get; private set; }

    /// <summary>Loads the first snapshot; called before the server accepts traffic.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken) => await RefreshAsync(force: true, cancellationToken);

    /// <summary>Reloads now if the stored version differs from the current snapshot's.</summary>
    public async Task RefreshAsync(bool force, CancellationToken cancellationToken)
    {
        // One refresh at a time (the poll loop and writes through the admin API): a slower, older load must not
        // replace a newer snapshot or retire the clients it uses.
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            await RefreshLockedAsync(force, cancellationToken);
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task RefreshLockedAsync(bool force, CancellationToken cancellationToken)
    {
        var versions = await store.GetVersionsAsync(cancellationToken);
        var version = versions.Config;
        var current = Current;
        if (!force && current is not null && current.Version == version)
        {
            return;
        }

        if (!force && version == _failedVersion)
        {
            return; // already reported; wait for the next change
        }

        if (!force && current is not null && current.ContentToken == versions.ContentToken)
        {
            // Keys or users changed, nothing the snapshot was built from: a sign-up or a new key must not cost a read
            // and compile of every route (on a large config, a quarter of a second of CPU each).
            var advanced = SnapshotBuilder.Advance(current, versions);
            Publish(advanced);
            _replaced.Raise();
            _failedVersion = -1;
            LogReloaded(advanced.Version, advanced.Routes.Routes.Count);
            return;
        }

        ConfigData data;
        try
        {
            data = await store.LoadConfigAsync(cancellationToken);
        }
        catch (SecretUnreadableException ex) when (current is not null)
        {
            // Not an outage: another instance wrote a secret with a key this one does not have (a key rotation under
            // way, docs/scaling.md). Reported once for this version, as a config that does not compile.
            _failedVersion = version;
            ReloadFailures++;
            LogReloadFailed(version, current?.Version ?? 0, ex.Message);
            return;
        }
        catch (InvalidDataException ex) when (current is not null)
        {
            // A row that cannot be read (a hand edit, a damaged file) is a config that does not compile, not an outage:
            // the store answers. Reported once for this version, and not read again until the config changes.
            _failedVersion = version;
            ReloadFailures++;
            LogReloadFailed(version, current.Version, ex.Message);
            return;
        }

        ConfigSnapshot next;
        try
        {
            next = builder.Build(data, current);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidDataException)
        {
            _failedVersion = data.Version;
            ReloadFailures++;
            LogReloadFailed(data.Version, current?.Version ?? 0, ex.Message);
            return;
        }

        Publish(next);
        // A version that failed is older than this one, unless the store's count went back (a backup restored in place)
        // and later changes bring it to that number again, with other contents: then it must be read like any other.
        _failedVersion = -1;
        try
        {
            var live = next.RouteUpstreams.Concat([next.DefaultUpstream]).OfType<UpstreamBinding>().ToList();
            clients.RetireAllExcept(live.Select(b => b.Client).Concat(live.Select(b => b.StreamClient).OfType<HttpMessageInvoker>()).ToHashSet());
            targets.Retain(live.Select(b => ((IReadOnlyList<TargetBinding>)b.Targets, b.Health)));
        }
        finally
        {
            _replaced.Raise(); // after the targets are bound to the new health policies: the prober reads both
        }

        LogReloaded(next.Version, next.Routes.Routes.Count);
        WarnStoredBeforeTheRule(next);
        if (options.JwtIssuer.Length == 0)
        {
            foreach (var route in next.Routes.Routes)
            {
                // Without an issuer every token is refused: on such a route nobody (jwt) or no token holder (key_or_jwt)
                // gets in, which the operator otherwise learns from the callers.
                if (route.Definition.TakesJwt())
                {
                    LogJwtRouteWithoutIssuer(route.Definition.Slug, Core.Text.WireNames.Of(route.Definition.AuthScheme));
                }
            }
        }
    }

    /// <summary>
    /// One warning per value of an upstream the new snapshot serves that was saved before a rule refusing it (a target URL
    /// with a dot segment, a long health-check path): served as before, but every change to the upstream is refused until
    /// it is fixed, which the operator should hear before trying one. Once per compiled config, not per poll or request.
    /// </summary>
    private void WarnStoredBeforeTheRule(ConfigSnapshot snapshot)
    {
        if (!logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        var seen = new HashSet<UpstreamBinding>(ReferenceEqualityComparer.Instance);
        foreach (var binding in snapshot.RouteUpstreams)
        {
            if (binding is null || !seen.Add(binding))
            {
                continue;
            }

            var upstream = binding.Definition;
            foreach (var (error, served) in Core.Management.UpstreamService.CheckStored(upstream))
            {
                if (served is not null)
                {
                    // The rule's message names the field and never repeats the URL; the target is shown without credentials.
                    var target = Core.Management.ListEntryField.Parse(error.Field) is (_, var index, _) && index < binding.Targets.Length
                        ? $" (target {Core.Text.UrlUserInfo.Remove(binding.Targets[index].Url)})"
                        : "";
                    LogStoredBeforeTheRule(upstream.Slug, error.ToString(), target, served);
                }
            }
        }
    }

    /// <summary>Makes <paramref name="snapshot"/> the one requests use; the caller then completes <see cref="NextReplacement"/>.</summary>
    private void Publish(ConfigSnapshot snapshot) => Volatile.Write(ref _current, snapshot); // before the task completes: who wakes reads this one

    /// <summary>The thread the poll runs on when the clock is the system's (null with another clock, or before start).</summary>
    internal Thread? PollThread { get; private set; }

    /// <summary>
    /// Polls the store's config version every <see cref="GatewayOptions.ConfigPollInterval"/>. On the system clock the
    /// poll has a thread of its own that sleeps between looks: four timer callbacks a second on the thread pool each woke
    /// a worker that then spun before sleeping again, about a third of an idle gateway's CPU. Any other clock (a test's)
    /// drives a timer instead.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false; // the one loop's own
        var stopped = Core.Timing.OwnThread.Every("apigate config poll", options.ConfigPollInterval, timeProvider, async token =>
        {
            try
            {
                // On SQLite the refresh completes on the poll's thread; on PostgreSQL that thread waits for its I/O.
                await RefreshAsync(force: false, token);
                failing = PollSucceeded(failing);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                // A timeout that surfaces as a cancellation is a failed poll too, not the end of polling.
                failing = PollFailed(ex, failing);
            }
        }, stoppingToken, out var thread);
        PollThread = thread; // published once started: a reader never sees a thread that is not alive yet
        return stopped;
    }

    /// <summary>A poll answered: counted, and the recovery logged once after an outage. Returns the new failing state (false).</summary>
    private bool PollSucceeded(bool failing)
    {
        Interlocked.Increment(ref _polls);
        if (failing)
        {
            LogPollRecovered();
        }

        return false;
    }

    /// <summary>
    /// A poll failed: logged once per outage (a database server down fails every poll until it is back), not every
    /// interval. Returns the new failing state (true).
    /// </summary>
    private bool PollFailed(Exception ex, bool failing)
    {
        if (!failing)
        {
            LogPollFailed(ex);
        }

        return true;
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Config snapshot {Version} loaded with {RouteCount} enabled routes")]
    private partial void LogReloaded(long version, int routeCount);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Config version {Version} cannot be compiled; still serving version {ServingVersion}: {Reason}")]
    private partial void LogReloadFailed(long version, long servingVersion, string reason);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning,
        Message = "Route {Route} takes JWTs (auth_scheme {Scheme}) but jwt.issuer (APIGATE_JWT_ISSUER) is not set: every token on it is refused with 401 invalid_token")]
    private partial void LogJwtRouteWithoutIssuer(string route, string scheme);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning,
        Message = "Upstream {Upstream} holds a value saved before the rule that refuses it: {Problem}{Target}; {Served}, but every change to the upstream is refused until it is fixed (docs/load-balancing.md)")]
    private partial void LogStoredBeforeTheRule(string upstream, string problem, string target, string served);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Checking the store for config changes failed; serving the current snapshot until it answers")]
    private partial void LogPollFailed(Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Checking the store for config changes works again")]
    private partial void LogPollRecovered();
}
