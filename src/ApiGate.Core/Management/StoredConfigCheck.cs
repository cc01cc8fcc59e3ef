using ApiGate.Core.Storage;
using ApiGate.Core.Text;

namespace ApiGate.Core.Management;

/// <summary><c>apigate config validate</c>: the stored configuration checked as a whole, across upstreams and routes.</summary>
public static class StoredConfigCheck
{
    /// <summary>
    /// Checks every stored route and upstream compiles as the gateway would compile it, and that an enabled route taking
    /// JWTs has an issuer to check them against (<paramref name="jwtIssuer"/>, the resolved <c>jwt.issuer</c>; null = not
    /// checked); one line per problem. A route's list stored with more entries than a write may hold (before that bound
    /// existed), or two header conditions stored with names that differ only in case, are a warning, not a problem: the
    /// gateway serves the route and it can be edited (docs/routing.md); so is a transform that compiles but breaks a rule
    /// only a write applies (docs/transformations.md), and an upstream value saved before its rule that the gateway still
    /// serves (<see cref="UpstreamService.CheckStored"/>; docs/load-balancing.md). A transform that does not compile is a
    /// problem: the gateway does not load a config holding it.
    /// </summary>
    public static async Task<StoredConfigFindings> ValidateStoredAsync(IGatewayStore store, CancellationToken cancellationToken, string? jwtIssuer = null) =>
        Check(await store.LoadConfigAsync(cancellationToken), jwtIssuer);

    /// <summary><see cref="ValidateStoredAsync"/> over configuration already loaded.</summary>
    public static StoredConfigFindings Check(ConfigData data, string? jwtIssuer = null)
    {
        var problems = new List<string>();
        var warnings = new List<string>();
        foreach (var upstream in data.Upstreams)
        {
            // Its target URLs are checked one by one (base_url is the first target's, or the only one when none are listed).
            foreach (var (error, served) in UpstreamService.CheckStored(upstream))
            {
                if (served is null)
                {
                    problems.Add($"upstream '{upstream.Slug}': {error}");
                }
                else
                {
                    warnings.Add($"upstream '{upstream.Slug}': {error} (stored before that rule): {served}, but every change to the upstream is refused "
                                 + $"until it is fixed: {UpstreamService.HowToFix(ListEntryField.ListOf(error.Field))}");
                }
            }
        }

        var upstreamIds = data.Upstreams.Select(u => u.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var route in data.Routes)
        {
            foreach (var (field, count) in RouteService.BoundedLists(route))
            {
                if (count > TextFields.MaxListEntries)
                {
                    warnings.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"route '{route.Slug}': {field} has {count} entries, more than the {TextFields.MaxListEntries} a write may hold (stored before that bound): ") +
                        "the gateway serves it and the route can be edited, but the list can shrink, not grow");
                }
            }

            if (RouteService.HeaderGivenTwice(route.Headers, stored: null) is { } twice)
            {
                warnings.Add($"route '{route.Slug}': headers: {RouteService.GivenTwice(twice, storedBeforeTheRule: true)}: a request must carry " +
                             "every value given, and the route can be edited with the conditions sent back unchanged, but none can be added");
            }

            // Checked as a change that keeps the route as stored would be: its lists may keep the entries they hold
            // (warned about above) and its transforms are not checked again; they are checked next, as the gateway
            // compiles them.
            foreach (var error in RouteService.Validate(route, stored: route))
            {
                problems.Add($"route '{route.Slug}': {error}");
            }

            foreach (var (field, message, served) in RouteService.CheckStoredTransforms(route))
            {
                if (served is null)
                {
                    problems.Add($"route '{route.Slug}': {field}: {message}");
                }
                else
                {
                    warnings.Add($"route '{route.Slug}': {field}: {message} (stored before that rule): {served}, and the route can be edited " +
                                 "with the transform sent back unchanged, but a changed transform must follow the rule");
                }
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

        return new StoredConfigFindings(problems, warnings);
    }
}
