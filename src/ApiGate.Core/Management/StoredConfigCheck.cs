using ApiGate.Core.Storage;
using ApiGate.Core.Text;

namespace ApiGate.Core.Management;

/// <summary><c>apigate config validate</c>: the stored configuration checked as a whole, across upstreams and routes.</summary>
public static class StoredConfigCheck
{
    /// <summary>
    /// Checks every stored route and upstream compiles as the gateway would compile it, and that an enabled route taking
    /// JWTs has an issuer to check them against (<paramref name="jwtIssuer"/>, the resolved <c>jwt.issuer</c>; null = not
    /// checked); returns one line per problem.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ValidateStoredAsync(IGatewayStore store, CancellationToken cancellationToken, string? jwtIssuer = null)
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

            // Without an issuer the gateway refuses every token (401 invalid_token): a jwt route lets nobody in.
            if (jwtIssuer is { Length: 0 } && route.Enabled && route.TakesJwt())
            {
                problems.Add($"route '{route.Slug}': auth_scheme: '{WireNames.Of(route.AuthScheme)}' needs jwt.issuer (APIGATE_JWT_ISSUER), which is not set: "
                    + (route.AuthScheme == Routing.AuthScheme.Jwt ? "every request is refused with 401 invalid_token" : "every JWT is refused with 401 invalid_token"));
            }
        }

        return problems;
    }
}
