using System.Globalization;
using ApiGate.Core.Text;
using ApiGate.Gateway.Hosting;
using YamlDotNet.RepresentationModel;

namespace ApiGate.Cli.Settings;

/// <summary>Where a resolved setting came from.</summary>
internal enum SettingSource
{
    Default,
    File,
    Environment,
    Flag,
}

/// <summary>One resolved setting, for <c>apigate config show</c>.</summary>
internal sealed record ResolvedSetting(string Key, string EnvironmentVariable, string Value, SettingSource Source, bool Secret);

/// <summary>
/// Resolves <see cref="GatewayOptions"/> from command-line flags &gt; <c>APIGATE_*</c> environment variables &gt;
/// the config file (<c>apigate.yaml</c>, or <c>--config</c>) &gt; defaults.
/// </summary>
internal sealed class SettingsLoader
{
    /// <summary>Every setting: its dotted key (YAML path), environment variable and how it is applied.</summary>
    private static readonly (string Key, string Env, bool Secret, Action<GatewayOptions, string> Apply)[] Table =
    [
        ("server.host", "APIGATE_SERVER_HOST", false, (o, v) => o.Host = v),
        ("server.port", "APIGATE_SERVER_PORT", false, (o, v) => o.Port = Int(v, "server.port")),
        ("server.h2c_port", "APIGATE_SERVER_H2C_PORT", false, (o, v) => o.H2cPort = Int(v, "server.h2c_port")),
        ("server.inline_scheduling", "APIGATE_SERVER_INLINE_SCHEDULING", false, (o, v) => o.InlineScheduling = Bool(v, "server.inline_scheduling")),
        ("server.allow_underscore_headers", "APIGATE_SERVER_ALLOW_UNDERSCORE_HEADERS", false, (o, v) => o.AllowUnderscoreHeaders = Bool(v, "server.allow_underscore_headers")),
        ("server.allow_trace", "APIGATE_SERVER_ALLOW_TRACE", false, (o, v) => o.AllowTrace = Bool(v, "server.allow_trace")),
        ("database.driver", "APIGATE_DATABASE_DRIVER", false, (o, v) => o.DatabaseDriver = v.ToLowerInvariant()),
        ("database.dsn", "APIGATE_DATABASE_DSN", true, (o, v) => o.DatabaseDsn = v),
        ("database.busy_timeout", "APIGATE_DATABASE_BUSY_TIMEOUT", false, (o, v) => o.StoreBusyTimeout = Duration(v, "database.busy_timeout")),
        ("upstream.url", "APIGATE_UPSTREAM_URL", false, (o, v) => o.UpstreamUrl = v),
        ("upstream.timeout", "APIGATE_UPSTREAM_TIMEOUT", false, (o, v) => o.UpstreamTimeout = Duration(v, "upstream.timeout")),
        ("auth.key_prefix", "APIGATE_AUTH_KEY_PREFIX", false, (o, v) => o.AuthKeyPrefix = v),
        ("auth.allow_query_key", "APIGATE_AUTH_ALLOW_QUERY_KEY", false, (o, v) => o.AuthAllowQueryKey = Bool(v, "auth.allow_query_key")),
        ("ratelimit.enabled", "APIGATE_RATELIMIT_ENABLED", false, (o, v) => o.RateLimitEnabled = Bool(v, "ratelimit.enabled")),
        ("ratelimit.burst", "APIGATE_RATELIMIT_BURST", false, (o, v) => o.RateLimitBurst = Int(v, "ratelimit.burst")),
        ("log.level", "APIGATE_LOG_LEVEL", false, (o, v) => o.LogLevel = v),
        ("log.format", "APIGATE_LOG_FORMAT", false, (o, v) => o.LogFormat = v.ToLowerInvariant()),
        ("metrics.enabled", "APIGATE_METRICS_ENABLED", false, (o, v) => o.MetricsEnabled = Bool(v, "metrics.enabled")),
        ("log.access", "APIGATE_ACCESS_LOG", false, (o, v) => o.AccessLog = Bool(v, "log.access")),
        ("redis.url", "APIGATE_REDIS_URL", true, (o, v) => o.RedisUrl = v),
        ("secret_key", "APIGATE_SECRET_KEY", true, (o, v) => o.SecretKey = v),
        ("transform.env_allow", "APIGATE_TRANSFORM_ENV_ALLOW", false, (o, v) => o.TransformEnvAllow = v),
        ("transform.max_body_bytes", "APIGATE_TRANSFORM_MAX_BODY_BYTES", false, (o, v) => o.TransformMaxBodyBytes = Int(v, "transform.max_body_bytes")),
        ("usage.queue_capacity", "APIGATE_USAGE_QUEUE_CAPACITY", false, (o, v) => o.UsageQueueCapacity = Int(v, "usage.queue_capacity")),
        ("config.poll_interval", "APIGATE_CONFIG_POLL_INTERVAL", false, (o, v) => o.ConfigPollInterval = Duration(v, "config.poll_interval")),
        ("admin.base_path", "APIGATE_ADMIN_BASE_PATH", false, (o, v) => o.AdminBasePath = v.Trim()),
        ("admin.listen", "APIGATE_ADMIN_LISTEN", false, (o, v) => o.AdminListen = v.Trim()),
    ];

