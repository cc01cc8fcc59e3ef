using System.Collections.Frozen;
using ApiGate.Core.Entitlements;
using ApiGate.Core.RateLimiting;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Snapshots;

/// <summary>Compiles stored configuration into a <see cref="ConfigSnapshot"/>: route table, rewrites, upstream clients.</summary>
internal sealed class SnapshotBuilder(GatewayOptions options, UpstreamClientPool clients, TargetRegistry targets, TimeProvider timeProvider)
{
    /// <summary>The id of the implicit upstream built from <c>APIGATE_UPSTREAM_URL</c>.</summary>
    public const string DefaultUpstreamId = "default";

    /// <summary>
    /// Builds a snapshot to follow <paramref name="previous"/> (null for the first). Throws <see cref="ArgumentException"/>
    /// naming what cannot be compiled.
    /// </summary>
    public ConfigSnapshot Build(ConfigData data, ConfigSnapshot? previous = null)
    {
        var before = new Dictionary<string, UpstreamBinding>(StringComparer.Ordinal);
        foreach (var binding in previous?.RouteUpstreams ?? [])
        {
            if (binding is not null)
            {
                before[binding.Definition.Id] = binding;
            }
        }

        // Only upstreams an enabled route uses are bound: a binding holds clients and target states, and one made for an
        // unused upstream would be retired by the same reload, so with many such upstreams every change built (and
        // scheduled the disposal of) thousands of clients.
        var definitions = data.Upstreams.ToDictionary(u => u.Id, StringComparer.Ordinal);
        var bindings = new Dictionary<string, UpstreamBinding>(StringComparer.Ordinal);
        var compiled = previous is null ? null : new CompiledPolicies(previous);
        var table = RouteTable.Build(data.Routes, route => CompileRewrite(route, compiled), previous?.Routes);
        var routeUpstreams = new UpstreamBinding?[table.Routes.Count];
        foreach (var route in table.Routes)
        {
            if (route.Definition.UpstreamId is not { } id)
            {
                continue;
            }

            if (!bindings.TryGetValue(id, out var binding))
            {
                binding = definitions.TryGetValue(id, out var upstream)
                    ? Bind(upstream, before.GetValueOrDefault(id))
                    : throw new ArgumentException($"route '{route.Definition.Slug}' refers to unknown upstream '{id}'");
                bindings[id] = binding;
            }

            routeUpstreams[route.Index] = binding;
        }

        UpstreamBinding? defaultUpstream = null;
        CompiledRoute? defaultRoute = null;
        if (options.UpstreamUrl.Length > 0)
        {
            var now = DateTimeOffset.UnixEpoch;
            defaultUpstream = Bind(new UpstreamDefinition
            {
                Id = DefaultUpstreamId,
                Name = "default",
                Slug = DefaultUpstreamId,
                BaseUrl = options.UpstreamUrl.TrimEnd('/'),
                CreatedAt = now,
                UpdatedAt = now,
            }, previous?.DefaultUpstream);
            defaultRoute = CompiledRoute.Standalone(new RouteDefinition
            {
                Id = DefaultUpstreamId,
                Name = "default",
                Slug = DefaultUpstreamId,
                PathPattern = "/",
                MatchType = PathMatchType.Prefix,
                AuthRequired = true,
            }, null);
        }

        var entitlementHeaders = EntitlementResolver.ResolveAll(data.Plans.Select(p => p.Id), data.Entitlements, data.PlanEntitlements);
        var plans = data.Plans.ToFrozenDictionary(
            p => p.Id,
            p => new PlanRuntime(p, TokenBucketPolicy.FromPlan(p.RateLimitPerMinute, options.RateLimitBurst), entitlementHeaders[p.Id]),
            StringComparer.Ordinal);
        var policies = table.Routes.Select(r => RoutePolicies.Compile(r.Definition, compiled)).ToArray();
        // With '_' read as '-', as CGI and WSGI backends read names: a client's X-Tier is the backend's HTTP_X_TIER as much as
        // the gateway's X_Tier is, so it must not reach the backend beside it (or on a route that sends none).
        var customEntitlementHeaders = data.Entitlements
            .Select(e => e.HeaderName.Trim().Replace('_', '-'))
            .Where(name => name.Length > 0 && !name.StartsWith("X-Entitlement-", StringComparison.OrdinalIgnoreCase))
            .ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        return new ConfigSnapshot(data.Version, table, routeUpstreams, defaultUpstream, defaultRoute, plans, policies)
        {
            CustomEntitlementHeaders = customEntitlementHeaders,
            IdentityVersion = NextIdentityVersion(data.IdentityVersion, previous),
            StoreIdentityVersion = data.IdentityVersion,
            ContentToken = data.ContentToken,
        };
    }

    /// <summary>
    /// <paramref name="previous"/> under <paramref name="versions"/>, a change to keys or users only (the content token
    /// it was built from is the store's): nothing is read or compiled again.
    /// </summary>
    public static ConfigSnapshot Advance(ConfigSnapshot previous, StoreVersions versions) =>
        previous.WithVersions(versions.Config, NextIdentityVersion(versions.Identity, previous), versions.Identity);

    /// <summary>
    /// The snapshot's identity version: the store's while it only grows, and one more than the previous snapshot's
    /// whenever the store's changed but did not pass it — a store whose versions went back (a backup restored into the
    /// same file) would otherwise leave the credential caches, which only ever move forward, holding what they read
    /// before, and a key revoked after the restore would be served until the store's count caught up.
    /// </summary>
    private static long NextIdentityVersion(long stored, ConfigSnapshot? previous) =>
        previous is null || stored > previous.IdentityVersion ? stored
        : stored == previous.StoreIdentityVersion ? previous.IdentityVersion
        : previous.IdentityVersion + 1;

    private UpstreamBinding Bind(UpstreamDefinition upstream, UpstreamBinding? previous)
    {
        var timeout = upstream.TimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : options.UpstreamTimeout;
        return new UpstreamBinding(upstream, clients.Get(upstream, timeout), clients.GetStreaming(upstream, timeout), options.UpstreamTimeout, targets, timeProvider,
            previous);
    }

    private static PathRewriter? CompileRewrite(RouteDefinition route, CompiledPolicies? compiled) =>
        route.PathRewrite.Length == 0 ? null : compiled?.Rewriter(route.PathRewrite) ?? PathRewriter.Compile(route.PathRewrite);
}
