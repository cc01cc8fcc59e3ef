using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;

namespace ApiGate.Cli.Commands;

/// <summary>The load-balancing part of <c>apigate upstreams</c>: reading <c>--target</c> flags and showing targets with their health.</summary>
internal static class UpstreamTargetOutput
{
    /// <summary>
    /// Parses <c>--target</c> (alias <c>--targets</c>, the spelling of SPEC §7.1) values: each is <c>URL[,weight=N]</c>,
    /// repeated, or several targets in one value separated by commas (<c>http://a:8080,weight=2,http://b:8080</c>).
    /// </summary>
    /// <param name="flag">The flag as typed, which a refusal names.</param>
    public static IReadOnlyList<TargetInput> ParseTargets(IEnumerable<string> values, string flag)
    {
        try
        {
            return [.. values.SelectMany(SplitTargets).Select(TargetInput.Parse)];
        }
        catch (FormatException ex)
        {
            throw new ArgumentException(flag + ": " + ex.Message);
        }
    }

    /// <summary>
    /// Splits one value into its targets: a comma-separated part holding <c>://</c> starts the next target, any other
    /// part (<c>weight=N</c>) belongs to the target before it and is checked by <see cref="TargetInput.Parse"/>.
    /// </summary>
    private static IEnumerable<string> SplitTargets(string value)
    {
        var parts = value.Split(',');
        var first = 0;
        for (var i = 1; i < parts.Length; i++)
        {
            if (parts[i].Contains("://", StringComparison.Ordinal))
            {
                yield return string.Join(',', parts[first..i]);
                first = i;
            }
        }

        yield return string.Join(',', parts[first..]);
    }

    /// <summary><c>--passive-failures</c>: a number (0 = off) or <c>default</c> (also <c>-1</c>, as in the admin API).</summary>
    public static int? ParsePassiveFailures(string? value) => value switch
    {
        null => null,
        _ when value.Trim().Equals("default", StringComparison.OrdinalIgnoreCase) => -1,
        _ when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= -1 => n,
        _ => throw new ArgumentException($"--passive-failures: '{value}' is not a number of failures (0 = off; 'default' or -1 = the default)"),
    };

    /// <summary>The TARGETS column of <c>upstreams list</c>.</summary>
    public static string Count(UpstreamDefinition u) => u.EffectiveTargets.Count.ToString(CultureInfo.InvariantCulture);

    /// <summary>Field/value rows for <c>upstreams get</c>: policy, health checks, and one row per target with its reported state.</summary>
    /// <param name="reports">Reported target states; null for a just-created upstream, which no gateway can have reported yet.</param>
    public static IEnumerable<(string Field, string Value)> Fields(UpstreamDefinition u, IReadOnlyList<TargetHealthReport>? reports)
    {
        yield return ("lb_policy", WireNames.Of(u.LbPolicy));
        if (u.HashOn.Length > 0)
        {
            yield return ("hash_on", u.HashOn);
        }

        var h = u.HealthCheck;
        yield return ("health_check", h.ActiveEnabled
            ? $"GET {h.Path} every {h.IntervalMs}ms, timeout {h.TimeoutMs}ms, healthy after {h.HealthyThreshold}, unhealthy after {h.UnhealthyThreshold}"
            : "off");
        var passive = h.EffectivePassiveFailures(u.EffectiveTargets.Count);
        yield return ("passive_check", passive > 0 ? $"eject after {passive} consecutive failures for {h.PassiveCooldownMs}ms" : "off");

        var i = 0;
        foreach (var target in ReportedTargetHealth.Merge(u, reports ?? []))
        {
            yield return ($"target {++i}", $"{target.Url} (weight {target.Weight.ToString(CultureInfo.InvariantCulture)})");
            if (reports is null)
            {
                continue;
            }

            if (target.Reports.Count == 0)
            {
                yield return ("  state", ReportedTargetHealth.Unknown);
            }

            foreach (var report in target.Reports)
            {
                yield return ("  state", ReportedTargetHealth.Describe(report));
            }
        }
    }

    /// <summary>
    /// <c>upstreams get --json</c>: the definition exactly as everywhere else, plus one member, <c>target_health</c>,
    /// with each target's reported states (the same objects as the admin API's <c>reports</c>).
    /// </summary>
    public static string GetJson(UpstreamDefinition u, IReadOnlyList<TargetHealthReport> reports)
    {
        var json = JsonSerializer.SerializeToNode(u, WireJson.Indented)!.AsObject();
        json["target_health"] = JsonSerializer.SerializeToNode(ReportedTargetHealth.Merge(u, reports), WireJson.Indented);
        return json.ToJsonString(WireJson.Indented);
    }
}
