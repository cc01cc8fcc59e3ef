using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// The one list of settings and how they reach <see cref="GatewayOptions"/>: an <see cref="IConfiguration"/> built
/// from the config file &lt; <c>APIGATE_*</c> environment variables &lt; command-line flags (each a
/// <see cref="SettingsConfigurationProvider"/>), bound through the options pattern and checked by
/// <see cref="GatewayOptionsValidator"/>. The same list drives <c>apigate config show</c>, the warning about unknown
/// <c>APIGATE_*</c> variables and the admin API's <c>GET /settings</c>.
/// </summary>
internal static class GatewaySettings
{
    /// <summary>The environment variable naming the config file when <c>--config</c> is not given.</summary>
    public const string ConfigFileVariable = "APIGATE_CONFIG";

    /// <summary>Every setting, in the order <c>config show</c> prints them.</summary>
    public static readonly IReadOnlyList<GatewaySetting> All =
    [
        new("server.host", "APIGATE_SERVER_HOST", nameof(GatewayOptions.Host), normalize: Trim),
        new("server.port", "APIGATE_SERVER_PORT", nameof(GatewayOptions.Port)),
        new("server.h2c_port", "APIGATE_SERVER_H2C_PORT", nameof(GatewayOptions.H2cPort)),
        new("server.max_connections", "APIGATE_SERVER_MAX_CONNECTIONS", nameof(GatewayOptions.MaxConnections)),
        new("server.inline_scheduling", "APIGATE_SERVER_INLINE_SCHEDULING", nameof(GatewayOptions.InlineScheduling)),
        new("server.shutdown_timeout", "APIGATE_SERVER_SHUTDOWN_TIMEOUT", nameof(GatewayOptions.ShutdownTimeout)),
        new("server.stop_delay", "APIGATE_SERVER_STOP_DELAY", nameof(GatewayOptions.StopDelay), zeroAllowed: true),
        new("server.allow_underscore_headers", "APIGATE_SERVER_ALLOW_UNDERSCORE_HEADERS", nameof(GatewayOptions.AllowUnderscoreHeaders)),
        new("server.allow_trace", "APIGATE_SERVER_ALLOW_TRACE", nameof(GatewayOptions.AllowTrace)),
        new("database.driver", "APIGATE_DATABASE_DRIVER", nameof(GatewayOptions.DatabaseDriver), normalize: Lower),
        new("database.dsn", "APIGATE_DATABASE_DSN", nameof(GatewayOptions.DatabaseDsn), userInfoToLastAt: true),
        new("database.busy_timeout", "APIGATE_DATABASE_BUSY_TIMEOUT", nameof(GatewayOptions.StoreBusyTimeout)),
        new("upstream.url", "APIGATE_UPSTREAM_URL", nameof(GatewayOptions.UpstreamUrl)),
        new("upstream.timeout", "APIGATE_UPSTREAM_TIMEOUT", nameof(GatewayOptions.UpstreamTimeout)),
        new("auth.key_prefix", "APIGATE_AUTH_KEY_PREFIX", nameof(GatewayOptions.AuthKeyPrefix)),
        new("auth.allow_query_key", "APIGATE_AUTH_ALLOW_QUERY_KEY", nameof(GatewayOptions.AuthAllowQueryKey)),
        new("jwt.issuer", "APIGATE_JWT_ISSUER", nameof(GatewayOptions.JwtIssuer), normalize: Trim),
        new("jwt.audience", "APIGATE_JWT_AUDIENCE", nameof(GatewayOptions.JwtAudience), normalize: Trim),
        new("jwt.algorithms", "APIGATE_JWT_ALGORITHMS", nameof(GatewayOptions.JwtAlgorithms), normalize: Trim, list: true),
        new("jwt.user_claim", "APIGATE_JWT_USER_CLAIM", nameof(GatewayOptions.JwtUserClaim), normalize: Trim),
        new("jwt.email_claim", "APIGATE_JWT_EMAIL_CLAIM", nameof(GatewayOptions.JwtEmailClaim), normalize: Trim),
        new("jwt.unknown_user", "APIGATE_JWT_UNKNOWN_USER", nameof(GatewayOptions.JwtUnknownUser), normalize: Lower),
        new("jwt.clock_skew", "APIGATE_JWT_CLOCK_SKEW", nameof(GatewayOptions.JwtClockSkew), zeroAllowed: true),
        new("jwt.refresh_interval", "APIGATE_JWT_REFRESH_INTERVAL", nameof(GatewayOptions.JwtRefreshInterval)),
        new("ratelimit.enabled", "APIGATE_RATELIMIT_ENABLED", nameof(GatewayOptions.RateLimitEnabled)),
        new("ratelimit.burst", "APIGATE_RATELIMIT_BURST", nameof(GatewayOptions.RateLimitBurst)),
        new("log.level", "APIGATE_LOG_LEVEL", nameof(GatewayOptions.LogLevel)),
        new("log.format", "APIGATE_LOG_FORMAT", nameof(GatewayOptions.LogFormat), normalize: Lower),
        new("log.access", "APIGATE_ACCESS_LOG", nameof(GatewayOptions.AccessLog)),
        new("metrics.enabled", "APIGATE_METRICS_ENABLED", nameof(GatewayOptions.MetricsEnabled)),
        new("redis.url", "APIGATE_REDIS_URL", nameof(GatewayOptions.RedisUrl), normalize: Trim, userInfoToLastAt: true),
        new("redis.ca_file", "APIGATE_REDIS_CA_FILE", nameof(GatewayOptions.RedisCaFile), filePath: true),
        new("redis.prefix", "APIGATE_REDIS_PREFIX", nameof(GatewayOptions.RedisPrefix)),
        new("redis.timeout", "APIGATE_REDIS_TIMEOUT", nameof(GatewayOptions.RedisTimeout)),
        new("limits.on_redis_failure", "APIGATE_LIMITS_ON_REDIS_FAILURE", nameof(GatewayOptions.LimitsOnRedisFailure), normalize: Lower),
        new("secret_key", "APIGATE_SECRET_KEY", nameof(GatewayOptions.SecretKey), secret: true),
        new("secret_key_previous", "APIGATE_SECRET_KEY_PREVIOUS", nameof(GatewayOptions.SecretKeyPrevious), secret: true),
        new("transform.env_allow", "APIGATE_TRANSFORM_ENV_ALLOW", nameof(GatewayOptions.TransformEnvAllow), list: true),
        new("transform.max_body_bytes", "APIGATE_TRANSFORM_MAX_BODY_BYTES", nameof(GatewayOptions.TransformMaxBodyBytes)),
        new("transform.max_buffered_bytes", "APIGATE_TRANSFORM_MAX_BUFFERED_BYTES", nameof(GatewayOptions.TransformMaxBufferedBytes)),
        new("usage.queue_capacity", "APIGATE_USAGE_QUEUE_CAPACITY", nameof(GatewayOptions.UsageQueueCapacity)),
        new("usage.raw_events", "APIGATE_USAGE_RAW_EVENTS", nameof(GatewayOptions.UsageRawEvents), normalize: TrimLower),
        new("usage.retention", "APIGATE_USAGE_RETENTION", nameof(GatewayOptions.UsageRetention), longDuration: true),
        new("usage.rollup_retention", "APIGATE_USAGE_ROLLUP_RETENTION", nameof(GatewayOptions.UsageRollupRetention), longDuration: true),
        new("usage.hourly_retention", "APIGATE_USAGE_HOURLY_RETENTION", nameof(GatewayOptions.UsageHourlyRetention), longDuration: true),
        new("usage.compact_after", "APIGATE_USAGE_COMPACT_AFTER", nameof(GatewayOptions.UsageCompactAfter), longDuration: true),
        new("usage.export", "APIGATE_USAGE_EXPORT", nameof(GatewayOptions.UsageExport), filePath: true),
        new("usage.export_max_bytes", "APIGATE_USAGE_EXPORT_MAX_BYTES", nameof(GatewayOptions.UsageExportMaxBytes)),
        new("config.poll_interval", "APIGATE_CONFIG_POLL_INTERVAL", nameof(GatewayOptions.ConfigPollInterval)),
        new("admin.base_path", "APIGATE_ADMIN_BASE_PATH", nameof(GatewayOptions.AdminBasePath), normalize: Trim),
        new("admin.listen", "APIGATE_ADMIN_LISTEN", nameof(GatewayOptions.AdminListen), normalize: Trim),
        new("admin.ui_enabled", "APIGATE_ADMIN_UI_ENABLED", nameof(GatewayOptions.AdminUiEnabled)),
        new("admin.ui_session_idle", "APIGATE_ADMIN_UI_SESSION_IDLE", nameof(GatewayOptions.AdminUiSessionIdle)),
        new("admin.ui_base_url", "APIGATE_ADMIN_UI_BASE_URL", nameof(GatewayOptions.AdminUiBaseUrl), normalize: Trim),
        new("portal.enabled", "APIGATE_PORTAL_ENABLED", nameof(GatewayOptions.PortalEnabled)),
        new("portal.app_name", "APIGATE_PORTAL_APP_NAME", nameof(GatewayOptions.PortalAppName), normalize: Trim),
        new("portal.base_url", "APIGATE_PORTAL_BASE_URL", nameof(GatewayOptions.PortalBaseUrl), normalize: Trim),
        new("portal.require_verification", "APIGATE_PORTAL_REQUIRE_VERIFICATION", nameof(GatewayOptions.PortalRequireVerification)),
        new("portal.plan_change", "APIGATE_PORTAL_PLAN_CHANGE", nameof(GatewayOptions.PortalPlanChange), normalize: Lower),
        new("smtp.url", "APIGATE_SMTP_URL", nameof(GatewayOptions.SmtpUrl), secret: true, normalize: Trim),
        new("smtp.from", "APIGATE_SMTP_FROM", nameof(GatewayOptions.SmtpFrom), normalize: Trim),
        new("smtp.timeout", "APIGATE_SMTP_TIMEOUT", nameof(GatewayOptions.SmtpTimeout)),
        new("webhook.timeout", "APIGATE_WEBHOOK_TIMEOUT", nameof(GatewayOptions.WebhookTimeout)),
        new("webhook.max_age", "APIGATE_WEBHOOK_MAX_AGE", nameof(GatewayOptions.WebhookMaxAge), longDuration: true),
        new("webhook.retry_base", "APIGATE_WEBHOOK_RETRY_BASE", nameof(GatewayOptions.WebhookRetryBase)),
        new("webhook.poll_interval", "APIGATE_WEBHOOK_POLL_INTERVAL", nameof(GatewayOptions.WebhookPollInterval)),
        new("webhook.retention", "APIGATE_WEBHOOK_RETENTION", nameof(GatewayOptions.WebhookRetention), longDuration: true),
        new("webhook.usage_threshold", "APIGATE_WEBHOOK_USAGE_THRESHOLD", nameof(GatewayOptions.WebhookUsageThreshold)),
        new("billing.provider", "APIGATE_BILLING_PROVIDER", nameof(GatewayOptions.BillingProvider), normalize: Lower),
        new("billing.payment_failed", "APIGATE_BILLING_PAYMENT_FAILED", nameof(GatewayOptions.BillingPaymentFailed), normalize: Lower),
        new("stripe.secret_key", "APIGATE_STRIPE_SECRET_KEY", nameof(GatewayOptions.StripeSecretKey), secret: true, normalize: Trim),
        new("stripe.webhook_secret", "APIGATE_STRIPE_WEBHOOK_SECRET", nameof(GatewayOptions.StripeWebhookSecret), secret: true, normalize: Trim),
        new("stripe.api_base", "APIGATE_STRIPE_API_BASE", nameof(GatewayOptions.StripeApiBase), normalize: Trim),
        new("server.trusted_proxies", "APIGATE_TRUSTED_PROXIES", nameof(GatewayOptions.TrustedProxies), normalize: Trim, list: true),
        new("tls.cert_file", "APIGATE_TLS_CERT_FILE", nameof(GatewayOptions.TlsCertFile), filePath: true),
        new("tls.key_file", "APIGATE_TLS_KEY_FILE", nameof(GatewayOptions.TlsKeyFile), filePath: true),
        new("tls.cert_dir", "APIGATE_TLS_CERT_DIR", nameof(GatewayOptions.TlsCertDir), filePath: true),
        new("tls.redirect_listen", "APIGATE_TLS_REDIRECT_LISTEN", nameof(GatewayOptions.TlsRedirectListen), normalize: Trim),
        new("tls.redirect_port", "APIGATE_TLS_REDIRECT_PORT", nameof(GatewayOptions.TlsRedirectPort)),
        new("tls.reload_interval", "APIGATE_TLS_RELOAD_INTERVAL", nameof(GatewayOptions.TlsReloadInterval)),
        new("admin.tls", "APIGATE_ADMIN_TLS", nameof(GatewayOptions.AdminTls)),
    ];

