using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// Validation of an upstream's targets, load-balancing policy and health checks: the part of
/// <see cref="ConfigService"/>'s upstream checks that belongs to load balancing. Errors name the input field.
/// </summary>
internal static class UpstreamBalancing
{
    private const int MinIntervalMs = 1_000;
    private const int MinTimeoutMs = 100;
    private const int MaxTimeoutMs = 60_000;
    private const int MaxThreshold = 100;
    private const int MaxPassiveFailures = 1_000;
    private const int MinCooldownMs = 1_000;

    /// <summary>Applies the balancing fields of <paramref name="input"/> to <paramref name="u"/> and validates the result.</summary>
    public static ManagementResult<UpstreamDefinition> Apply(UpstreamDefinition u, UpstreamInput input)
    {
        if (input.Targets is not null)
        {
            if (input.Targets.Count == 0)
            {
                return Invalid("targets", "at least one target is needed");
            }

            var targets = new List<UpstreamTarget>(input.Targets.Count);
            foreach (var target in input.Targets)
            {
                if (target is null || string.IsNullOrWhiteSpace(target.Url))
                {
                    return Invalid("targets", "every target needs a url");
                }

                targets.Add(new UpstreamTarget(target.Url.Trim().TrimEnd('/'), target.Weight ?? UpstreamTarget.DefaultWeight));
            }

            u = u with { Targets = targets, BaseUrl = targets[0].Url };
        }

        if (input.LbPolicy is not null)
        {
            if (!WireNames.TryParse<LoadBalancingPolicy>(input.LbPolicy, out var policy))
            {
                return Invalid("lb_policy", $"'{input.LbPolicy}' is not one of {WireNames.List<LoadBalancingPolicy>()}");
            }

            u = u with { LbPolicy = policy };
        }

        if (input.HashOn is not null)
        {
            var source = HashSource.Parse(input.HashOn, out var error);
            if (error is not null)
            {
                return Invalid("hash_on", error);
            }

            u = u with { HashOn = source.ToString() };
        }

        if (input.HealthCheck is { } health)
        {
            var applied = ApplyHealth(u.HealthCheck, health);
            if (applied.Error is not null)
            {
                return applied.Error;
            }

            u = u with { HealthCheck = applied.Value! };
        }

        foreach (var error in Validate(u))
        {
            return error;
        }

        return u;
    }

    /// <summary>Static checks of the balancing part of a definition (also run on stored rows by <c>config validate</c>).</summary>
    public static IEnumerable<ManagementError> Validate(UpstreamDefinition u)
    {
        var targets = u.EffectiveTargets;
        if (targets.Count > UpstreamTarget.MaxTargets)
        {
            yield return Invalid("targets", $"at most {UpstreamTarget.MaxTargets} targets");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var target in targets)
        {
            if (ConfigService.ValidateUrl(target.Url) is { } problem)
            {
                yield return Invalid("targets", problem);
            }
            else if (!seen.Add(new Uri(target.Url).AbsoluteUri.TrimEnd('/')))
            {
                yield return Invalid("targets", $"'{target.Url}' is listed twice");
            }

            if (target.Weight is < 1 or > UpstreamTarget.MaxWeight)
            {
                yield return Invalid("targets", $"weight {target.Weight} of '{target.Url}' is not between 1 and {UpstreamTarget.MaxWeight}");
            }
        }

        var hash = HashSource.Parse(u.HashOn, out var hashError);
        if (hashError is not null)
        {
            yield return Invalid("hash_on", hashError);
        }
        else if (u.LbPolicy == LoadBalancingPolicy.Hash && hash.Kind == HashSourceKind.None)
        {
            yield return Invalid("hash_on", "lb_policy hash needs hash_on: header:<name>, key or client_ip");
        }

        var h = u.HealthCheck;
        if (h.Path.Length > 0 && (!h.Path.StartsWith('/') || h.Path.AsSpan().ContainsAny(" ?#\r\n")))
        {
            yield return Invalid("health_check.path", $"'{h.Path}' is not an absolute path such as /healthz");
        }

        if (h.IntervalMs < MinIntervalMs)
        {
            yield return Invalid("health_check.interval", "must be at least 1s");
        }

        // A timeout longer than the interval is allowed: a target has at most one probe running, the next waits for it.
        if (h.TimeoutMs is < MinTimeoutMs or > MaxTimeoutMs)
        {
            yield return Invalid("health_check.timeout", "must be between 100ms and 60s");
        }

        if (h.HealthyThreshold is < 1 or > MaxThreshold)
        {
            yield return Invalid("health_check.healthy_threshold", $"must be between 1 and {MaxThreshold}");
        }

        if (h.UnhealthyThreshold is < 1 or > MaxThreshold)
        {
            yield return Invalid("health_check.unhealthy_threshold", $"must be between 1 and {MaxThreshold}");
        }

        if (h.PassiveFailures is < 0 or > MaxPassiveFailures)
        {
            yield return Invalid("health_check.passive_failures", $"must be between 0 (off) and {MaxPassiveFailures}");
        }

        if (h.PassiveCooldownMs < MinCooldownMs)
        {
            yield return Invalid("health_check.passive_cooldown", "must be at least 1s");
        }
    }

    private static ManagementResult<HealthCheckSettings> ApplyHealth(HealthCheckSettings h, HealthCheckInput input)
    {
        if (input.Path is not null)
        {
            var path = input.Path.Trim();
            h = h with { Path = path.Equals("none", StringComparison.OrdinalIgnoreCase) ? "" : path };
        }

        if (input.Interval is not null)
        {
            if (!TryMilliseconds(input.Interval, out var ms))
            {
                return Invalid("health_check.interval", $"'{input.Interval}' is not a duration (milliseconds, or e.g. 5s)");
            }

            h = h with { IntervalMs = ms };
        }

        if (input.Timeout is not null)
        {
            if (!TryMilliseconds(input.Timeout, out var ms))
            {
                return Invalid("health_check.timeout", $"'{input.Timeout}' is not a duration (milliseconds, or e.g. 2s)");
            }

            h = h with { TimeoutMs = ms };
        }

        if (input.HealthyThreshold is { } healthy)
        {
            h = h with { HealthyThreshold = healthy };
        }

        if (input.UnhealthyThreshold is { } unhealthy)
        {
            h = h with { UnhealthyThreshold = unhealthy };
        }

        if (input.PassiveFailures is { } failures)
        {
            h = h with { PassiveFailures = failures < 0 ? null : failures };
        }

        if (input.PassiveCooldown is not null)
        {
            if (!TryMilliseconds(input.PassiveCooldown, out var ms))
            {
                return Invalid("health_check.passive_cooldown", $"'{input.PassiveCooldown}' is not a duration (milliseconds, or e.g. 30s)");
            }

            h = h with { PassiveCooldownMs = ms };
        }

        return h;
    }

    private static bool TryMilliseconds(string text, out int milliseconds)
    {
        milliseconds = 0;
        if (!Durations.TryParse(text, out var value))
        {
            return false;
        }

        milliseconds = (int)value.TotalMilliseconds;
        return true;
    }
}
