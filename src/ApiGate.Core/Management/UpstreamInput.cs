using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// The text form of an upstream change, as the admin API's JSON body and the CLI's options carry it; null means "not
/// given". <see cref="ToChanges"/> parses it once, at the edge, into <see cref="UpstreamChanges"/>.
/// </summary>
public sealed record UpstreamInput
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? Url { get; init; }

    /// <summary>
    /// Milliseconds or a duration such as <c>30s</c>; <c>0</c> or <c>default</c> = the gateway default. Stored in whole
    /// milliseconds, so a fraction of one (<c>0.4</c>, <c>2.9</c>) is refused, never cut off.
    /// </summary>
    public string? Timeout { get; init; }

    public int? MaxIdleConns { get; init; }
    public int? IdleConnTimeoutMs { get; init; }
    public int? MaxConns { get; init; }

    /// <summary>HTTP version spoken to the targets: <c>1.1</c> (default) or <c>2</c> (h2c for http://, ALPN h2 for https://).</summary>
    public string? HttpVersion { get; init; }
    public string? AuthType { get; init; }
    public string? AuthHeader { get; init; }
    public string? AuthValue { get; init; }
    public bool? Enabled { get; init; }

    /// <summary>Replaces the whole target list (give either this or <see cref="Url"/>); the first target becomes <c>base_url</c>.</summary>
    public IReadOnlyList<TargetInput>? Targets { get; init; }

    /// <summary><c>round_robin</c> | <c>least_requests</c> | <c>power_of_two</c> | <c>random</c> | <c>first_healthy</c> | <c>hash</c>.</summary>
    public string? LbPolicy { get; init; }

    /// <summary>For <c>hash</c>: <c>header:&lt;name&gt;</c>, <c>key</c> or <c>client_ip</c>; empty clears it.</summary>
    public string? HashOn { get; init; }

    /// <summary>Health-check changes; members left null keep their value.</summary>
    public HealthCheckInput? HealthCheck { get; init; }

    /// <summary>Parses every given field into its type; a field that cannot be read is an error naming it.</summary>
    public ManagementResult<UpstreamChanges> ToChanges()
    {
        Uri? url = null;
        if (Url is not null && !Uri.TryCreate(Url.Trim(), UriKind.Absolute, out url))
        {
            return Invalid("url", $"'{UrlUserInfo.Mask(Url.Trim())}' is not an absolute http:// or https:// URL");
        }

        List<UpstreamTarget>? targets = null;
        if (Targets is not null)
        {
            targets = new List<UpstreamTarget>(Targets.Count);
            for (var i = 0; i < Targets.Count; i++)
            {
                var target = Targets[i];
                if (target is null || string.IsNullOrWhiteSpace(target.Url))
                {
                    return ListEntryField.Invalid("targets", i, "url", "every target needs a url");
                }

                targets.Add(new UpstreamTarget(target.Url.Trim().TrimEnd('/'), target.Weight ?? UpstreamTarget.DefaultWeight));
            }
        }

        LoadBalancingPolicy? policy = null;
        if (LbPolicy is not null)
        {
            if (!WireNames.TryParse<LoadBalancingPolicy>(LbPolicy, out var parsed))
            {
                return Invalid("lb_policy", $"'{LbPolicy}' is not one of {WireNames.List<LoadBalancingPolicy>()}");
            }

            policy = parsed;
        }

        HashSource? hashOn = null;
        if (HashOn is not null)
        {
            var source = HashSource.Parse(HashOn, out var error);
            if (error is not null)
            {
                return Invalid("hash_on", error);
            }

            hashOn = source;
        }

        var health = HealthCheck?.ToChanges();
        if (health is { Error: { } healthError })
        {
            return healthError;
        }

        var timeout = default(Optional<TimeSpan?>);
        if (Timeout is not null)
        {
            if (Timeout is "0" or "default")
            {
                timeout = new Optional<TimeSpan?>(null);
            }
            else if (Durations.TryParse(Timeout, out var value, out var whole) && value > TimeSpan.Zero)
            {
                if (!whole)
                {
                    return Invalid("timeout", NotWholeMilliseconds(Timeout, "the timeout"));
                }

                timeout = value;
            }
            else
            {
                // Kept in an int of milliseconds: Durations.TryParse stops at int.MaxValue ms, just over 596h.
                return Invalid("timeout", $"'{Timeout}' is not a duration from 1ms to 596h: milliseconds (e.g. 5000) or a duration such as 30s or 2m; 0 means the gateway default");
            }
        }

        UpstreamHttpVersion? httpVersion = null;
        if (HttpVersion is not null)
        {
            if (!UpstreamHttpVersionConverter.TryParse(HttpVersion, out var version))
            {
                return Invalid("http_version", $"'{HttpVersion}' is not one of {UpstreamHttpVersionConverter.Allowed}");
            }

            httpVersion = version;
        }

        UpstreamAuthType? authType = null;
        if (AuthType is not null)
        {
            if (!WireNames.TryParse<UpstreamAuthType>(AuthType, out var type))
            {
                return Invalid("auth_type", $"'{AuthType}' is not one of {WireNames.List<UpstreamAuthType>()}");
            }

            authType = type;
        }

        return new UpstreamChanges
        {
            Name = Name,
            Description = Description,
            Url = url,
            Timeout = timeout,
            MaxIdleConns = MaxIdleConns,
            IdleConnTimeoutMs = IdleConnTimeoutMs,
            MaxConns = MaxConns,
            HttpVersion = httpVersion,
            AuthType = authType,
            AuthHeader = AuthHeader,
            AuthValue = AuthValue,
            Enabled = Enabled,
            Targets = targets,
            LbPolicy = policy,
            HashOn = hashOn,
            HealthCheck = health?.Value,
        };
    }

    /// <summary>
    /// Why a duration kept in whole milliseconds was refused: cutting <c>0.4</c> (0.4 ms, not 0.4 s) to 0 would turn it
    /// into "the gateway default", and <c>2.9</c> into 2.
    /// </summary>
    internal static string NotWholeMilliseconds(string text, string what, string forms = "(a bare number is milliseconds, e.g. 400) or a duration such as 30s") =>
        $"'{text}' has a fraction of a millisecond: {what} must be a whole number of milliseconds {forms}";
}

