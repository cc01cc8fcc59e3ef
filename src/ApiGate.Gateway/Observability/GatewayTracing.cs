using System.Diagnostics;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// One server span per proxied request on the <c>ApiGate.Gateway</c> activity source, continuing the client's W3C
/// trace context. ASP.NET Core's own hosting activity is not used (the gateway turns hosting diagnostics off, so it
/// is normally not even created; when it is, it is not exported and its parent is not the client's span when the
/// client sent none) — the gateway's span takes its parent straight from <c>traceparent</c>/<c>tracestate</c>.
/// </summary>
internal static class GatewayTracing
{
    public const string SourceName = "ApiGate.Gateway";

    public static readonly ActivitySource Source = new(SourceName, ProductVersion.Value);

    /// <summary>The <c>http.request.method</c> of a method that is not a standard one (OpenTelemetry's convention).</summary>
    public const string OtherMethod = "_OTHER";

    /// <summary>
    /// Starts the request's span, or returns null at the cost of one check when nothing listens (tracing off). Its
    /// <c>url.path</c> has a key with <paramref name="keyPrefix"/> in it cut as in the access log
    /// (<see cref="Core.Identity.ApiKeys.RedactedPath"/>).
    /// </summary>
    public static Activity? StartRequest(HttpContext context, string keyPrefix)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var headers = context.Request.Headers;
        var parent = default(ActivityContext);
        var hasParent = headers.TraceParent.Count == 1
                        && ActivityContext.TryParse(headers.TraceParent[0], TraceStates.Bounded(headers.TraceState.Count > 0 ? headers.TraceState.ToString() : null), isRemote: true, out parent);
        if (!hasParent)
        {
            // No client context: a new root span, not a child of the (unexported) hosting activity.
            Activity.Current = null;
        }

        var activity = Source.StartActivity(ActivityKind.Server, parent, name: "HTTP " + HttpMethodNames.Normalize(context.Request.Method));
        if (activity is { IsAllDataRequested: true })
        {
            // OpenTelemetry's HTTP conventions: a method the gateway does not know is _OTHER (a client sending a new
            // method per request must not give trace backends a new attribute value each time), the method as sent
            // goes in http.request.method_original when it differs.
            var method = context.Request.Method;
            var known = HttpMethodNames.Normalize(method);
            activity.SetTag("http.request.method", ReferenceEquals(known, HttpMethodNames.Other) ? OtherMethod : known);
            if (!string.Equals(known, method, StringComparison.Ordinal))
            {
                activity.SetTag("http.request.method_original", method);
            }

            activity.SetTag("url.path", Core.Routing.RequestPaths.Visible(Core.Identity.ApiKeys.RedactedPath(context.Request.Path.Value ?? "/", keyPrefix)));
        }

        return activity;
    }

    /// <summary>Adds the outcome's attributes and ends the span.</summary>
    public static void StopRequest(Activity activity, in RequestOutcome outcome, string? requestId)
    {
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("apigate.route", outcome.Route);
            activity.SetTag("apigate.upstream", outcome.Upstream);
            if (outcome.Attempts > 0)
            {
                // Custom names: on a server span, OTel's server.address/server.port describe the gateway itself.
                activity.SetTag("apigate.target", outcome.Target);
                activity.SetTag("apigate.attempts", outcome.Attempts);
            }

            activity.SetTag("http.response.status_code", outcome.Status);
            activity.SetTag("apigate.request_id", requestId);
            if (outcome.ErrorCode is { } code)
            {
                activity.SetTag("error.type", code);
            }

            if (outcome.Status >= 500)
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome.ErrorCode);
            }

            if (outcome.Route.Length > 0)
            {
                activity.DisplayName = HttpMethodNames.Normalize(outcome.Method) + " " + outcome.Route;
            }
        }

        activity.Stop();
    }

    /// <summary>
    /// Points the upstream request's <c>traceparent</c> at the gateway's span (same trace id) when the request has one,
    /// with the span's <c>tracestate</c>: the client's when the span continues the client's trace, none when it began
    /// a new one. Without a span (tracing off) the client's headers pass through as YARP copied them.
    /// </summary>
    public static void Propagate(HttpRequestHeaders headers)
    {
        if (Activity.Current is { } activity && ReferenceEquals(activity.Source, Source) && activity.IdFormat == ActivityIdFormat.W3C)
        {
            headers.Remove("traceparent");
            headers.TryAddWithoutValidation("traceparent", activity.Id);
            // A tracestate describes the trace it came with (W3C Trace Context): when the client's traceparent was
            // missing, malformed or sent twice, the span began a new trace and the client's tracestate is dropped.
            headers.Remove("tracestate");
            if (!string.IsNullOrEmpty(activity.TraceStateString))
            {
                headers.TryAddWithoutValidation("tracestate", activity.TraceStateString);
            }
        }
    }
}
