using ApiGate.Core.Routing;
using ApiGate.Core.Transforms;

namespace ApiGate.Gateway.Snapshots;

/// <summary>What a route needs at request time beyond matching: its compiled transforms.</summary>
internal sealed class RoutePolicies(RequestTransform? request, ResponseTransform? response)
{
    public static readonly RoutePolicies None = new(null, null);

    public RequestTransform? Request { get; } = request;

    public ResponseTransform? Response { get; } = response;

    /// <summary>Compiles a route's transforms; throws <see cref="ArgumentException"/> naming the route when one is invalid.</summary>
    public static RoutePolicies Compile(RouteDefinition route)
    {
        if (route.RequestTransform.Length == 0 && route.ResponseTransform.Length == 0)
        {
            return None;
        }

        try
        {
            return new RoutePolicies(
                route.RequestTransform.Length == 0 ? null : RequestTransform.Parse(route.RequestTransform),
                route.ResponseTransform.Length == 0 ? null : ResponseTransform.Parse(route.ResponseTransform));
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"route '{route.Slug}' ({route.Id}): {ex.Message}", ex);
        }
    }
}
