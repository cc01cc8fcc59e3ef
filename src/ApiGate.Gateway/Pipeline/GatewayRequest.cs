using System.Globalization;
using ApiGate.Core.Quotas;
using ApiGate.Core.RateLimiting;
using ApiGate.Core.Text;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Identity;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Snapshots;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// The state of one proxied request as it moves through the pipeline steps. Created once per request after a route
/// matched; steps read and fill it (identity, limits, the upstream path) and the forwarder consumes it.
/// </summary>
internal sealed class GatewayRequest : IRewriteRequest, Observability.IObservedRequest
{
    public GatewayRequest(HttpContext httpContext, ConfigSnapshot snapshot, RouteMatch match, UpstreamBinding upstream, string requestId, GatewayEnvironment environment)
    {
        HttpContext = httpContext;
        Snapshot = snapshot;
        Match = match;
        Upstream = upstream;
        RequestId = requestId;
        Environment = environment;
    }

    public HttpContext HttpContext { get; }

    public ConfigSnapshot Snapshot { get; }

    public RouteMatch Match { get; }

    public CompiledRoute Route => Match.Route;

    public UpstreamBinding Upstream { get; }

    /// <summary>The upstream target this request is (or was last) sent to; null until the forwarder picks one.</summary>
    public Balancing.TargetBinding? Target { get; set; }

    /// <summary>Forwarding attempts made (0 before the forwarder sends, 2 after a retry on another target).</summary>
    public int Attempts { get; set; }

    /// <summary>The <c>X-Request-ID</c> sent upstream and returned to the client.</summary>
    public string RequestId { get; }

    public GatewayEnvironment Environment { get; }

    /// <summary>The authenticated caller; null on public routes.</summary>
    public RequestIdentity? Caller { get; set; }

    /// <summary>The rate-limit decision taken for this request, if any (for X-RateLimit-* headers).</summary>
    public RateLimitDecision? RateLimit { get; set; }

    /// <summary>The quota decision taken for this request, if any (for X-Quota-* headers).</summary>
    public QuotaDecision? Quota { get; set; }

    /// <summary>The hold on the caller's monthly quota taken at admission; settled once after the exchange (null: none taken).</summary>
    public Limits.QuotaLease? Lease { get; set; }

    /// <summary>Counts the exchange while it runs (set by the meter step just before forwarding).</summary>
    public Metering.ExchangeMeter? Meter { get; set; }

    /// <summary>
    /// True once an attempt got past connecting to a target (the request may have reached a backend). False when every
    /// attempt failed to connect, or waited in the gateway's own pool for a connection (max_conns) and ended there: no
    /// backend saw the request, so it is neither billed nor recorded.
    /// </summary>
    public bool ReachedBackend { get; set; }

    /// <summary>True once a body transform replaced the client's request body with the edited one (RequestTransformStep).</summary>
    public bool BodyReplaced { get; set; }

    /// <summary>
    /// True while the current attempt's target has switched protocols (<c>101</c>) and the tunnel is counted in its
    /// <see cref="Balancing.TargetState.Tunnels"/>; the forwarding step uncounts it when the attempt ends.
    /// </summary>
    public bool TunnelCounted { get; set; }

    /// <summary>The request-transform blocks that apply to this request (null: none), for the transformer.</summary>
    public Core.Transforms.RequestOperations[]? RequestOperations { get; set; }

    /// <summary>
    /// The error the gateway answered this request with once a step had taken it (as <see cref="GatewayErrorWriter"/>
    /// recorded it on the context), null when none: usage records its status also when a gRPC call got it as a 200.
    /// </summary>
    public GatewayError? Answered { get; set; }

    /// <summary>
    /// The status the upstream answered with when the gateway then refused to pass its response on for a reason of its
    /// own (a response transform that could not check the body, <c>502 response_withheld</c>; the budget for buffered
    /// bodies full, <c>503 gateway_busy</c>); null otherwise. The target's health is judged by the upstream's status, not by
    /// the gateway's refusal.
    /// </summary>
    public int? RefusedUpstreamStatus { get; set; }

    /// <summary>An exception the gateway's response transform threw: the exchange failed on this side, not the upstream's.</summary>
    public Exception? TransformFailure { get; set; }

    /// <summary>
    /// Path sent to the upstream (before its base path is prepended), as it goes on the wire (its escapes as the client
    /// or the rewrite wrote them), set by the rewrite step; null = the request path as the client sent it.
    /// </summary>
    public string? UpstreamPath { get; set; }

    /// <summary>The request path as the client sent it (escapes undecoded), when that is not <see cref="Path"/> itself; else null.</summary>
    public string? RawPath { get; init; }

    public string Path => Match.Path;

    /// <summary>Duration and bytes of the upstream exchange, set by the forwarder when it ends (null: not forwarded).</summary>
    public Metering.UpstreamExchange? Exchange { get; set; }