    /// <summary>The config file's path, when <c>--config</c> is not given.</summary>
    private const string ConfigVariable = "APIGATE_CONFIG";

    private readonly Func<string, string?> _environment;

    public SettingsLoader(Func<string, string?> environment) => _environment = environment;

    /// <summary>Resolves the options. Throws <see cref="ArgumentException"/> naming the bad setting and where it came from.</summary>
    /// <param name="configPath">Explicit <c>--config</c>; when null, <c>apigate.yaml</c> in the working directory is used if present.</param>
    /// <param name="flags">Values given as command-line flags, by dotted key.</param>
    public (GatewayOptions Options, IReadOnlyList<ResolvedSetting> Settings) Load(string? configPath, IReadOnlyDictionary<string, string?> flags)
    {
        var file = ReadFile(configPath ?? _environment(ConfigVariable));
        var options = new GatewayOptions();
        var defaults = new GatewayOptions();
        var resolved = new List<ResolvedSetting>();
        foreach (var (key, env, secret, apply) in Table)
        {
            string? value = null;
            var source = SettingSource.Default;
            if (flags.TryGetValue(key, out var flag) && flag is not null)
            {
                (value, source) = (flag, SettingSource.Flag);
            }
            else if (_environment(env) is { } fromEnv)
            {
                (value, source) = (fromEnv, SettingSource.Environment);
            }
            else if (file.TryGetValue(key, out var fromFile))
            {
                (value, source) = (fromFile, SettingSource.File);
            }

            if (value is not null)
            {
                try
                {
                    apply(options, value);
                }
                catch (ArgumentException ex)
                {
                    throw new ArgumentException($"{key} (from {Describe(source, env)}): {ex.Message}", ex);
                }
            }

            resolved.Add(new ResolvedSetting(key, env, value ?? DefaultOf(key, defaults), source, secret));
        }

        try
        {
            options.Validate();
            _ = GatewayHost.ParseLevel(options.LogLevel);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException("invalid configuration: " + ex.Message, ex);
        }

        return (options, resolved);
    }

    private static string Describe(SettingSource source, string env) => source switch
    {
        SettingSource.Flag => "a command-line flag",
        SettingSource.Environment => env,
        SettingSource.File => "the config file",
        _ => "the default",
    };