    private static readonly Dictionary<string, GatewaySetting> ByKey = All.ToDictionary(s => s.Key, StringComparer.OrdinalIgnoreCase);

    /// <summary>The setting with this dotted key (<c>server.port</c>, any case), or null.</summary>
    public static GatewaySetting? Find(string key) => ByKey.GetValueOrDefault(key);

    /// <summary>The setting with this dotted key; throws for a key that is not in <see cref="All"/> (a bug).</summary>
    public static GatewaySetting Get(string key) => ByKey[key];

    /// <summary>
    /// The configuration of a gateway: <paramref name="defaults"/> (a command's own defaults, by dotted key) &lt;
    /// <paramref name="stored"/> (settings kept in the store, by dotted key) &lt; <paramref name="file"/> (null: none)
    /// &lt; the <c>APIGATE_*</c> variables read through <paramref name="environment"/> &lt; <paramref name="flags"/>
    /// (by dotted key; null values are not given) &lt; <paramref name="storedOnTop"/>: stored values checked as if
    /// nothing above hid them (<c>config set</c> of a value the environment, the file or a flag hides here).
    /// </summary>
    public static IConfigurationRoot Build(
        IConfigurationSource? file, Func<string, string?> environment, IReadOnlyDictionary<string, string?> flags,
        IEnumerable<KeyValuePair<string, string>>? stored = null, IReadOnlyDictionary<string, string>? defaults = null,
        IEnumerable<KeyValuePair<string, string>>? storedOnTop = null)
    {
        var builder = new ConfigurationBuilder();
        if (defaults is { Count: > 0 })
        {
            builder.Add(SettingsConfigurationProvider.Defaults(defaults));
        }

        if (stored is not null)
        {
            builder.Add(SettingsConfigurationProvider.Stored(stored));
        }

        if (file is not null)
        {
            builder.Add(file);
        }

        builder
            .Add(SettingsConfigurationProvider.Environment(environment))
            .Add(SettingsConfigurationProvider.Flags(flags));
        if (storedOnTop is not null)
        {
            builder.Add(SettingsConfigurationProvider.Stored(storedOnTop));
        }

        return builder.Build();
    }

