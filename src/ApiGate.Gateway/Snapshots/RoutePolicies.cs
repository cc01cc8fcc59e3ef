using ApiGate.Core.Cors;
using ApiGate.Core.Expressions;
using ApiGate.Core.Metering;
using ApiGate.Core.Routing;
using ApiGate.Core.Transforms;

namespace ApiGate.Gateway.Snapshots;

/// <summary>What a route needs at request time beyond matching: its compiled transforms, metering rule and CORS policy.</summary>
internal sealed class RoutePolicies(RequestTransform? request, ResponseTransform? response, MeteringRule metering, CorsPolicy? cors = null)
{
    public static readonly RoutePolicies None = new(null, null, MeteringRule.PerRequest);

    public RequestTransform? Request { get; } = request;

    public ResponseTransform? Response { get; } = response;

    public MeteringRule Metering { get; } = metering;

    /// <summary>The route's CORS policy; null when CORS is off for it.</summary>
    public CorsPolicy? Cors { get; } = cors;

    /// <summary>
    /// Compiles a route's transforms and metering, taking from <paramref name="compiled"/> (the previous snapshot's) what
    /// was compiled from the same text; throws <see cref="ArgumentException"/> naming the route when one is invalid.
    /// </summary>
    public static RoutePolicies Compile(RouteDefinition route, CompiledPolicies? compiled = null)
    {
        if (route.RequestTransform.Length == 0 && route.ResponseTransform.Length == 0 && route.MeteringMode == MeteringMode.Request && route.CorsOrigins.Count == 0)
        {
            return None;
        }

        try
        {
            return new RoutePolicies(
                route.RequestTransform.Length == 0 ? null : compiled?.Request(route.RequestTransform) ?? RequestTransform.Parse(route.RequestTransform),
                route.ResponseTransform.Length == 0 ? null : compiled?.Response(route.ResponseTransform) ?? ResponseTransform.Parse(route.ResponseTransform),
                compiled?.Metering(route.MeteringMode, route.MeteringExpr) ?? MeteringRule.Compile(route.MeteringMode, route.MeteringExpr),
                CorsPolicy.Compile(route));
        }
        catch (Exception ex) when (ex is FormatException or ExpressionException)
        {
            throw new ArgumentException($"route '{route.Slug}' ({route.Id}): {ex.Message}", ex);
        }
    }
}
