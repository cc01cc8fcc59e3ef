using System.Text.RegularExpressions;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Web.Admin;

/// <summary>"Try a path": which route of the live config snapshot a described request matches and the path it would be forwarded with.</summary>
internal sealed class RouteTrial(SnapshotManager snapshots, TimeProvider timeProvider)
{
    public RouteTrialResult Try(string host, string method, string path, IEnumerable<KeyValuePair<string, string>> headers)
    {
        if (snapshots.Current is not { } snapshot)
        {
            return new RouteTrialResult(false, null, null, null, null, "the gateway has not loaded its configuration yet");
        }

        if (!path.StartsWith('/'))
        {
            return new RouteTrialResult(false, null, null, null, null, "a path starts with /");
        }

        // The path rule the gateway applies before matching (RequestGuard): escapes decoded once, and a path it refuses
        // (dot segments, an encoded slash, …) is the 400 a client gets, not a match. Typed here rather than sent, so
        // characters a client would have to escape may stand as they are.
        var question = path.IndexOf('?');
        var rawPath = question < 0 ? path : path[..question];
        if (!RequestPaths.IsPlain(rawPath))
        {
            if (RequestPaths.TryDecodeProduced(rawPath, out var decoded) is { } refused)
            {
                return new RouteTrialResult(false, null, null, null, null, $"the gateway refuses this path before matching: 400 invalid_path ({refused})");
            }

            rawPath = decoded;
        }

        var request = new TrialRequest(host, method.ToUpperInvariant(), rawPath, question < 0 ? "" : path[(question + 1)..], headers, timeProvider.GetUtcNow());
        RouteMatch match;
        try
        {
            if (!snapshot.Routes.TryMatch(host, request.Method, request.Path, request, out match)
                && !(snapshot.DefaultRoute is { } fallback && fallback.TryMatchPath(request.Path, out match)))
            {
                return new RouteTrialResult(false, null, null, null, null, "no route matches: the gateway answers 404 route_not_found");
            }
        }
        catch (RegexMatchTimeoutException ex)
        {
            // What the gateway does with such a request (GatewayPipeline): gives up on matching and answers 404.
            return new RouteTrialResult(false, null, null, null, null,
                $"matching timed out on the pattern {ex.Pattern} (a regex that backtracks too long): the gateway answers 404 route_not_found");
        }

        var route = match.Route;
        var upstream = snapshot.UpstreamFor(route);
        string? rewritten = request.Path;
        string? problem = null;
        if (route.Rewriter is { } rewriter)
        {
            try
            {
                rewritten = rewriter.Rewrite(match, request);
            }
            catch (RewriteException ex)
            {
                rewritten = null;
                problem = "the rewrite fails (the gateway answers 500 transform_error): " + ex.Message;
            }
        }

        // What the target receives: its URL's path in front (an upstream at http://backend/v2 gets /v2/…), then the query
        // as sent. Targets with different base paths each put their own in front, so none is shown then.
        if (rewritten is not null)
        {
            var basePath = upstream is { Targets: [var first, ..] } && upstream.Targets.All(t => t.BasePath == first.BasePath) ? first.BasePath : "";
            rewritten = basePath + rewritten + (question < 0 ? "" : path[question..]);
        }

        var captures = match.NamedCaptures().ToList();
        return new RouteTrialResult(true, route.Index >= 0 ? route.Definition : null, captures, rewritten,
            upstream is null ? null : upstream.Definition.Name + " (" + upstream.Definition.BaseUrl + ")", problem);
    }
}

/// <param name="Route">The matching route; null when the implicit default-upstream route matched.</param>
internal sealed record RouteTrialResult(
    bool Matched,
    ApiGate.Core.Routing.RouteDefinition? Route,
    IReadOnlyList<KeyValuePair<string, string>>? Captures,
    string? ForwardedPath,
    string? Upstream,
    string? Problem);