    /// <summary>
    /// Binds every setting of <see cref="All"/> found in <paramref name="configuration"/>. Not
    /// <c>ConfigurationBinder</c>: durations must carry a unit (it would read <c>30</c> as 30 days), true/false also
    /// reads yes/no/on/off/1/0, and a bad value is refused naming the setting and where it came from.
    /// </summary>
    public static OptionsBuilder<GatewayOptions> BindSettings(this OptionsBuilder<GatewayOptions> builder, IConfiguration configuration) =>
        builder.Configure(options => Bind(configuration, options));

    /// <summary>Sets each option whose setting has a value in <paramref name="configuration"/>.</summary>
    public static void Bind(IConfiguration configuration, GatewayOptions options)
    {
        List<ArgumentException>? unparsable = null;
        foreach (var setting in All)
        {
            if (configuration[setting.ConfigurationKey] is not { } value)
            {
                continue;
            }

            try
            {
                setting.Apply(options, value);
            }
            catch (ArgumentException ex)
            {
                (unparsable ??= []).Add(new ArgumentException($"{setting.Key} (from {Describe(setting, SourceOf(configuration, setting))}): {ex.Message}", ex));
            }
        }

        // Every value that does not parse, at once (checking what the values mean needs them all parsed first).
        if (unparsable is not null)
        {
            throw unparsable.Count == 1
                ? unparsable[0]
                : new ArgumentException(string.Join("; ", unparsable.Select(e => e.Message)), new AggregateException(unparsable));
        }
    }

