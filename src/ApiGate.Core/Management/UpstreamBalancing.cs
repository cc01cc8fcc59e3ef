using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// Validation of an upstream's targets, load-balancing policy and health checks: the part of
/// <see cref="UpstreamService"/>'s checks that belongs to load balancing. Errors name the input field.
/// </summary>
internal static class UpstreamBalancing
{
    private const int MinIntervalMs = 1_000;
    private const int MinTimeoutMs = 100;
    private const int MaxTimeoutMs = 60_000;
    private const int MaxThreshold = 100;
    private const int MaxPassiveFailures = 1_000;
    private const int MinCooldownMs = 1_000;

    /// <summary>A <c>health_check.path</c> past <see cref="UpstreamService.MaxUrlBytes"/>: a rule newer than the field (rows stored before it are served).</summary>
    internal static readonly ManagementError HealthPathTooLong =
        Invalid("health_check.path", string.Create(System.Globalization.CultureInfo.InvariantCulture, $"is longer than {UpstreamService.MaxUrlBytes} bytes"));

    /// <summary>Applies the balancing fields of <paramref name="input"/> to <paramref name="u"/> and validates the result.</summary>
    public static ManagementResult<UpstreamDefinition> Apply(UpstreamDefinition u, UpstreamChanges input)
    {
        if (input.Targets is { } targets)
        {
            if (targets.Count == 0)
            {
                return Invalid("targets", "at least one target is needed");
            }

            u = u with { Targets = [.. targets], BaseUrl = targets[0].Url };
        }

        if (input.LbPolicy is { } policy)
        {
            u = u with { LbPolicy = policy };
        }

        if (input.HashOn is { } source)
        {
            u = u with { HashOn = source.ToString() };
        }

        if (input.HealthCheck is { } health)
        {
            u = u with { HealthCheck = ApplyHealth(u.HealthCheck, health) };
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
        for (var i = 0; i < targets.Count; i++)
        {
            var target = targets[i];
            if (UpstreamService.ValidateUrl(target.Url) is { } problem)
            {
                // Which one, by position (the admin API's pointer /targets/i/url; the message names targets[i].url for the
                // CLI and the console, which show it at the whole list): the URL itself may be what is too long to show.
                yield return ListEntryField.Invalid("targets", i, "url", problem);
            }
            else if (!seen.Add(new Uri(target.Url).AbsoluteUri.TrimEnd('/')))
            {
                yield return ListEntryField.Invalid("targets", i, "url", $"'{UrlUserInfo.Mask(target.Url)}' is listed twice");
            }

            if (target.Weight is < 1 or > UpstreamTarget.MaxWeight)
            {
                yield return ListEntryField.Invalid("targets", i, "weight", $"weight {target.Weight} of '{UrlUserInfo.Mask(target.Url)}' is not between 1 and {UpstreamTarget.MaxWeight}");
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
        if (h.Path.Length > 0 && (!h.Path.StartsWith('/') || h.Path.Any(c => c is ' ' or '?' or '#' || char.IsControl(c))))
        {
            // Control characters are shown as '?', never echoed: the message reaches terminals (CLI) and logs.
            yield return Invalid("health_check.path", $"'{new string([.. h.Path.Select(c => char.IsControl(c) ? '?' : c)])}' is not an absolute path such as /healthz"
                + " (no white space, control character, '?' or '#')");
        }

        else if (System.Text.Encoding.UTF8.GetByteCount(h.Path) > UpstreamService.MaxUrlBytes)
        {
            // Bounded like a target URL it is appended to: a probe's request line past what servers take (8 KiB for Kestrel
            // and nginx by default) was refused, and every probe failing took each target out of service.
            yield return HealthPathTooLong;
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

    private static HealthCheckSettings ApplyHealth(HealthCheckSettings h, HealthCheckChanges input)
    {
        if (input.Path is { } path)
        {
            h = h with { Path = path };
        }

        if (input.Interval is { } interval)
        {
            h = h with { IntervalMs = (int)interval.TotalMilliseconds };
        }

        if (input.Timeout is { } timeout)
        {
            h = h with { TimeoutMs = (int)timeout.TotalMilliseconds };
        }

        if (input.HealthyThreshold is { } healthy)
        {
            h = h with { HealthyThreshold = healthy };
        }

        if (input.UnhealthyThreshold is { } unhealthy)
        {
            h = h with { UnhealthyThreshold = unhealthy };
        }

        if (input.PassiveFailures.HasValue)
        {
            h = h with { PassiveFailures = input.PassiveFailures.Value };
        }

        if (input.PassiveCooldown is { } cooldown)
        {
            h = h with { PassiveCooldownMs = (int)cooldown.TotalMilliseconds };
        }

        return h;
    }
}
