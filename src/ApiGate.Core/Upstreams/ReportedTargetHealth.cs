using System.Globalization;
using ApiGate.Core.Storage;

namespace ApiGate.Core.Upstreams;

/// <summary>
/// One configured target of an upstream with what running gateways reported about it (<c>target_health</c>):
/// the view behind <c>apigate upstreams get</c> and the admin API's <c>GET /upstreams/{id}/targets</c>.
/// </summary>
/// <param name="Url">The target's base URL.</param>
/// <param name="Weight">Its weight.</param>
/// <param name="Reports">One per reporting gateway instance, in the order given (the store lists the newest first); empty when none reported it.</param>
public sealed record ReportedTargetHealth(string Url, int Weight, IReadOnlyList<TargetHealthReport> Reports)
{
    /// <summary>What is shown for a target no running gateway has reported.</summary>
    public const string Unknown = "unknown (no running gateway has reported it)";

    /// <summary>
    /// Pairs each configured target of <paramref name="upstream"/>, in list order, with the reports about it. Reports
    /// about targets that are no longer configured (rows a crashed instance left behind) are left out.
    /// </summary>
    public static IReadOnlyList<ReportedTargetHealth> Merge(UpstreamDefinition upstream, IReadOnlyList<TargetHealthReport> reports)
    {
        var targets = upstream.EffectiveTargets;
        var merged = new ReportedTargetHealth[targets.Count];
        for (var i = 0; i < targets.Count; i++)
        {
            var target = targets[i];
            merged[i] = new ReportedTargetHealth(target.Url, target.Weight,
                [.. reports.Where(r => r.TargetUrl == target.Url)]);
        }

        return merged;
    }

    /// <summary>One report for people: <c>ejected since … (reason); reported … by host/pid/id</c>.</summary>
    public static string Describe(TargetHealthReport report)
    {
        var reason = report.Reason.Length > 0 ? $" ({report.Reason})" : "";
        return $"{report.State} since {Time(report.Since)}{reason}; reported {Time(report.ReportedAt)} by {report.InstanceId}";
    }

    private static string Time(DateTimeOffset value) => value.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
