using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Balancing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApiGate.Gateway.Admin;

internal static partial class AdminEndpoints
{
    /// <summary>
    /// <c>GET /upstreams/{id}/targets</c>: each target's state as this instance sees it now (<see cref="TargetRegistry"/>)
    /// beside what every gateway reported to the store — the same reports, merged the same way, as
    /// <c>apigate upstreams get</c> shows (<see cref="ReportedTargetHealth"/>).
    /// </summary>
    private static void MapTargets(IEndpointRouteBuilder e, UpstreamService upstreams, ITargetHealthStore reports, TargetRegistry registry, TargetHealthReporter reporter) =>
        e.MapGet("/upstreams/{id}/targets", async (string id, CancellationToken ct) =>
            {
                var found = await upstreams.GetAsync(id, ct);
                if (!found.Ok)
                {
                    return AdminErrors.From(found.Error!);
                }

                var upstream = found.Value!;
                var live = new Dictionary<string, LiveTargetState>(StringComparer.Ordinal);
                foreach (var s in registry.Statuses())
                {
                    if (s.UpstreamId == upstream.Id)
                    {
                        live[s.Url] = new LiveTargetState(WireNames.Of(s.Health), s.Since, s.Reason, s.ConsecutiveFailures, s.InFlight, s.RequestsTotal, s.FailuresTotal);
                    }
                }

                var merged = ReportedTargetHealth.Merge(upstream, await reports.ListTargetHealthAsync(upstream.Id, ct));
                var targets = merged.Select(t => new TargetStateView(t.Url, t.Weight, live.GetValueOrDefault(t.Url), t.Reports)).ToList();
                return Results.Json(new TargetStatesDocument(targets, new TargetStatesMeta(upstream.Id, reporter.InstanceId)), WireJson.Options, AdminApi.JsonContentType);
            })
            .WithName("Targets_upstreams").WithTags("upstreams").Produces<TargetStatesDocument>().Describe(StatusCodes.Status404NotFound);
}
