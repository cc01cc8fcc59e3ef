using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ApiGate.Gateway.Hosting;

/// <summary>
/// Checks <see cref="GatewayOptions"/> before anything listens or opens the store. Every problem names its setting and,
/// when the options came from a configuration, where the value came from:
/// <c>ratelimit.burst (from APIGATE_RATELIMIT_BURST): must be 0 or more</c>. Options built in code (embedding, tests)
/// name the setting's environment variable instead: <c>ratelimit.burst (APIGATE_RATELIMIT_BURST): …</c>.
/// </summary>
internal sealed partial class GatewayOptionsValidator(IConfiguration? configuration = null) : IValidateOptions<GatewayOptions>
{
    /// <summary>The shortest store poll (config changes, webhook events): each poll is a query on every instance.</summary>
    private static readonly TimeSpan MinPollInterval = TimeSpan.FromMilliseconds(100);

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = Problems(options).Select(p => $"{Name(p.Key)}: {p.Problem}").ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem (<c>invalid configuration: …</c>).</summary>
    public void ThrowIfInvalid(GatewayOptions options)
    {
        if (Validate(Options.DefaultName, options) is { Failed: true } result)
        {
            throw new ArgumentException("invalid configuration: " + string.Join("; ", result.Failures!));
        }
    }

    private string Name(string key)
    {
        var setting = GatewaySettings.Get(key);
        return configuration is null
            ? $"{key} ({setting.EnvironmentVariable})"
            : $"{key} (from {GatewaySettings.Describe(setting, GatewaySettings.SourceOf(configuration, setting))})";
    }

    private const string LocalhostNeedsAFixedPort = "0 (a free port) cannot be used with server.host localhost, which is two addresses: give a fixed port, or set server.host to 127.0.0.1 or ::1";

