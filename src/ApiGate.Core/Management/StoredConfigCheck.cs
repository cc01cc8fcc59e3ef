using ApiGate.Core.Storage;

namespace ApiGate.Core.Management;

/// <summary><c>apigate config validate</c>: the stored configuration checked as a whole, across upstreams and routes.</summary>
public static class StoredConfigCheck
{
    /// <summary>Checks every stored route and upstream compiles as the gateway would compile it; returns one line per problem.</summary>
    public static async Task<IReadOnlyList<string>> ValidateStoredAsync(IGatewayStore store, CancellationToken cancellationToken)
    {
        var data = await store.LoadConfigAsync(cancellationToken);
        var problems = new List<string>();
        foreach (var upstream in data.Upstreams)
        {
            if (UpstreamService.ValidateUrl(upstream.BaseUrl) is { } urlProblem)
            {
                problems.Add($"upstream '{upstream.Slug}': url: {urlProblem}");
            }

            foreach (var error in UpstreamBalancing.Validate(upstream))
            {
                problems.Add($"upstream '{upstream.Slug}': {error}");
            }
        }

        var upstreamIds = data.Upstreams.Select(u => u.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var route in data.Routes)
        {
            foreach (var error in RouteService.Validate(route))
            {
                problems.Add($"route '{route.Slug}': {error}");
            }

            if (route.UpstreamId is { } upstreamId && !upstreamIds.Contains(upstreamId))
            {
                problems.Add($"route '{route.Slug}': upstream: unknown upstream '{upstreamId}'");
            }
        }

        return problems;
    }
}
