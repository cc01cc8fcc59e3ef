using ApiGate.Core.Metering;
using ApiGate.Core.Routing;
using ApiGate.Core.Transforms;

namespace ApiGate.Gateway.Snapshots;

/// <summary>
/// A snapshot's compiled path rewrites, transforms and metering rules by the text they were compiled from, for the next
/// snapshot to take instead of compiling them again. Each depends on nothing but its text (a metering rule on its mode
/// and expression), so one found here is what the text compiles to; an edited route finds none for its new text. An
/// expression is parsed by the script engine when compiled: with 3,000 routes carrying an expression rewrite, a request
/// transform and a metering expression, every change parsed all of them again, for the one route that changed.
/// </summary>
internal sealed class CompiledPolicies
{
    private readonly Dictionary<string, PathRewriter> _rewriters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RequestTransform> _requests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResponseTransform> _responses = new(StringComparer.Ordinal);
    private readonly Dictionary<(MeteringMode Mode, string Expression), MeteringRule> _metering = [];

    public CompiledPolicies(ConfigSnapshot previous)
    {
        foreach (var route in previous.Routes.Routes)
        {
            var definition = route.Definition;
            if (route.Rewriter is { } rewriter)
            {
                _rewriters.TryAdd(definition.PathRewrite, rewriter);
            }

            var policies = previous.PoliciesFor(route);
            if (policies.Request is { } request)
            {
                _requests.TryAdd(definition.RequestTransform, request);
            }

            if (policies.Response is { } response)
            {
                _responses.TryAdd(definition.ResponseTransform, response);
            }

            if (!ReferenceEquals(policies, RoutePolicies.None))
            {
                _metering.TryAdd((definition.MeteringMode, definition.MeteringExpr), policies.Metering);
            }
        }
    }

    /// <summary>The compiled rewrite of this text, or null when there is none to take (compile it).</summary>
    public PathRewriter? Rewriter(string rewrite) => _rewriters.GetValueOrDefault(rewrite);

    /// <summary>The compiled request transform of this text, or null when there is none to take.</summary>
    public RequestTransform? Request(string json) => _requests.GetValueOrDefault(json);

    /// <summary>The compiled response transform of this text, or null when there is none to take.</summary>
    public ResponseTransform? Response(string json) => _responses.GetValueOrDefault(json);

    /// <summary>The compiled metering rule of this mode and expression, or null when there is none to take.</summary>
    public MeteringRule? Metering(MeteringMode mode, string expression) => _metering.GetValueOrDefault((mode, expression));
}