    private static IEnumerable<(string Key, string Problem)> Problems(GatewayOptions o)
    {
        if (!IsListenHost(o.Host))
        {
            yield return ("server.host", $"'{o.Host}' is not an IP address, localhost or 0.0.0.0");
        }

        if (o.Port is < 0 or > 65535)
        {
            yield return ("server.port", $"{o.Port} is out of range (0-65535)");
        }

        if (o.Host == "localhost" && o.Port == 0)
        {
            // Kestrel binds localhost as two addresses, which one free port cannot be picked for; it refused at bind
            // time with its own message (exit 1) naming neither setting.
            yield return ("server.port", LocalhostNeedsAFixedPort);
        }

        if (o.H2cPort is < 0 or > 65535)
        {
            yield return ("server.h2c_port", $"{o.H2cPort} is out of range (0-65535)");
        }
        else if (o.Host == "localhost" && o.H2cPort == 0)
        {
            yield return ("server.h2c_port", LocalhostNeedsAFixedPort);
        }
        else if (o.H2cPort is { } h2cPort and not 0 && h2cPort == o.Port)
        {
            yield return ("server.h2c_port", $"{h2cPort} is the same as the main port (server.port)");
        }

        if (o.MaxConnections is < 1 or > MaxConnectionsLimit)
        {
            yield return ("server.max_connections", $"{o.MaxConnections} is out of range (1-{MaxConnectionsLimit})");
        }

        foreach (var problem in DatabaseProblems(o))
        {
            yield return problem;
        }

        if (o.ShutdownTimeout < TimeSpan.FromSeconds(1) || o.ShutdownTimeout > TimeSpan.FromHours(1))
        {
            yield return ("server.shutdown_timeout", "must be between 1s and 1h");
        }

        if (o.StopDelay < TimeSpan.Zero || o.StopDelay > TimeSpan.FromMinutes(10))
        {
            yield return ("server.stop_delay", "must be between 0s (off) and 10m");
        }

        if (o.StoreBusyTimeout < TimeSpan.FromSeconds(1))
        {
            yield return ("database.busy_timeout", "must be at least 1s");
        }

        if (o.UpstreamUrl.Length > 0 && Core.Management.UpstreamService.ValidateUrl(o.UpstreamUrl) is { } url)
        {
            yield return ("upstream.url", url);
        }

        if (o.UpstreamTimeout <= TimeSpan.Zero)
        {
            yield return ("upstream.timeout", "must be positive");
        }

        if (!KeyPrefix().IsMatch(o.AuthKeyPrefix))
        {
            yield return ("auth.key_prefix", $"'{o.AuthKeyPrefix}' must be 1-8 letters, digits, '_' or '-'");
        }
        else if (o.AuthKeyPrefix == Core.Identity.AdminTokens.TokenPrefix)
        {
            yield return ("auth.key_prefix", $"'{o.AuthKeyPrefix}' is reserved for admin tokens");
        }

        foreach (var problem in Identity.Jwt.JwtSettings.Validate(o))
        {
            yield return problem;
        }

        if (o.RateLimitBurst < 0)
        {
            yield return ("ratelimit.burst", "must be 0 or more");
        }

        if (!LogLevels.TryParse(o.LogLevel, out _))
        {
            yield return ("log.level", $"'{o.LogLevel}' is not one of trace, debug, info, warn, error");
        }

        if (o.LogFormat is not ("json" or "console"))
        {
            yield return ("log.format", $"'{o.LogFormat}' is not json or console");
        }

        if (o.TransformMaxBodyBytes is < 1 or > 1024L * 1024 * 1024)
        {
            yield return ("transform.max_body_bytes", "must be between 1 and 1 GiB");
        }
        else if (o.TransformMaxBufferedBytes < o.TransformMaxBodyBytes || o.TransformMaxBufferedBytes > 1024L * 1024 * 1024 * 1024)
        {
            yield return ("transform.max_buffered_bytes", $"must be at least transform.max_body_bytes ({o.TransformMaxBodyBytes}: one body of the largest size must fit) and at most 1 TiB");
        }

        if (o.UsageQueueCapacity < 1)
        {
            yield return ("usage.queue_capacity", "must be at least 1");
        }
        else if (o.UsageQueueCapacity > MaxUsageQueueCapacity)
        {
            // The ring is allocated whole at start (about 200 bytes a slot): more ended serve in an OutOfMemoryException.
            yield return ("usage.queue_capacity", $"must be at most {MaxUsageQueueCapacity} (every slot is allocated at start, about 200 bytes each: 2 GB)");
        }

        if (o.UsageCompactAfter >= o.UsageRollupRetention)
        {
            yield return ("usage.compact_after", "must be shorter than usage.rollup_retention (minute rollups are compacted before they are deleted)");
        }

        if (o.UsageHourlyRetention < o.UsageRollupRetention)
        {
            yield return ("usage.hourly_retention", "must be at least usage.rollup_retention");
        }

        if (o.UsageExportMaxBytes < 1024)
        {
            yield return ("usage.export_max_bytes", "must be at least 1024");
        }

        if (o.UsageExport.Length > 0 && !string.Equals(o.UsageExport, Usage.UsageExport.StandardOutput, StringComparison.OrdinalIgnoreCase)
            && Directory.Exists(o.UsageExport))
        {
            yield return ("usage.export", $"'{o.UsageExport}' is a directory: name a file in it (rotated copies are kept beside it as FILE.1 … FILE.{Usage.UsageExport.KeptFiles})");
        }
        else if (ExportOntoStore(o) is { } storeFile)
        {
            yield return ("usage.export", storeFile);
        }

        if (o.SecretKeyPrevious.Length > 0 && o.SecretKey.Length == 0)
        {
            yield return ("secret_key_previous", "is set but secret_key (APIGATE_SECRET_KEY) is not: secret_key is the key secrets are written with, the previous key only reads them");
        }
        else if (o.SecretKeyPrevious.Length > 0 && string.Equals(o.SecretKeyPrevious, o.SecretKey, StringComparison.Ordinal))
        {
            yield return ("secret_key_previous", "is the same as secret_key: to rotate, set secret_key to the new key and secret_key_previous to the old one");
        }

        if (o.ConfigPollInterval < MinPollInterval)
        {
            // Each poll is a store query: below this the gateway spends the store on asking whether anything changed.
            yield return ("config.poll_interval", "must be at least 100ms");
        }

        if (o.RedisUrl.Length > 0 && Limits.RedisUrl.Validate(o.RedisUrl) is { } redis)
        {
            yield return ("redis.url", redis);
        }

        if (o.RedisCaFile.Length > 0)
        {
            if (!o.RedisUrl.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
            {
                yield return ("redis.ca_file", "is set but redis.url is not a rediss:// (TLS) URL");
            }
            else if (Limits.RedisTlsTrust.Validate(o.RedisCaFile) is { } ca)
            {
                yield return ("redis.ca_file", ca);
            }
        }

        if (o.RedisPrefix.Length > 64 || o.RedisPrefix.Contains('{') || o.RedisPrefix.Contains('}'))
        {
            yield return ("redis.prefix", "must be at most 64 characters without '{' or '}' (the user id is the key's hash tag)");
        }

        if (o.RedisTimeout < TimeSpan.FromMilliseconds(10) || o.RedisTimeout > TimeSpan.FromSeconds(60))
        {
            yield return ("redis.timeout", "must be between 10ms and 60s");
        }

        if (!RawUsageEventsRule.TryParse(o.UsageRawEvents, out _))
        {
            yield return ("usage.raw_events", $"'{o.UsageRawEvents}' is not callers, all or none (true and false also work: all and none)");
        }

        if (o.LimitsOnRedisFailure is not ("open" or "closed"))
        {
            yield return ("limits.on_redis_failure", $"'{o.LimitsOnRedisFailure}' is not open or closed");
        }

        if (o.SmtpTimeout < TimeSpan.FromMilliseconds(100) || o.SmtpTimeout > TimeSpan.FromMinutes(5))
        {
            yield return ("smtp.timeout", "must be between 100ms and 5m");
        }

        if (o.WebhookTimeout < TimeSpan.FromMilliseconds(100) || o.WebhookTimeout > TimeSpan.FromMinutes(5))
        {
            yield return ("webhook.timeout", "must be between 100ms and 5m");
        }

        if (o.WebhookRetryBase < TimeSpan.FromMilliseconds(10) || o.WebhookRetryBase > TimeSpan.FromHours(1))
        {
            yield return ("webhook.retry_base", "must be between 10ms and 1h");
        }

        if (o.WebhookMaxAge < o.WebhookRetryBase)
        {
            yield return ("webhook.max_age", "must be at least webhook.retry_base");
        }

        if (o.WebhookPollInterval < MinPollInterval)
        {
            yield return ("webhook.poll_interval", "must be at least 100ms");
        }

        if (o.WebhookRetention < o.WebhookMaxAge)
        {
            // Shorter, a delivery's history (what the receiver answered) would be gone while it is still being retried.
            yield return ("webhook.retention", "must be at least webhook.max_age");
        }

        if (!(o.WebhookUsageThreshold > 0 && o.WebhookUsageThreshold < 1))
        {
            yield return ("webhook.usage_threshold", "must be between 0 and 1 (exclusive), e.g. 0.8 for 80% of the quota");
        }

        if (AdminBasePath.Validate(o.AdminBasePath) is { } basePath)
        {
            yield return ("admin.base_path", basePath);
        }

        if (o.AdminListen.Length > 0 && AdminListenAddress.Validate(o.AdminListen, o.Port) is { } listen)
        {
            yield return ("admin.listen", listen);
        }
        else if (o.H2cPort is { } h2cPort and not 0 && AdminListenAddress.TryParse(o.AdminListen, out var adminAt, out _) && adminAt!.Port == h2cPort)
        {
            // Requests are told apart by port number alone: on another address the h2c port would serve the admin API.
            yield return ("admin.listen", $"'{o.AdminListen}': port {h2cPort} is the cleartext HTTP/2 port (server.h2c_port); the admin listener needs a port of its own");
        }

        if (o.AdminUiSessionIdle < TimeSpan.FromMinutes(1) || o.AdminUiSessionIdle > TimeSpan.FromDays(7))
        {
            yield return ("admin.ui_session_idle", "must be between 1m and 168h");
        }

        if (o.AdminUiBaseUrl.Length > 0 && PublicBaseUrl.Problem(o.AdminUiBaseUrl, "the console", AdminBasePath.ConsolePath) is { } consoleUrl)
        {
            yield return ("admin.ui_base_url", consoleUrl);
        }

        foreach (var problem in Portal.PortalSettings.Problems(o))
        {
            yield return problem;
        }

        foreach (var problem in Billing.BillingSetup.Problems(o))
        {
            yield return problem;
        }

        if (Proxies.TrustedProxies.Validate(o.TrustedProxies) is { } proxies)
        {
            yield return ("server.trusted_proxies", proxies);
        }

        foreach (var problem in TlsProblems(o))
        {
            yield return problem;
        }
    }

    private static IEnumerable<(string Key, string Problem)> TlsProblems(GatewayOptions o)
    {
        if (o.TlsReloadInterval < TimeSpan.FromMilliseconds(100))
        {
            yield return ("tls.reload_interval", "must be at least 100ms");
        }

        var sources = Tls.TlsSources.From(o);
        if (o.TlsRedirectListen.Length > 0)
        {
            if (sources is null)
            {
                yield return ("tls.redirect_listen", "is set but TLS is not (set tls.cert_file and tls.key_file, or tls.cert_dir)");
            }
            else if (AdminListenAddress.Validate(o.TlsRedirectListen, o.Port) is { } redirect)
            {
                yield return ("tls.redirect_listen", redirect.Replace("the admin listener", "the redirect listener", StringComparison.Ordinal));
            }
            else if (AdminListenAddress.TryParse(o.TlsRedirectListen, out var at, out _) && at!.Port != 0
                && AdminListenAddress.TryParse(o.AdminListen, out var admin, out _) && admin!.Port == at.Port)
            {
                yield return ("tls.redirect_listen", $"port {at.Port} is the admin listener's (admin.listen)");
            }
            else if (at is not null && at.Port != 0 && o.H2cPort == at.Port)
            {
                // Told apart by port number alone: on another address every h2c request would be redirected.
                yield return ("tls.redirect_listen", $"port {at.Port} is the cleartext HTTP/2 port (server.h2c_port)");
            }
        }

        if (o.TlsRedirectPort is < 1 or > 65535)
        {
            yield return ("tls.redirect_port", $"{o.TlsRedirectPort} is out of range (1-65535)");
        }
        else if (o.TlsRedirectPort is not null && o.TlsRedirectListen.Length == 0)
        {
            yield return ("tls.redirect_port", "is set but tls.redirect_listen is not: it is the port that listener's redirects name");
        }

        if (sources is null)
        {
            yield break;
        }

        string? failure = null;
        string? setting = null;
        try
        {
            Tls.TlsCertificateLoader.Load(sources, TimeProvider.System.GetUtcNow(), []); // expiry only warns, at start
        }
        catch (Tls.TlsConfigurationException ex)
        {
            (setting, failure) = (ex.Setting, ex.Message);
        }

        if (failure is not null)
        {
            yield return (setting!, failure);
        }
    }

    /// <summary>The largest usage ring: 10,000,000 slots, about 2 GB, over an hour of a busy gateway's events.</summary>
    public const int MaxUsageQueueCapacity = 10_000_000;

    /// <summary>The largest <see cref="GatewayOptions.MaxConnections"/>: beyond it the process runs out of file descriptors first.</summary>
    public const int MaxConnectionsLimit = 1_000_000;

    /// <summary>What the gateway host can bind the main listener to.</summary>
    /// <remarks>
    /// An IPv4 address only in its four-part form, as <c>admin.listen</c> takes it: <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>
    /// also reads <c>8080</c> (a port given as the host) as 0.0.31.144 and <c>127.1</c> as 127.0.0.1, which reached
    /// Kestrel and failed there as the port being unusable. An IPv6 address bare or in a pair of brackets.
    /// </remarks>
    private static bool IsListenHost(string host) =>
        host is "0.0.0.0" or "*" or "" or "::" or "[::]" or "localhost"
        || (host.StartsWith('[') && host.EndsWith(']')
            ? IPAddress.TryParse(host[1..^1], out var bracketed) && bracketed.AddressFamily == AddressFamily.InterNetworkV6
            : IPAddress.TryParse(host, out var address) && (address.AddressFamily == AddressFamily.InterNetworkV6 || host.Count(c => c == '.') == 3));

    [GeneratedRegex("^[A-Za-z0-9_-]{1,8}$")]
    private static partial Regex KeyPrefix();

    /// <summary>
    /// Why the usage export would write over the SQLite store, or null: the export appends to its file and, rotating,
    /// renames it and the archives beside it (<c>FILE.1</c> … <c>FILE.5</c>, the oldest deleted), so a file of the store
    /// among those names — a typo away, as both usually live in one directory — would have JSON lines written into the
    /// database, and then the database (or its write-ahead log) moved away under the running gateway.
    /// </summary>
    private static string? ExportOntoStore(GatewayOptions o)
    {
        if (o.UsageExport.Length == 0 || string.Equals(o.UsageExport, Usage.UsageExport.StandardOutput, StringComparison.OrdinalIgnoreCase)
            || o.DatabaseDriver != Storage.GatewayStores.Sqlite || string.IsNullOrWhiteSpace(o.DatabaseDsn)
            || Storage.Sqlite.SqliteGatewayStore.DsnProblem(o.DatabaseDsn) is not null)
        {
            return null;
        }

        var export = Path.GetFullPath(o.UsageExport);
        foreach (var name in (string[])[export, .. Enumerable.Range(1, Usage.UsageExport.KeptFiles).Select(i => $"{export}.{i}")])
        {
            if (Storage.Sqlite.SqliteGatewayStore.StoreFileAt(o.DatabaseDsn, name) is { } storeFile)
            {
                var which = string.Equals(storeFile, name, StringComparison.Ordinal) ? "" : $", {storeFile}";
                var what = name == export ? "is" : $"rotates into {name},";
                return $"'{o.UsageExport}' {what} a file of the store (database.dsn{which}): the export appends JSON lines to its file and " +
                       "renames it when it rotates, which would destroy the store; name a file of its own (e.g. usage.jsonl beside the database)";
            }
        }

        return null;
    }

    /// <summary>What is wrong with the settings that name the store (<c>database.driver</c>, <c>database.dsn</c>), by setting.</summary>
    public static IEnumerable<(string Key, string Problem)> DatabaseProblems(GatewayOptions o)
    {
        if (!Storage.GatewayStores.IsKnown(o.DatabaseDriver))
        {
            yield return ("database.driver", $"'{o.DatabaseDriver}' is not one of {Storage.GatewayStores.Drivers}");
        }

        if (string.IsNullOrWhiteSpace(o.DatabaseDsn))
        {
            yield return ("database.dsn", "is empty: name the SQLite file (e.g. apigate.db) or, for postgres, the connection string");
        }
        else if (o.DatabaseDriver == Storage.GatewayStores.Sqlite && Storage.Sqlite.SqliteGatewayStore.DsnProblem(o.DatabaseDsn) is { } dsn)
        {
            yield return ("database.dsn", dsn);
        }
        else if (o.DatabaseDriver == Storage.GatewayStores.Postgres && Storage.Postgres.PostgresGatewayStore.DsnProblem(o.DatabaseDsn) is { } postgresDsn)
        {
            yield return ("database.dsn", postgresDsn);
        }
    }
}
