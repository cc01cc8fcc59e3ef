using System.Globalization;

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

    /// <summary>How often a running gateway refreshes <c>reported_at</c> of its rows.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(10);

    /// <summary>A row not refreshed for this long (three heartbeats) is shown as stale.</summary>
    public static readonly TimeSpan StaleAfter = HeartbeatInterval * 3;

    /// <summary>A row not refreshed for this long is deleted by any running gateway.</summary>
    public static readonly TimeSpan ExpireAfter = TimeSpan.FromHours(1);

    /// <summary>
    /// Pairs each configured target of <paramref name="upstream"/>, in list order, with the reports about it, marking
    /// reports older than <see cref="StaleAfter"/> at <paramref name="now"/> (default: the current time) as
    /// <see cref="TargetHealthReport.Stale"/>. Reports about targets that are no longer configured (rows a crashed
    /// instance left behind) are left out.
    /// </summary>
    public static IReadOnlyList<ReportedTargetHealth> Merge(UpstreamDefinition upstream, IReadOnlyList<TargetHealthReport> reports, DateTimeOffset? now = null)
    {
        var staleBefore = (now ?? DateTimeOffset.UtcNow) - StaleAfter;
        reports = [.. reports.Select(r => r.ReportedAt < staleBefore ? r with { Stale = true } : r)];
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

    /// <summary>
    /// One report for people: <c>ejected since … (reason); reported … by host/pid/id</c>, prefixed with
    /// <c>STALE (…):</c> when the reporting gateway stopped refreshing it.
    /// </summary>
    public static string Describe(TargetHealthReport report)
    {
        var reason = report.Reason.Length > 0 ? $" ({report.Reason})" : "";
        var text = $"{report.State} since {Time(report.Since)}{reason}; reported {Time(report.ReportedAt)} by {report.InstanceId}";
        return report.Stale ? "STALE (no heartbeat from that gateway; it has probably stopped): " + text : text;
    }

    private static string Time(DateTimeOffset value) => value.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