/// <summary>One target of an upstream: a base URL and a weight (1..1000, default 1).</summary>
public sealed record TargetInput
{
    public string? Url { get; init; }
    public int? Weight { get; init; }

    /// <summary>Parses the CLI form <c>URL[,weight=N]</c>; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static TargetInput Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        int? weight = null;
        foreach (var option in parts.AsSpan(1))
        {
            var eq = option.IndexOf('=');
            if (eq <= 0 || !option[..eq].Trim().Equals("weight", StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException($"'{UrlUserInfo.Mask(option)}' in '{UrlUserInfo.Mask(text)}' is not weight=N");
            }

            if (!int.TryParse(option[(eq + 1)..].Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var w))
            {
                throw new FormatException($"weight '{UrlUserInfo.Mask(option[(eq + 1)..])}' in '{UrlUserInfo.Mask(text)}' is not a whole number");
            }

            if (weight is not null)
            {
                // The last one used to win without a word: a slip (weight=2,weight=20) went unnoticed.
                throw new FormatException($"'{UrlUserInfo.Mask(text)}' gives the weight twice");
            }

            weight = w;
        }

        return new TargetInput { Url = parts[0], Weight = weight };
    }
}

/// <summary>Health-check fields; null = not given. Durations are milliseconds or e.g. <c>5s</c>.</summary>
public sealed record HealthCheckInput
{
    /// <summary>Path probed on each target; empty or <c>none</c> turns active checks off.</summary>
    public string? Path { get; init; }
    public string? Interval { get; init; }
    public string? Timeout { get; init; }
    public int? HealthyThreshold { get; init; }
    public int? UnhealthyThreshold { get; init; }

    /// <summary>Consecutive failures that eject a target; 0 = off; -1 = back to the default; other negatives are refused.</summary>
    public int? PassiveFailures { get; init; }
    public string? PassiveCooldown { get; init; }

    /// <summary>Parses the durations; a <see cref="PassiveFailures"/> of -1 becomes "given null" (the default).</summary>
    public ManagementResult<HealthCheckChanges> ToChanges()
    {
        if (PassiveFailures < -1)
        {
            return Invalid("health_check.passive_failures", $"'{PassiveFailures}' is not a number of failures (0 = off, -1 = the default)");
        }

        if (Duration(Interval, "health_check.interval", "the interval", "5s", out var interval) is { } intervalError)
        {
            return intervalError;
        }

        if (Duration(Timeout, "health_check.timeout", "the timeout", "2s", out var timeout) is { } timeoutError)
        {
            return timeoutError;
        }

        if (Duration(PassiveCooldown, "health_check.passive_cooldown", "the cooldown", "30s", out var cooldown) is { } cooldownError)
        {
            return cooldownError;
        }

        var path = Path?.Trim();
        return new HealthCheckChanges
        {
            Path = path is not null && path.Equals("none", StringComparison.OrdinalIgnoreCase) ? "" : path,
            Interval = interval,
            Timeout = timeout,
            HealthyThreshold = HealthyThreshold,
            UnhealthyThreshold = UnhealthyThreshold,
            PassiveFailures = PassiveFailures is { } failures ? new Optional<int?>(failures < 0 ? null : failures) : default,
            PassiveCooldown = cooldown,
        };
    }

    /// <summary>
    /// Null text is "not given" and parses; otherwise it must be a duration of whole milliseconds (how it is stored).
    /// </summary>
    private static ManagementError? Duration(string? text, string field, string what, string example, out TimeSpan? value)
    {
        value = null;
        if (text is null)
        {
            return null;
        }

        if (!Durations.TryParse(text, out var parsed, out var whole))
        {
            return Invalid(field, $"'{text}' is not a duration (milliseconds, or e.g. {example})");
        }

        if (!whole)
        {
            return Invalid(field, UpstreamInput.NotWholeMilliseconds(text, what));
        }

        value = parsed;
        return null;
    }
}