    /// <summary>
    /// The settings of <paramref name="sources"/> (built by <see cref="Build"/>) with <paramref name="stored"/> as the
    /// stored settings in place of the ones it had, and <paramref name="storedOnTop"/> (when given) above every source:
    /// what a change to the stored settings would resolve to. The other layers are the same provider objects, read as
    /// they were loaded (the config file is not read again).
    /// </summary>
    public static IConfigurationRoot Restack(
        IConfigurationRoot sources, IEnumerable<KeyValuePair<string, string>> stored, IEnumerable<KeyValuePair<string, string>>? storedOnTop = null)
    {
        var providers = new List<IConfigurationProvider>();
        foreach (var provider in sources.Providers)
        {
            if (provider is SettingsConfigurationProvider { Source: SettingSource.Stored })
            {
                continue;
            }

            providers.Add(new LoadedProvider(provider, SourceOf(provider)));
        }

        // Beneath every source but a command's own defaults.
        var at = providers.TakeWhile(p => SourceOf(p) == SettingSource.Default).Count();
        providers.Insert(at, SettingsConfigurationProvider.Stored(stored));
        if (storedOnTop is not null)
        {
            providers.Add(SettingsConfigurationProvider.Stored(storedOnTop));
        }

        return new ConfigurationRoot(providers);
    }

