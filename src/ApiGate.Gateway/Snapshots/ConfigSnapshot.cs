using System.Collections.Frozen;
using ApiGate.Core.Routing;

namespace ApiGate.Gateway.Snapshots;

/// <summary>
/// One immutable, compiled view of the configuration. Requests read the current snapshot once and use it to the end,
/// so a reload never changes the rules under a request in flight.
/// </summary>
internal sealed class ConfigSnapshot
{
    public ConfigSnapshot(
        long version,
        RouteTable routes,
        UpstreamBinding?[] routeUpstreams,
        UpstreamBinding? defaultUpstream,
        CompiledRoute? defaultRoute,
        FrozenDictionary<string, PlanRuntime> plans,
        RoutePolicies[] routePolicies)
    {
        Plans = plans;
        RoutePolicies = routePolicies;
        Version = version;
        Routes = routes;
        RouteUpstreams = routeUpstreams;
        DefaultUpstream = defaultUpstream;
        DefaultRoute = defaultRoute;
    }

    /// <summary>Each route's compiled transforms, indexed by <see cref="CompiledRoute.Index"/>.</summary>
    public RoutePolicies[] RoutePolicies { get; }

    public RoutePolicies PoliciesFor(CompiledRoute route) => route.Index >= 0 ? RoutePolicies[route.Index] : Snapshots.RoutePolicies.None;

    /// <summary>
    /// The custom header names of all entitlements, enabled or not, with '_' read as '-' (<c>X-Entitlement-*</c> ones are
    /// covered by their prefix): never taken from a client (docs/forwarding.md, "Headers"), in either spelling.
    /// </summary>
    /// <remarks>A set ignoring case, looked up for every header of every request.</remarks>
    public FrozenSet<string> CustomEntitlementHeaders { get; init; } = FrozenSet<string>.Empty;

    /// <summary>Plans by id, with bucket shapes and entitlement headers resolved.</summary>
    public FrozenDictionary<string, PlanRuntime> Plans { get; }

    /// <summary>The store's config version this snapshot was built from.</summary>
    public long Version { get; }

    /// <summary>
    /// The identity version with it: moved by changes to keys, users and their links only, so caches of who a
    /// credential belongs to (<see cref="Identity.ApiKeyAuthenticator"/>) outlive a route or upstream change. Never
    /// smaller than the previous snapshot's (<see cref="StoreIdentityVersion"/> is the store's own).
    /// </summary>
    public long IdentityVersion { get; init; }

    /// <summary>
    /// The store's identity version this snapshot was built from. <see cref="IdentityVersion"/> is the same while the
    /// store's only grows; when it goes back (a backup restored in place) that one still moves forward.
    /// </summary>
    public long StoreIdentityVersion { get; init; }

    /// <summary>The store's content token this snapshot was built from (<see cref="Core.Storage.ConfigData.ContentToken"/>).</summary>
    public long ContentToken { get; init; }

    /// <summary>
    /// This snapshot under a later config version whose change touched nothing it was built from (a key or a user: the
    /// content token is the same), with that version's identity version: everything compiled is shared, not rebuilt.
    /// </summary>
    public ConfigSnapshot WithVersions(long version, long identityVersion, long storeIdentityVersion) =>
        new(version, Routes, RouteUpstreams, DefaultUpstream, DefaultRoute, Plans, RoutePolicies)
        {
            CustomEntitlementHeaders = CustomEntitlementHeaders,
            ContentToken = ContentToken,
            IdentityVersion = identityVersion,
            StoreIdentityVersion = storeIdentityVersion,
        };

    public RouteTable Routes { get; }

    /// <summary>The upstream of each route, indexed by <see cref="CompiledRoute.Index"/>; null = the default upstream.</summary>
    public UpstreamBinding?[] RouteUpstreams { get; }

    /// <summary>The <c>APIGATE_UPSTREAM_URL</c> upstream, if configured.</summary>
    public UpstreamBinding? DefaultUpstream { get; }

    /// <summary>The implicit catch-all route used with the default upstream when no route matches.</summary>
    public CompiledRoute? DefaultRoute { get; }

    public UpstreamBinding? UpstreamFor(CompiledRoute route) =>
        route.Index >= 0 ? RouteUpstreams[route.Index] ?? DefaultUpstream : DefaultUpstream;
}