    private static string DefaultOf(string key, GatewayOptions d) => key switch
    {
        "server.host" => d.Host,
        "server.port" => d.Port.ToString(CultureInfo.InvariantCulture),
        "server.inline_scheduling" => d.InlineScheduling ? "true" : "false",
        "server.allow_underscore_headers" => d.AllowUnderscoreHeaders ? "true" : "false",
        "server.allow_trace" => d.AllowTrace ? "true" : "false",
        "database.driver" => d.DatabaseDriver,
        "database.dsn" => d.DatabaseDsn,
        "database.busy_timeout" => $"{d.StoreBusyTimeout.TotalSeconds}s",
        "upstream.url" => d.UpstreamUrl,
        "upstream.timeout" => $"{d.UpstreamTimeout.TotalSeconds}s",
        "auth.key_prefix" => d.AuthKeyPrefix,
        "auth.allow_query_key" => d.AuthAllowQueryKey ? "true" : "false",
        "ratelimit.enabled" => d.RateLimitEnabled ? "true" : "false",
        "ratelimit.burst" => d.RateLimitBurst.ToString(CultureInfo.InvariantCulture),
        "log.level" => d.LogLevel,
        "log.format" => d.LogFormat,
        "metrics.enabled" => d.MetricsEnabled ? "true" : "false",
        "log.access" => d.AccessLog ? "true" : "false",
        "transform.max_body_bytes" => d.TransformMaxBodyBytes.ToString(CultureInfo.InvariantCulture),
        "usage.queue_capacity" => d.UsageQueueCapacity.ToString(CultureInfo.InvariantCulture),
        "config.poll_interval" => $"{d.ConfigPollInterval.TotalMilliseconds}ms",
        "admin.base_path" => d.AdminBasePath,
        _ => "",
    };

    private static Dictionary<string, string> ReadFile(string? explicitPath)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var path = explicitPath ?? "apigate.yaml";
        if (!File.Exists(path))
        {
            return explicitPath is null ? values : throw new ArgumentException($"config file '{explicitPath}' does not exist");
        }

        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new ArgumentException($"config file '{path}' is not valid YAML: {ex.Message}", ex);
        }

        if (yaml.Documents.Count > 0 && yaml.Documents[0].RootNode is YamlMappingNode root)
        {
            Flatten(root, "", values);
        }

        var known = Table.Select(t => t.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var key in values.Keys)
        {
            if (!known.Contains(key))
            {
                throw new ArgumentException($"config file '{path}': unknown setting '{key}' (known: {string.Join(", ", known)})");
            }
        }

        return values;
    }

    private static void Flatten(YamlMappingNode node, string prefix, Dictionary<string, string> values)
    {
        foreach (var (keyNode, valueNode) in node.Children)
        {
            var key = prefix + ((YamlScalarNode)keyNode).Value;
            switch (valueNode)
            {
                case YamlMappingNode child:
                    Flatten(child, key + ".", values);
                    break;
                case YamlScalarNode scalar:
                    values[key] = scalar.Value ?? "";
                    break;
                default:
                    throw new ArgumentException($"config file: setting '{key}' must be a single value");
            }
        }
    }

    private static int Int(string value, string key) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"'{value}' is not a whole number");

    private static bool Bool(string value, string key) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new ArgumentException($"'{value}' is not true or false"),
    };

    /// <summary>A duration setting needs its unit: <c>APIGATE_UPSTREAM_TIMEOUT=30</c> would otherwise quietly mean 30 ms.</summary>
    private static TimeSpan Duration(string value, string key)
    {
        var text = value.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            throw new ArgumentException($"'{text}' has no unit; write it with one, e.g. {text}s (seconds) or {text}ms (milliseconds)");
        }

        return Durations.TryParse(text, out var d) && d > TimeSpan.Zero ? d : throw new ArgumentException($"'{value}' is not a duration such as 30s or 1500ms");
    }

    /// <summary>
    /// One warning per <c>APIGATE_*</c> variable that no setting reads (a typo would otherwise be silently ignored),
    /// naming the closest known variable.
    /// </summary>
    public static IReadOnlyList<string> UnknownVariables(IEnumerable<string> names)
    {
        var known = Table.Select(t => t.Env).Append(ConfigVariable).ToArray();
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