    /// <summary>
    /// A provider as it was loaded: building another configuration from it does not load it again (nor write to it
    /// while the running gateway reads it).
    /// </summary>
    private sealed class LoadedProvider(IConfigurationProvider inner, SettingSource source) : IConfigurationProvider
    {
        public SettingSource Source { get; } = source;

        public bool TryGet(string key, out string? value) => inner.TryGet(key, out value);

        public void Set(string key, string? value) => throw new NotSupportedException("the settings of a change are read, never written");

        // Never reloads: a configuration built per change registers nothing on the running gateway's providers.
        public Microsoft.Extensions.Primitives.IChangeToken GetReloadToken() => new Microsoft.Extensions.Primitives.CancellationChangeToken(CancellationToken.None);

        public void Load()
        {
        }

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) => inner.GetChildKeys(earlierKeys, parentPath);
    }

    /// <summary>Which source supplied the setting's value: the last provider that has it wins, as in the configuration itself.</summary>
    public static SettingSource SourceOf(IConfiguration configuration, GatewaySetting setting)
    {
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers.Reverse())
            {
                if (provider.TryGet(setting.ConfigurationKey, out _))
                {
                    return SourceOf(provider);
                }
            }
        }

        return SettingSource.Default;
    }

    /// <summary>The kind of source a provider is: the config file is the one provider that is not the gateway's own.</summary>
    private static SettingSource SourceOf(IConfigurationProvider provider) => provider switch
    {
        SettingsConfigurationProvider known => known.Source,
        LoadedProvider loaded => loaded.Source,
        _ => SettingSource.File,
    };

    /// <summary>Where a value came from, as messages say it: <c>APIGATE_SERVER_PORT</c>, <c>the config file</c>, …</summary>
    public static string Describe(GatewaySetting setting, SettingSource source) => source switch
    {
        SettingSource.Flag => "a command-line flag",
        SettingSource.Environment => setting.EnvironmentVariable,
        SettingSource.File => "the config file",
        SettingSource.Stored => "the stored settings ('apigate config set')",
        _ => "the default",
    };

    /// <summary>
    /// One warning per <c>APIGATE_*</c> variable that no setting reads (a typo would otherwise be silently ignored),
    /// naming the closest known variable.
    /// </summary>
    public static IReadOnlyList<string> UnknownVariables(IEnumerable<string> names)
    {
        var known = All.Select(s => s.EnvironmentVariable).Append(ConfigFileVariable).ToArray();
        var warnings = new List<string>();
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            if (!name.StartsWith("APIGATE_", StringComparison.OrdinalIgnoreCase) || known.Contains(name, StringComparer.Ordinal))
            {
                continue;
            }

            var closest = known.MinBy(k => EditDistance(name.ToUpperInvariant(), k))!;
            warnings.Add($"warning: unknown environment variable {name} is ignored (did you mean {closest}?)");
        }

        return warnings;
    }

    /// <summary>The dotted key of the setting whose key is closest to <paramref name="key"/> (for "did you mean …?").</summary>
    public static string ClosestKey(string key) => All.MinBy(s => EditDistance(key.ToLowerInvariant(), s.Key))!.Key;

    /// <summary>
    /// <paramref name="value"/> as <paramref name="setting"/> reads it where it names a file: a file setting's
    /// (<see cref="GatewaySetting.FilePath"/>), or the SQLite database file of <c>database.dsn</c> when
    /// <paramref name="driver"/> is <c>sqlite</c>, with its leading <c>~</c> made the home directory; any other value
    /// as it is. <c>config show</c> and <c>GET /settings</c> show it so: the file meant, not a <c>~</c> read elsewhere.
    /// </summary>
    public static string AsRead(GatewaySetting setting, string value, string driver) =>
        setting.FilePath ? setting.Normalize(value)
        : setting.Key == "database.dsn" && driver == Storage.GatewayStores.Sqlite ? Storage.Sqlite.SqliteGatewayStore.HomeExpanded(value)
        : value;

    private static string Trim(string value) => value.Trim();

    private static string Lower(string value) => value.ToLowerInvariant();

    private static string TrimLower(string value) => value.Trim().ToLowerInvariant();

    /// <summary>Levenshtein distance: the fewest single-character insertions, deletions and substitutions.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
