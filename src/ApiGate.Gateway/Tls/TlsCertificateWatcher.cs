using System.Net;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// Reloads <see cref="TlsCertificates"/> when the files change: a <see cref="FileSystemWatcher"/> on their directories
/// (a burst of events is checked once, 200 ms after the last), and a check every <c>APIGATE_TLS_RELOAD_INTERVAL</c>
/// as a safety net for changes a watcher misses (network file systems, symbolic links replaced elsewhere). A check
/// compares a digest of the files, so an unchanged directory costs a few small reads. Each check also looks at the dates
/// of the certificates served, so one that comes within 14 days of its expiry, or expires, while the gateway runs is
/// warned about once (event 7403) without waiting for a file to change.
/// </summary>
/// <param name="routes">The routes served now, whose hosts the certificates should name; none when null.</param>
internal sealed partial class TlsCertificateWatcher(
    TlsCertificates certificates, GatewayOptions options, TimeProvider time, ILogger<TlsCertificateWatcher> logger,
    Func<IEnumerable<RouteDefinition>>? routes = null) : IHostedService, IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(200);

    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly HashSet<string> _hostsWarned = new(StringComparer.OrdinalIgnoreCase);
    private ITimer? _settle;
    private ITimer? _poll;
    private FileSystemWatcher? _certDirWatcher;

    /// <summary>Warnings from loading the first set (expiry), logged once the server starts.</summary>
    public List<string> StartWarnings { get; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var certificate in certificates.Current.All)
        {
            LogServing(logger, certificate.Source, certificate.Leaf.Subject, string.Join(", ", certificate.HostNames), certificate.Leaf.NotAfter.ToUniversalTime());
        }

        Warn(StartWarnings, reloaded: false);
        WarnAboutKeysAndHosts();

        _settle = time.CreateTimer(_ => Check(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _poll = time.CreateTimer(_ => Check(), null, options.TlsReloadInterval, options.TlsReloadInterval);
        var sources = certificates.Sources;
        var directories = new HashSet<string>(StringComparer.Ordinal);
        if (sources.CertFile.Length > 0)
        {
            directories.Add(Path.GetDirectoryName(Path.GetFullPath(sources.CertFile))!);
            directories.Add(Path.GetDirectoryName(Path.GetFullPath(sources.KeyFile))!);
        }

        foreach (var directory in directories)
        {
            Watch(directory, subdirectories: false);
        }

        if (sources.CertDir.Length > 0)
        {
            var certDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(sources.CertDir));
            _certDirWatcher = Watch(certDir, subdirectories: true);
            WatchReplaced(certDir);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Watches the certificate directory's parent for the directory itself being replaced (<c>mv certs.new certs</c>,
    /// a deployment that swaps the whole directory): a watcher follows the directory it was opened on, so it would go on
    /// watching the old one, renamed away, and every later change would wait for the periodic check.
    /// </summary>
    private void WatchReplaced(string certDir)
    {
        if (Path.GetDirectoryName(certDir) is not { } parent || Watch(parent, subdirectories: false, Path.GetFileName(certDir)) is not { } watcher)
        {
            return;
        }

        void Replaced()
        {
            lock (_watchers)
            {
                if (_poll is null)
                {
                    return; // stopped
                }

                if (_certDirWatcher is { } old)
                {
                    _watchers.Remove(old);
                    old.Dispose();
                }

                _certDirWatcher = Watch(certDir, subdirectories: true);
            }

            Schedule();
        }

        watcher.Created += (_, _) => Replaced();
        watcher.Renamed += (_, _) => Replaced();
        watcher.Deleted += (_, _) => Replaced();
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_watchers)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
            _certDirWatcher = null;
            _settle?.Dispose();
            _poll?.Dispose();
            _poll = null;
        }
    }

    /// <summary>Checks the files now (also what the watcher and the timer call).</summary>
    public void Check()
    {
        var warnings = new List<string>();
        var reloaded = false;
        try
        {
            switch (certificates.TryReload(warnings, out var problem))
            {
                case TlsReload.Unchanged:
                    // The dates move on while the files stay: an "expires at" line turns up once the certificate is within
                    // 14 days of its end, an "expired at" one once it is over. So do the routes: one added since names a
                    // host no certificate may cover.
                    TlsCertificateLoader.Warnings(certificates.Current.All, time.GetUtcNow(), warnings);
                    WarnAboutHosts(again: false);
                    break;
                case TlsReload.Reloaded:
                    reloaded = true;
                    foreach (var certificate in certificates.Current.All)
                    {
                        LogReloaded(logger, certificate.Source, certificate.Leaf.Subject, certificate.Leaf.NotAfter.ToUniversalTime());
                    }

                    WarnAboutKeysAndHosts();

                    break;
                case TlsReload.Refused:
                    LogRefused(logger, problem!);
                    break;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogRefused(logger, ex.Message);
        }
        catch (Exception ex)
        {
            // This runs on a timer, where an exception would end the process: whatever the files hold, the previous
            // certificates stay in use (a DSA certificate rotated in used to stop the gateway here).
            LogRefused(logger, $"{ex.GetType().Name}: {ex.Message}");
        }

        Warn(warnings, reloaded);
    }

    /// <summary>Logs each warning not logged before; after a reload, all of them again (the reload line lists what is served).</summary>
    private void Warn(List<string> warnings, bool reloaded)
    {
        lock (_warned)
        {
            if (reloaded)
            {
                _warned.Clear();
            }

            foreach (var warning in warnings)
            {
                if (_warned.Add(warning))
                {
                    LogExpiry(logger, warning);
                }
            }
        }
    }

    /// <summary>
    /// Warnings about what is served rather than its dates, at start and after each reload: a private key file its
    /// group or others can read (event 7405), and a route's host that no certificate names (event 7406, see
    /// <see cref="WarnAboutHosts"/>).
    /// </summary>
    private void WarnAboutKeysAndHosts()
    {
        var current = certificates.Current;
        var keyFiles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var certificate in current.All)
        {
            if (certificate.KeyFile.Length > 0 && keyFiles.Add(certificate.KeyFile) && ModeReadableByOthers(certificate.KeyFile) is { } mode)
            {
                LogKeyReadable(logger, certificate.KeyFile, mode);
            }
        }

        WarnAboutHosts(again: true);
    }

    /// <summary>
    /// A route's host that no certificate names (event 7406), whose clients would get the default certificate and refuse
    /// it; regex hosts and IP addresses are not checked. Each host once: <paramref name="again"/> (at start and after a
    /// reload, which lists what is served) names every one again; the periodic check names only hosts of routes added
    /// or changed since.
    /// </summary>
    private void WarnAboutHosts(bool again)
    {
        var current = certificates.Current;
        lock (_hostsWarned)
        {
            if (again)
            {
                _hostsWarned.Clear();
            }

            foreach (var route in routes?.Invoke() ?? [])
            {
                var host = route.HostPattern;
                if (host.Length > 0 && route.HostMatchType != HostMatchType.Regex && !IPAddress.TryParse(host.Trim('[', ']'), out _)
                    && !_hostsWarned.Contains(host) && !current.Covers(host))
                {
                    _hostsWarned.Add(host);
                    LogHostNotCovered(logger, host, route.Name, current.Default.Source);
                }
            }
        }
    }

    /// <summary>The file's mode in octal (<c>644</c>) when its group or others may read it; null when not, or not known.</summary>
    private static string? ModeReadableByOthers(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            var mode = File.GetUnixFileMode(path);
            return (mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0 ? Convert.ToString((int)mode, 8) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A watcher on <paramref name="directory"/> (only the entries named <paramref name="filter"/>), or null when it cannot be watched.</summary>
    private FileSystemWatcher? Watch(string directory, bool subdirectories, string filter = "")
    {
        if (!Directory.Exists(directory))
        {
            return null;
        }

        FileSystemWatcher? watcher = null;
        try
        {
            watcher = new FileSystemWatcher(directory, filter)
            {
                IncludeSubdirectories = subdirectories,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => Schedule();
            watcher.Created += (_, _) => Schedule();
            watcher.Deleted += (_, _) => Schedule();
            watcher.Renamed += (_, _) => Schedule();
            watcher.Error += (_, _) => Schedule();
            watcher.EnableRaisingEvents = true;
            lock (_watchers)
            {
                _watchers.Add(watcher);
            }

            return watcher;
        }
        catch (IOException ex)
        {
            // E.g. the system's inotify limit is reached: the periodic check still picks changes up.
            watcher?.Dispose();
            LogNotWatched(logger, directory, ex.Message, options.TlsReloadInterval);
            return null;
        }
    }

    private void Schedule() => _settle?.Change(Settle, Timeout.InfiniteTimeSpan);

    [LoggerMessage(EventId = 7400, Level = LogLevel.Information, Message = "TLS: serving the certificate from {Source} ({Subject}) for {HostNames}, valid until {NotAfter:u}")]
    private static partial void LogServing(ILogger logger, string source, string subject, string hostNames, DateTime notAfter);

    [LoggerMessage(EventId = 7401, Level = LogLevel.Information, Message = "TLS: certificate files changed; now serving the certificate from {Source} ({Subject}), valid until {NotAfter:u}")]
    private static partial void LogReloaded(ILogger logger, string source, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 7402, Level = LogLevel.Warning, Message = "TLS: the changed certificate files cannot be used, the previous certificates stay in use: {Problem}")]
    private static partial void LogRefused(ILogger logger, string problem);

    [LoggerMessage(EventId = 7404, Level = LogLevel.Warning,
        Message = "TLS: cannot watch {Directory} for changes ({Reason}); certificate files are checked every {Interval} instead")]
    private static partial void LogNotWatched(ILogger logger, string directory, string reason, TimeSpan interval);

    [LoggerMessage(EventId = 7405, Level = LogLevel.Warning,
        Message = "TLS: the private key file {KeyFile} can be read by its group or by others (mode {Mode}); make it readable by its owner only (chmod 600)")]
    private static partial void LogKeyReadable(ILogger logger, string keyFile, string mode);

    [LoggerMessage(EventId = 7406, Level = LogLevel.Warning,
        Message = "TLS: no certificate served names the host {Host} of route {Route}; its clients get the default certificate (from {DefaultSource}) and will refuse it")]
    private static partial void LogHostNotCovered(ILogger logger, string host, string route, string defaultSource);

    [LoggerMessage(EventId = 7403, Level = LogLevel.Warning, Message = "TLS: {Warning}")]
    private static partial void LogExpiry(ILogger logger, string warning);
}
