namespace ApiGate.Core.Management;

/// <summary>Fields for creating or updating an upstream; null means "not given" (keep on update, default on create).</summary>
public sealed record UpstreamInput
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? Url { get; init; }

    /// <summary>Milliseconds or a duration such as <c>30s</c>; <c>0</c> or <c>default</c> = the gateway default.</summary>
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
                throw new FormatException($"'{option}' in '{text}' is not weight=N");
            }

            if (!int.TryParse(option[(eq + 1)..].Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var w))
            {
                throw new FormatException($"weight '{option[(eq + 1)..]}' in '{text}' is not a whole number");
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

    /// <summary>Consecutive failures that eject a target; 0 = off; negative = back to the default.</summary>
    public int? PassiveFailures { get; init; }
    public string? PassiveCooldown { get; init; }
}