    /// <summary>
    /// True when a method-override header (<c>X-HTTP-Method-Override</c>, <c>X-HTTP-Method</c>, <c>X-Method-Override</c>)
    /// names a method that the routes would not send to this route: a backend honouring it would run a method that the
    /// gateway serves elsewhere, perhaps behind a key (<c>GET /api/x</c> on a public route, asking for the <c>DELETE</c>
    /// that <c>/api/*</c> with <c>--methods DELETE</c> admits only with a key). Worked out once, when first asked.
    /// </summary>
    public bool MethodOverrideLeavesRoute => _methodOverrideLeavesRoute ??= OverrideLeavesRoute();

    private bool? _methodOverrideLeavesRoute;

    private bool OverrideLeavesRoute()
    {
        var headers = HttpContext.Request.Headers;
        foreach (var name in Balancing.RetryRules.MethodOverrideHeaders)
        {
            if (headers.TryGetValue(name, out var values) && !MethodOverrideStaysOnRoute(values))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether every method <paramref name="values"/> (a method-override header's values, each possibly a comma-separated
    /// list) names is one the routes send to this same route, as a request with that method would be matched.
    /// </summary>
    public bool MethodOverrideStaysOnRoute(Microsoft.Extensions.Primitives.StringValues values)
    {
        foreach (var value in values)
        {
            var text = value ?? "";
            foreach (var range in text.AsSpan().Split(','))
            {
                var method = text.AsSpan()[range].Trim();
                if (method.IsEmpty)
                {
                    continue;
                }

                try
                {
                    if (!GatewayPipeline.TryMatch(Snapshot, HttpContext, method.ToString(), Path, out var other) || !ReferenceEquals(other.Route, Route))
                    {
                        return false;
                    }
                }
                catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
                {
                    return false; // a pattern that ran out of time cannot say where the method goes: the header is dropped
                }
            }
        }

        return true;
    }

    /// <summary>The route's compiled transforms and metering rule for this snapshot.</summary>
    public RoutePolicies Policies => _policies ??= Snapshot.PoliciesFor(Match.Route);

    private RoutePolicies? _policies;

    /// <summary>
    /// Answers the request with a gateway error (keeping any limit headers already decided) and returns false, so a
    /// step can end the pipeline with <c>return request.RejectAsync(error);</c>.
    /// </summary>
    public async ValueTask<bool> RejectAsync(GatewayError error)
    {
        var headers = HttpContext.Response.Headers;
        if (!HttpContext.Response.HasStarted)
        {
            // A failed upstream exchange can have cleared what earlier steps set (the forwarder resets the response when
            // the upstream fails after its headers arrived): the request id and a CORS route's headers are set again (not
            // for a refused preflight, which carries no Access-Control-Allow-* header).
            headers["X-Request-ID"] = RequestId;
            if (Policies.Cors is { } cors && Cors.CorsHeaders.PreflightMethod(HttpContext.Request) is null)
            {
                Cors.CorsHeaders.ApplyActual(headers, cors, Cors.CorsHeaders.OriginOf(HttpContext.Request));
            }

            // Once the response started (a stream cut after its headers) they went out with it and cannot change: the
            // error is only recorded and the connection aborted.
            ClientHeaders.Apply(headers, this);
        }

        await GatewayErrorWriter.WriteAsync(HttpContext, error);
        Answered = HttpContext.Features.Get<GatewayError>();
        return false;
    }

    string Observability.IObservedRequest.RouteSlug => Match.Route.Definition.Slug;

    string Observability.IObservedRequest.UpstreamSlug => Upstream.Definition.Slug;

    string Observability.IObservedRequest.TargetLabel => Target?.State.Label ?? "";

    string Observability.IObservedRequest.UserId => Caller?.User.Id ?? "";

    string Observability.IObservedRequest.KeyId => Caller?.Key.Id ?? "";

    /// <summary>The method the route matched and transforms and expressions see (<see cref="RoutingMethod"/>).</summary>
    public string Method => RoutingMethod(HttpContext);

    /// <summary>
    /// The request's method as routes see it: <c>GET</c> for an HTTP/2 extended CONNECT (RFC 8441), which is the HTTP/2
    /// form of an HTTP/1.1 <c>GET</c> with <c>Upgrade: websocket</c>, so a WebSocket route admitting <c>GET</c> serves both
    /// (and <c>CONNECT</c> cannot be written in a route's methods); every other request's own method.
    /// </summary>
    public static string RoutingMethod(HttpContext context) => RequestGuard.IsWebSocketConnect(context) ? HttpMethods.Get : context.Request.Method;

    public string Host => RequestHost.Name(HttpContext.Request);

    public string? GetVariable(string name)
    {
        switch (name)
        {
            case "uuid":
                return Guid.NewGuid().ToString();
            case "timestamp":
                return Environment.TimeProvider.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            case "iso_time":
                return Environment.TimeProvider.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            case "client_ip":
                return HttpContext.Connection.RemoteIpAddress?.ToString();
            case "request_id":
                return RequestId;
            case "path":
                return Path;
            case "method":
                return Method;
            case "host":
                return Host;
            case "user_id":
                return Caller?.User.Id ?? "";
            case "user_email":
                return Caller?.User.Email ?? "";
            case "plan_id":
                return Caller?.Plan.Definition.Id ?? "";
            case "plan_name":
                return Caller?.Plan.Definition.Name ?? "";
            case "api_key_id":
                return Caller?.Key.Id ?? "";
            case "api_key_prefix":
                return Caller?.Key.Prefix ?? "";
        }

        if (name.StartsWith("header.", StringComparison.Ordinal))
        {
            var header = name[7..];
            var values = HttpContext.Request.Headers[header];
            return values.Count == 0 || IsCredentialHeader(header, values) ? null : Shown(header, values); // the credential is never copied anywhere
        }

        if (name.StartsWith("query.", StringComparison.Ordinal))
        {
            var parameter = name[6..];
            var values = HttpContext.Request.Query[parameter];
            return values.Count == 0 || IsCredentialQuery(parameter, values) ? null : values[0];
        }

        if (name.StartsWith("env.", StringComparison.Ordinal))
        {
            return Environment.GetAllowedEnvironmentVariable(name[4..]);
        }

        return null;
    }

    /// <summary>The request headers for expressions, lower-cased, without the API key (X-API-Key, a key in Authorization) and the gateway's cookies.</summary>
    public IEnumerable<KeyValuePair<string, string>> Headers()
    {
        foreach (var (name, values) in HttpContext.Request.Headers)
        {
            if (!IsCredentialHeader(name, values) && Shown(name, values) is { } shown)
            {
                yield return new KeyValuePair<string, string>(name.ToLowerInvariant(), shown);
            }
        }
    }

    /// <summary>
    /// A request header's value as expressions and templates see it: the <c>Cookie</c> header without the gateway's own
    /// cookies (<see cref="GatewayCookies"/>; null when nothing else is left). Over TLS the console's and the portal's
    /// sessions are <c>__Host-</c> cookies at <c>Path=/</c>, sent with every request to the host, a proxied route's
    /// included: a route copying <c>${header.Cookie}</c> into a header, a query, a body or a path would otherwise hand an
    /// operator's or a customer's session to its upstream, which the forwarded <c>Cookie</c> header never does.
    /// </summary>
    private static string? Shown(string name, Microsoft.Extensions.Primitives.StringValues values) =>
        !name.Equals("Cookie", StringComparison.OrdinalIgnoreCase)
            ? values.ToString()
            : GatewayCookies.Without(values) switch
            {
                null => values.ToString(),
                "" => null,
                var kept => kept,
            };

    /// <summary>The query parameters for expressions (first value of each), without an <c>api_key</c> credential.</summary>
    public IEnumerable<KeyValuePair<string, string>> Query()
    {
        foreach (var (name, values) in HttpContext.Request.Query)
        {
            if (!IsCredentialQuery(name, values))
            {
                yield return new KeyValuePair<string, string>(name, values.Count > 0 ? values[0] ?? "" : "");
            }
        }
    }

    private bool IsCredentialHeader(string name, Microsoft.Extensions.Primitives.StringValues values)
    {
        if (name.Equals(Credentials.ApiKeyHeader, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var value in values)
        {
            if (Environment.IsKeyAuthorization(value))
            {
                return true;
            }
        }

        return false;
    }

    private bool IsCredentialQuery(string name, Microsoft.Extensions.Primitives.StringValues values)
    {
        if (!name.Equals(Credentials.QueryParameter, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var value in values)
        {
            if (Environment.IsKeyQueryValue(value))
            {
                return true;
            }
        }

        return false;
    }

    public IReadOnlyDictionary<string, string>? Identity(string kind) => (Caller, kind) switch
    {
        (null, _) => null,
        (_, "user") => new Dictionary<string, string>
        {
            ["id"] = Caller.User.Id, ["email"] = Caller.User.Email, ["name"] = Caller.User.Name, ["status"] = WireNames.Of(Caller.User.Status),
        },
        (_, "key") => new Dictionary<string, string> { ["id"] = Caller.Key.Id, ["prefix"] = Caller.Key.Prefix, ["name"] = Caller.Key.Name },
        (_, "plan") => new Dictionary<string, string> { ["id"] = Caller.Plan.Definition.Id, ["name"] = Caller.Plan.Definition.Name },
        _ => null,
    };
}
