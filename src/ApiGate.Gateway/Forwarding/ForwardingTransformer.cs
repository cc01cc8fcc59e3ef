using System.Net.Http.Headers;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Transforms;
using Microsoft.AspNetCore.WebUtilities;
using ApiGate.Gateway.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// Shapes the outgoing request for one <see cref="GatewayRequest"/>: YARP's base copies the headers (dropping
/// hop-by-hop ones); on top of that the destination URI (upstream base path + rewritten path + query), identity-header
/// stripping, <c>X-Forwarded-*</c>, <c>X-Request-ID</c> and upstream credentials.
/// </summary>
/// <param name="streamStop">For an event stream or a WebSocket (on any route): ends the upstream's side when the gateway's stop begins (<see cref="StopEndedContent"/>).</param>
/// <param name="grpcDeadline">For a gRPC call on an <c>http</c> route: the <c>grpc-timeout</c> the upstream is sent (<see cref="GrpcDeadline"/>).</param>
/// <param name="sent">Marked once the attempt is written on a connection (<see cref="UpstreamHttp.SentAttempt"/>).</param>
internal sealed class ForwardingTransformer(
    GatewayRequest request, bool allowUnderscoreHeaders, ResponseBodyTransformer responseBodies, UpstreamHttp.SentAttempt sent,
    Balancing.TrialRequest? trial = null, CancellationToken streamStop = default, GrpcDeadline? grpcDeadline = null)
    : HttpTransformer
{
    private const string EntitlementPrefix = "X-Entitlement-";

    /// <summary>Identity headers only the gateway may set (SPEC §1.1); removed from every client request.</summary>
    private static readonly string[] IdentityHeaders = ["X-User-ID", "X-Key-ID", "X-Plan-ID"];

    /// <summary>
    /// Headers the gateway sets or that carry a credential. A client header that names one of these once '_' is read as
    /// '-' (as CGI and WSGI backends do) is never forwarded, even when underscores are allowed.
    /// </summary>
    private static readonly string[] ProtectedHeaders =
        ["X-User-ID", "X-Key-ID", "X-Plan-ID", "X-API-Key", "Authorization", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-ID", "Forwarded", "X-Real-IP"];

    /// <summary>Headers that say who the client is; replaced by the gateway's own <c>X-Forwarded-For</c>.</summary>
    private static readonly string[] ClientAddressHeaders = ["X-Forwarded-For", "Forwarded", Proxies.ClientAddressMiddleware.RealIpHeader];

    /// <summary>
    /// Headers a backend may read as the request's real target or outbound proxy, never forwarded: <c>Proxy</c> becomes
    /// <c>HTTP_PROXY</c> in CGI-style backends ("httpoxy"); IIS and Symfony take <c>X-Original-URL</c> /
    /// <c>X-Rewrite-URL</c> as the path, past the route that matched.
    /// </summary>
    private static readonly System.Collections.Frozen.FrozenSet<string> NeverForwarded =
        System.Collections.Frozen.FrozenSet.ToFrozenSet(["Proxy", "X-Original-URL", "X-Rewrite-URL"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// What proxies in front tell a backend about the client and the original request (its address, port, path prefix,
    /// scheme): forwarded only from a trusted proxy (APIGATE_TRUSTED_PROXIES); anyone else could choose them.
    /// </summary>
    private static readonly System.Collections.Frozen.FrozenSet<string> FromTrustedProxyOnly = System.Collections.Frozen.FrozenSet.ToFrozenSet(
        ["X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "Front-End-Https", "X-Url-Scheme",
         "True-Client-IP", "X-Client-IP", "Client-IP", "CF-Connecting-IP", "Fastly-Client-IP", "X-Cluster-Client-IP", "X-Original-Forwarded-For"],
        StringComparer.OrdinalIgnoreCase);

    /// <summary>Headers some frameworks take as the real method (Rails, Express, Spring, ASP.NET with middleware).</summary>
    private static readonly string[] MethodOverrideHeaders = Balancing.RetryRules.MethodOverrideHeaders;

    /// <summary>
    /// Whether the client's method-override headers reach the backend: only on a route that admits every method (one
    /// that admits some has them removed, or a backend honouring one would run a method the route refuses), and only
    /// when each method they name is matched to this same route (a route admitting every method may share its path with
    /// one that admits <c>DELETE</c> only with a key: a <c>GET</c> naming <c>DELETE</c> would run it without one).
    /// </summary>
    public static bool ForwardsMethodOverrideHeaders(GatewayRequest request) =>
        request.Route.Definition.Methods.Count == 0 && !request.MethodOverrideLeavesRoute;

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        var incoming = httpContext.Request;
        if (incoming.ContentLength is null && !HttpMethods.IsConnect(incoming.Method)
            && httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }
            && !Balancing.RetryRules.IsIdempotent(Balancing.RetryRules.MethodAsSeenUpstream(incoming, OverriddenMethod(request), ForwardsMethodOverrideHeaders(request))))
        {
            // The upstream client sends a request without content up to three more times, on new connections, when one
            // closes before the response head: a POST without a body reached the backend four times, past the rules that
            // never repeat it (docs/load-balancing.md). Copied, Content-Length: 0 gives the request (empty) content, which it
            // never sends twice; it writes that header for such methods anyway.
            incoming.Headers.ContentLength = 0;
        }

        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        sent.Track(proxyRequest);
        var headers = proxyRequest.Headers;
        headers.Host = null; // the upstream sees its own host; the client's is in X-Forwarded-Host

        foreach (var name in IdentityHeaders)
        {
            if (incoming.Headers.ContainsKey(name))
            {
                headers.Remove(name);
            }
        }

        if (Pipeline.GatewayCookies.Without(incoming.Headers.Cookie) is { } cookies)
        {
            // The console's and the portal's cookies (sessions, antiforgery) are the gateway's: never an upstream's.
            headers.Remove("Cookie");
            if (cookies.Length > 0)
            {
                headers.TryAddWithoutValidation("Cookie", cookies);
            }
        }

        var viaProxy = httpContext.Features.Get<Proxies.ForwardedClientFeature>(); // set only for a trusted proxy's request
        StripSpoofableHeaders(headers, fromTrustedProxy: viaProxy is not null);
        StripConnectionNominated(incoming.Headers, headers);
        if (!ForwardsMethodOverrideHeaders(request))
        {
            foreach (var name in MethodOverrideHeaders)
            {
                headers.Remove(name);
            }
        }

        // The client address is decided in one place (Proxies/ClientAddressMiddleware): the verified chain from a trusted
        // proxy, else the peer alone. A client's own X-Forwarded-For, Forwarded or X-Real-IP never goes upstream.
        foreach (var name in ClientAddressHeaders)
        {
            if (incoming.Headers.ContainsKey(name))
            {
                headers.Remove(name);
            }
        }

        if (Proxies.ClientAddressMiddleware.ForwardedFor(httpContext, viaProxy) is { } forwardedFor)
        {
            headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        }

        // A client's own X-Forwarded-Proto / -Host would tell the backend the request came over https, or for another
        // host (redirects, cookies, links in e-mails): only a trusted proxy's values are kept and appended to; anyone
        // else's are replaced by what the gateway itself received.
        var fromTrustedProxy = viaProxy is not null;
        Append(headers, "X-Forwarded-Proto", fromTrustedProxy ? incoming.Headers["X-Forwarded-Proto"] : default, incoming.Scheme);
        Append(headers, "X-Forwarded-Host", fromTrustedProxy ? incoming.Headers["X-Forwarded-Host"] : default, Pipeline.RequestHost.Value(incoming));

        headers.Remove("X-Request-ID");
        headers.TryAddWithoutValidation("X-Request-ID", request.RequestId);
        if (grpcDeadline is { } deadline && deadline.Header(incoming.Headers[Grpc.GrpcTimeout.Header].ToString()) is { } timeout)
        {
            headers.Remove(Grpc.GrpcTimeout.Header);
            headers.TryAddWithoutValidation(Grpc.GrpcTimeout.Header, timeout);
        }

        Observability.GatewayTracing.Propagate(headers);

        // The credential never travels upstream, on any route: X-API-Key, a key in Authorization, a key in ?api_key.
        headers.Remove(Credentials.ApiKeyHeader);
        // Each Authorization line on its own: with two (a backend token and a key) the joined value starts with the
        // other scheme, yet the key is in it, and the authentication step reads every line.
        foreach (var value in incoming.Headers.Authorization)
        {
            if (request.Environment.IsKeyAuthorization(value))
            {
                headers.Authorization = null;
                break;
            }
        }

        string? query = incoming.QueryString.Value;
        // Parameter names are matched ignoring case and after decoding ("API_KEY", "api%5Fkey"), as the query collection does.
        if (query is { Length: > 0 } && (query.Contains(Credentials.QueryParameter, StringComparison.OrdinalIgnoreCase) || query.Contains('%'))
            && HasKeyInQuery(incoming.Query))
        {
            var parameters = QueryParameters.Parse(query);
            parameters.Remove(Credentials.QueryParameter);
            query = parameters.ToQueryString();
        }

        if (request.RequestOperations is { } operations)
        {
            QueryParameters? queryParameters = null;
            foreach (var operation in operations)
            {
                operation.Headers.Apply(new UpstreamRequestHeaders(proxyRequest), request);
                if (!operation.Query.IsEmpty)
                {
                    queryParameters ??= QueryParameters.Parse(query);
                    operation.Query.Apply(queryParameters, request);
                }
            }

            if (queryParameters is not null)
            {
                query = queryParameters.ToQueryString();
            }
        }

        if (request.Caller is { } caller)
        {
            // Client copies of these were removed above, so plain adds suffice, unless the route's request transform wrote
            // one since: the gateway's value replaces it (docs/transformations.md), never joins it as a second value that
            // a backend reading the first one would take for the caller. Custom entitlement names can always collide.
            var transformed = request.RequestOperations is not null;
            if (transformed)
            {
                headers.Remove("X-User-ID");
                headers.Remove("X-Key-ID");
                headers.Remove("X-Plan-ID");
            }

            headers.TryAddWithoutValidation("X-User-ID", caller.User.Id);
            headers.TryAddWithoutValidation("X-Key-ID", caller.Key.Id);
            headers.TryAddWithoutValidation("X-Plan-ID", caller.Plan.Definition.Id);
            foreach (var entitlement in caller.Plan.EntitlementHeaders)
            {
                if (transformed || !entitlement.Name.StartsWith(EntitlementPrefix, StringComparison.Ordinal))
                {
                    headers.Remove(entitlement.Name);
                }

                headers.TryAddWithoutValidation(entitlement.Name, entitlement.Value);
            }
        }

        var upstream = request.Upstream;
        if (upstream.AuthHeaderName is { } authName)
        {
            headers.Remove(authName);
            if (!string.Equals(upstream.AuthHeaderBackendName, authName, StringComparison.Ordinal))
            {
                headers.Remove(upstream.AuthHeaderBackendName!); // X_Secret's credential: the client's X-Secret is the same variable to a CGI backend
            }

            headers.TryAddWithoutValidation(authName, upstream.AuthHeaderValue);
        }

        if (ReadsTheBody(request))
        {
            // Ask the upstream for an uncompressed body. SSE: events must reach the client as they are produced. A
            // metering rule or a response transform that reads the body: a client asking for gzip would otherwise get
            // a body the gateway cannot read — billed 1 unit instead of its tokens, fields meant to be masked passed on.
            headers.Remove("Accept-Encoding");
        }

        if (OverriddenMethod(request) is { } overridden)
        {
            proxyRequest.Method = HttpMethod.Parse(overridden);
        }

        // The path as the client sent it (or the rewrite's), its escapes kept so one decode upstream yields exactly the path
        // that was matched and %3B stays %3B; the URI is taken verbatim, so nothing on the way out unescapes or removes
        // dot segments again (docs/routing.md).
        proxyRequest.RequestUri = request.Target!.UriFor(request.UpstreamPath ?? RequestPaths.EncodeKeepingEscapes(request.RawPath ?? request.Path), query);

        // A head with no header at all (a route's transform removed even the gateway's own, on a public route) asks the
        // header encoding selector nothing, so whether it was written cannot be seen: it is taken as written, and a failed
        // exchange recorded as before rather than dropped.
        if (proxyRequest.Headers.NonValidated.Count == 0 && (proxyRequest.Content is null || proxyRequest.Content.Headers.NonValidated.Count == 0))
        {
            sent.TakeAsWritten();
        }
    }

    /// <summary>An HTTP/2 client's extended CONNECT answered with a 2xx that is not the upstream accepting the tunnel.</summary>
    private static bool IsUnswitchedExtendedConnect(HttpContext httpContext, HttpResponseMessage proxyResponse) =>
        (int)proxyResponse.StatusCode is >= 200 and < 300
        && httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>()?.IsExtendedConnect == true
        && !(proxyResponse.StatusCode == System.Net.HttpStatusCode.OK && proxyResponse.Version == System.Net.HttpVersion.Version20);

    /// <summary>
    /// The client asked to switch protocols: a WebSocket handshake the gateway forwards as one (RequestGuard hides any
    /// other upgrade), or an HTTP/2 extended CONNECT.
    /// </summary>
    private static bool ClientAsksToSwitch(HttpContext httpContext) =>
        httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        || httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>() is { IsExtendedConnect: true };

    /// <summary>
    /// Whether the gateway reads the response body (an event stream's events, a metering rule or a response transform
    /// reading it): such a request offers the upstream no coding, and a body compressed all the same is decoded.
    /// </summary>
    private static bool ReadsTheBody(GatewayRequest request) =>
        request.Route.Definition.Protocol == RouteProtocol.Sse || request.Policies.Metering.NeedsResponseBody
        || (request.Route.Definition.Protocol == RouteProtocol.Http && request.Policies.Response is { NeedsBody: true });

    /// <summary>The upstream accepted a tunnel: a 101, or a 2xx to the extended CONNECT sent to an HTTP/2 upstream.</summary>
    private static bool SwitchesProtocols(HttpResponseMessage? proxyResponse) =>
        proxyResponse is not null
        && (proxyResponse.StatusCode == System.Net.HttpStatusCode.SwitchingProtocols
            || (proxyResponse.RequestMessage?.Method == HttpMethod.Connect && (int)proxyResponse.StatusCode is >= 200 and < 300));

    /// <summary>The method the route's request transform or <c>method_override</c> sends instead of the client's, or null.</summary>
    public static string? OverriddenMethod(GatewayRequest request) =>
        request.Policies.Request?.MethodOverride is { } transformMethod ? transformMethod
        : request.Route.Definition.MethodOverride is { Length: > 0 } routeMethod ? routeMethod
        : null;

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        try
        {
            return await TransformResponseCoreAsync(httpContext, proxyResponse, cancellationToken);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or IOException))
        {
            // The gateway's own failure, not the upstream's (the forwarder reports it as one while reading the response):
            // the target is not blamed and the client gets transform_error (ForwardStep).
            request.TransformFailure = ex;
            throw;
        }
    }

    private async ValueTask<bool> TransformResponseCoreAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null)
        {
            request.ReachedBackend = true; // before the limit headers below are written from it
            if (IsUnswitchedExtendedConnect(httpContext, proxyResponse))
            {
                // A WebSocket opened over HTTP/2 (extended CONNECT) must be answered by a switch (101 from an HTTP/1.1
                // upstream, 200 on an HTTP/2 one): a plain 2xx cannot be given to the client as the answer to its CONNECT.
                return await request.RejectAsync(GatewayError.UpstreamError with
                {
                    Detail = $"The upstream answered the WebSocket handshake with {(int)proxyResponse.StatusCode} instead of accepting it.",
                });
            }

            if (proxyResponse.StatusCode == System.Net.HttpStatusCode.SwitchingProtocols
                && (proxyResponse.RequestMessage?.Headers.NonValidated.Contains("Upgrade") != true || !ClientAsksToSwitch(httpContext)))
            {
                // A switch nobody asked for: passed on, the client (or a proxy in front of the gateway) would read the
                // upstream's raw bytes after it as a tunnel, or as the next response on its connection. The client's own
                // request decides, not only the upstream request: a request transform may set Upgrade on the latter.
                return await request.RejectAsync(GatewayError.UpstreamError with
                {
                    Detail = "The upstream switched protocols (101) for a request that did not ask to.",
                });
            }
        }

        if (proxyResponse is not null)
        {
            if ((int)proxyResponse.StatusCode is < 100 or > 599)
            {
                // RFC 9110 §15: outside 100–599 a status code is invalid. Passed on, the client got a status line such as
                // "HTTP/1.1 0" that it cannot read.
                return await request.RejectAsync(GatewayError.UpstreamError with
                {
                    Detail = $"The upstream answered with status {(int)proxyResponse.StatusCode}, outside 100–599.",
                });
            }

            if (!HasOneContentLength(proxyResponse.Content.Headers))
            {
                // RFC 9112 §6.3: a proxy answers a response with an invalid Content-Length with 502. Copied as it came, the
                // server refused it and the client got 500 transform_error, the target not blamed.
                return await request.RejectAsync(GatewayError.UpstreamError with
                {
                    Detail = "The upstream's response has an invalid Content-Length (not a number, or two different ones).",
                });
            }

            if (!ChunkedAtMost(proxyResponse.Headers))
            {
                // Only the chunking is removed by the upstream client: the bytes of any other coding (gzip) would reach the
                // client as the body, labelled as none (Transfer-Encoding is not passed on), as a request's are refused (501).
                return await request.RejectAsync(GatewayError.UpstreamError with
                {
                    Detail = "The upstream's response is framed with a transfer coding other than chunked alone.",
                });
            }

            DropUnsendable(proxyResponse.Headers);
            DropUnsendable(proxyResponse.Content.Headers);
            // The trial's outcome is known now, not when the body ends — once the response passed the checks above: one
            // refused there is answered 502 and counts as the target failing, so it leaves the trial unsettled and the
            // attempt's end fails it (settled by the status line, a 200 the client never got put the target back).
            trial?.OnResponseHeaders((int)proxyResponse.StatusCode);
            if (proxyResponse.StatusCode == System.Net.HttpStatusCode.SwitchingProtocols && request.Target is { } tunnelled && !request.TunnelCounted)
            {
                // The upgraded connection leaves the pool: a tunnel open on the target does not make the requests that
                // follow wait for one of its max_conns connections (ForwardStep.QueuedForConnection).
                tunnelled.State.TunnelOpened();
                request.TunnelCounted = true;
            }
        }

        var proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (proxyResponse is not null
            && (proxyResponse.StatusCode == System.Net.HttpStatusCode.ResetContent
                || (proxyResponse.Version.Major >= 2 && proxyResponse.StatusCode is System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.NotModified)))
        {
            // No content (RFC 9110 §15.3.5, §15.3.6, §15.4.5): bytes an HTTP/2 upstream sends with such a status anyway are
            // dropped, as the HTTP/1.1 clients drop them for 204 and 304. Both HTTP/1.1 clients read a 205's body by its
            // framing, so it is dropped here whatever the version. Written on, the server refused the write and the client
            // got no answer.
            proxyResponse.Content.Dispose();
            proxyResponse.Content = new ByteArrayContent([]);
        }

        if (proxyResponse is not null && ReadsTheBody(request) && !SwitchesProtocols(proxyResponse))
        {
            // Its headers copied, the body not yet read: a body compressed unasked (the request offered no coding) is
            // decoded, so an event stream's events are counted, a metering rule reads the body and a response transform
            // edits it (and a stop ends the decoded stream, below).
            DecodedResponseContent.TryDecode(proxyResponse, httpContext.Response.Headers);
        }

        if (proxyResponse is not null && streamStop.CanBeCanceled
            && (SwitchesProtocols(proxyResponse) || request.Route.Definition.Protocol is RouteProtocol.Sse or RouteProtocol.Websocket))
        {
            // After its headers were copied. A tunnel is one whatever the route's protocol (a WebSocket on an sse, http or
            // http_stream route): its stream is written to as well, and ended with a close frame. A handshake on an http or
            // http_stream route that the upstream answered without switching is an ordinary response, which drains.
            proxyResponse.Content = new StopEndedContent(proxyResponse.Content, streamStop, webSocket: SwitchesProtocols(proxyResponse));
        }

        var responseHeaders = httpContext.Response.Headers;
        if (proxyResponse is not null)
        {
            RemoveHopByHop(proxyResponse.Headers.NonValidated, responseHeaders);
        }

        if ((httpContext.Response.StatusCode == StatusCodes.Status204NoContent || SwitchesProtocols(proxyResponse)) && responseHeaders.ContentLength is not null)
        {
            // A 204 has no body and may not say a length, nor may a 101 or the 2xx accepting a CONNECT (RFC 9110 §8.6);
            // passed on, the server refuses the whole response (a tunnel's client got a bare 500 instead of its switch).
            responseHeaders.ContentLength = null;
        }
        else if (httpContext.Response.StatusCode == StatusCodes.Status205ResetContent && responseHeaders.ContentLength is not (null or 0))
        {
            // A 205 has no content and may state only a zero length (RFC 9110 §15.3.6): the server refuses any other, and the
            // client got a bare 502 with no request id, the target not counted.
            responseHeaders.ContentLength = 0;
        }

        if (responseHeaders.SetCookie.Count > 0)
        {
            Pipeline.GatewayCookies.RemoveSetCookies(responseHeaders);
        }

        if (request.Target is { } target && responseHeaders.Location is [{ } location] && ToRelative(location, target.Origin) is { } relative)
        {
            // A redirect to the target's own address (a backend that builds absolute URLs from the Host it was sent)
            // would send the client past the gateway and tell it an internal address: made relative, it resolves
            // against the URL the client asked for.
            responseHeaders.Location = relative;
        }

        var transform = proxyResponse is null ? null : request.Policies.Response;
        transform?.ApplyHeaders(new ClientResponseHeaders(responseHeaders), request);
        responseHeaders["X-Request-ID"] = request.RequestId;
        ClientHeaders.Apply(responseHeaders, request);
        if (request.Policies.Cors is { } cors)
        {
            // On a route with a CORS policy the gateway's answer wins over the upstream's Access-Control-* headers.
            Cors.CorsHeaders.ApplyActual(responseHeaders, cors, Cors.CorsHeaders.OriginOf(httpContext.Request));
        }

        // Headers are final from here: a body transform starts the response.
        if (transform is null || !proceed || !transform.NeedsBody || request.Route.Definition.Protocol != RouteProtocol.Http)
        {
            return proceed;
        }

        if (HttpMethods.IsHead(httpContext.Request.Method))
        {
            // A HEAD answer has no body to edit, and its length is the unedited body's: left out, as RFC 9110 §9.3.2 allows
            // for what only the content decides (it was answered Content-Length: 0, or withheld when the body is large).
            responseHeaders.ContentLength = null;
            return proceed;
        }

        proceed = !await responseBodies.TryTransformAsync(httpContext, proxyResponse!, transform, request.Route.Definition.Id, request.RequestId, request.Meter?.Response, cancellationToken);
        if (!proceed && httpContext.Features.Get<GatewayError>() is { } refusal)
        {
            request.Answered = refusal; // withheld or refused as busy: the meter records its status
            request.RefusedUpstreamStatus = (int)proxyResponse!.StatusCode; // the target answered; passive checks read its status
        }
        else if (!proceed)
        {
            // The body went out from here, read to its end, and the forwarder copies no trailers after a response it
            // did not send itself: the upstream's (gRPC's status, a checksum) follow it as on any other response.
            await TransformResponseTrailersAsync(httpContext, proxyResponse!, cancellationToken);
        }

        return proceed;
    }

    /// <summary>
    /// The upstream's trailers (gRPC's status, for one) reach the client under the rules of its headers: hop-by-hop ones
    /// and <c>Proxy-*</c> stay at the gateway, and neither a header-only field (framing, authentication, redirects,
    /// cookies, content format) nor a header the gateway sets on the response (<c>X-Request-ID</c>, the limit headers)
    /// can be planted or contradicted from the trailer section — the same with either upstream client.
    /// </summary>
    public override async ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken)
    {
        var trailersFeature = httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>();
        if (trailersFeature is null)
        {
            return; // an HTTP/1.x client: the server sends no trailers, so there is nothing to copy or filter
        }

        DropUnsendable(proxyResponse.TrailingHeaders);
        await base.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);
        if (trailersFeature.Trailers is not { Count: > 0 } trailers)
        {
            return;
        }

        RemoveHopByHop(proxyResponse.TrailingHeaders.NonValidated, trailers);
        List<string>? found = null;
        foreach (var (name, _) in trailers)
        {
            if (IsNeverTrailer(name))
            {
                (found ??= []).Add(name);
            }
        }

        foreach (var name in found ?? [])
        {
            trailers.Remove(name);
        }
    }

    /// <summary>
    /// Fields a recipient must know before the content (RFC 9110 §6.5.1: framing, routing, authentication, response
    /// control, content format), which no trailer may carry whichever upstream client read it.
    /// </summary>
    private static readonly System.Collections.Frozen.FrozenSet<string> HeaderOnlyFields = System.Collections.Frozen.FrozenSet.ToFrozenSet(
        [
            "Age", "Authorization", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
            "Content-Location", "Content-Range", "Content-Type", "Date", "Expect", "Expires", "Host", "If-Match", "If-Modified-Since",
            "If-None-Match", "If-Range", "If-Unmodified-Since", "Location", "Max-Forwards", "Pragma", "Proxy-Authenticate",
            "Proxy-Authorization", "Range", "Retry-After", "Set-Cookie", "TE", "Trailer", "Transfer-Encoding", "Vary", "Warning",
            "WWW-Authenticate",
        ],
        StringComparer.OrdinalIgnoreCase);

    /// <summary>Names no upstream trailer may carry to the client: header-only fields, and what the gateway itself answers with.</summary>
    private static bool IsNeverTrailer(string name) =>
        HeaderOnlyFields.Contains(name)
        || name.Equals("X-Request-ID", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("X-RateLimit-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Quota-", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// False when the upstream's <c>Transfer-Encoding</c> names anything but <c>chunked</c> once (RFC 9112 §6.1: the
    /// gateway asked for no other coding; chunked twice would leave one chunking in the body). Empty list elements are not
    /// codings. Nothing is allocated.
    /// </summary>
    private static bool ChunkedAtMost(HttpResponseHeaders headers)
    {
        if (!headers.NonValidated.TryGetValues("Transfer-Encoding", out var values))
        {
            return true;
        }

        var chunked = 0;
        foreach (var value in values)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                var coding = value.AsSpan()[range].Trim(" \t");
                if (coding.IsEmpty)
                {
                    continue;
                }

                if (!coding.Equals("chunked", StringComparison.OrdinalIgnoreCase) || ++chunked > 1)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// False when the upstream's <c>Content-Length</c> is not a number or gives two different ones. The same value in
    /// several fields, which RFC 9110 §8.6 lets a recipient take as one, is made one field when the upstream client framed
    /// the body by it (a list in one field, <c>2, 2</c>, it does not: the body then runs to the connection's end, so it
    /// is refused). Nothing is allocated for a single valid value.
    /// </summary>
    private static bool HasOneContentLength(HttpContentHeaders headers)
    {
        if (!headers.NonValidated.TryGetValues("Content-Length", out var values))
        {
            return true;
        }

        if (values.Count == 1)
        {
            foreach (var value in values)
            {
                if (value.Length is > 0 and <= 18 && !value.AsSpan().ContainsAnyExceptInRange('0', '9'))
                {
                    return true;
                }
            }
        }

        if (headers.ContentLength is not { } length)
        {
            return false;
        }

        foreach (var value in values)
        {
            if (!long.TryParse(value.AsSpan().Trim(" \t"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
                || parsed != length)
            {
                return false;
            }
        }

        headers.Remove("Content-Length");
        headers.ContentLength = length;
        return true;
    }

    /// <summary>
    /// Leaves out an upstream header (or trailer) whose value the server cannot write — a control character, or a byte
    /// past ASCII (a raw UTF-8 file name, say) — as a response transform's own such value is: copied, it would fail the
    /// whole exchange. Nothing is allocated unless a header must go.
    /// </summary>
    private static void DropUnsendable(HttpHeaders headers)
    {
        List<string>? unsendable = null;
        foreach (var header in headers.NonValidated)
        {
            foreach (var value in header.Value)
            {
                if (!ClientResponseHeaders.IsSendable(value))
                {
                    (unsendable ??= []).Add(header.Key);
                    break;
                }
            }
        }

        if (unsendable is not null)
        {
            foreach (var name in unsendable)
            {
                headers.Remove(name);
            }
        }
    }

    /// <summary>
    /// Removes from what the client gets the upstream's hop-by-hop headers YARP's copy keeps: every header its
    /// <c>Connection</c> names (RFC 9110 §7.6.1: for the gateway's connection only) and every <c>Proxy-*</c> one
    /// (<c>Proxy-Authenticate</c> and its kin are about the gateway's hop, never the client's).
    /// </summary>
    private static void RemoveHopByHop(HttpHeadersNonValidated upstream, IHeaderDictionary outgoing)
    {
        // NonValidated enumerates without allocating; nothing is allocated unless a header must go.
        foreach (var header in upstream)
        {
            if (header.Key.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase))
            {
                outgoing.Remove(header.Key);
            }
            else if (header.Key.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var value in header.Value)
                {
                    var rest = value.AsSpan();
                    while (NextNominated(ref rest, out var name))
                    {
                        outgoing.Remove(name.ToString());
                    }
                }
            }
        }
    }

    /// <summary>
    /// Removes client headers a backend could take for the gateway's: any <c>X-Entitlement-*</c> or custom entitlement
    /// header, <see cref="NeverForwarded"/>, <see cref="FromTrustedProxyOnly"/> unless a trusted proxy sent the request,
    /// <c>Proxy-*</c> and <c>Trailer</c>, and every name with a character other than a letter, digit or '-' (unless
    /// <c>APIGATE_SERVER_ALLOW_UNDERSCORE_HEADERS</c>; then only those that read as any of those, a protected header,
    /// a method override the route would drop, or the upstream's credential header once each such character is '-').
    /// </summary>
    private void StripSpoofableHeaders(HttpRequestHeaders outgoing, bool fromTrustedProxy)
    {
        // NonValidated enumerates without allocating (an IHeaderDictionary enumerator would be boxed per request).
        List<string>? found = null;
        foreach (var header in outgoing.NonValidated)
        {
            var name = header.Key;
            if (name.StartsWith(EntitlementPrefix, StringComparison.OrdinalIgnoreCase) || IsCustomEntitlementHeader(name)
                || IsNeverForwarded(name, fromTrustedProxy)
                || (HasUnusualCharacter(name) && (!allowUnderscoreHeaders || ReadsAsProtected(name, fromTrustedProxy))))
            {
                (found ??= []).Add(name);
            }
        }

        if (found is not null)
        {
            foreach (var name in found)
            {
                outgoing.Remove(name);
            }
        }
    }

    /// <summary>
    /// A name with a character other than a letter, digit or '-' ('_', '.', '~', …): CGI-style bridges map every such
    /// character to '_', so <c>X.User.ID</c> and <c>X_User_ID</c> both read as <c>HTTP_X_USER_ID</c>.
    /// </summary>
    private static bool HasUnusualCharacter(string name) => name.AsSpan().IndexOfAnyExcept(NameCharacters) >= 0;

    private static readonly System.Buffers.SearchValues<char> NameCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");

    /// <summary>
    /// <see cref="NeverForwarded"/>, <see cref="FromTrustedProxyOnly"/> (unless a trusted proxy sent the request) and the
    /// hop-by-hop names YARP's copy keeps: <c>Proxy-*</c> (<c>Proxy-Authorization</c> is the client's credential for the
    /// gateway, not the backend's) and <c>Trailer</c> (trailer fields are not forwarded, so announcing them would be false).
    /// </summary>
    private static bool IsNeverForwarded(string name, bool fromTrustedProxy) =>
        NeverForwarded.Contains(name) || (!fromTrustedProxy && FromTrustedProxyOnly.Contains(name))
        || name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase) || name.Equals("Trailer", StringComparison.OrdinalIgnoreCase);

    private bool ReadsAsProtected(string name, bool fromTrustedProxy)
    {
        var dashed = string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = NameCharacters.Contains(source[i]) ? source[i] : '-';
            }
        });
        if (dashed.StartsWith(EntitlementPrefix, StringComparison.OrdinalIgnoreCase) || IsCustomEntitlementHeader(dashed)
            || IsNeverForwarded(dashed, fromTrustedProxy)
            || (MethodOverrideHeaders.Contains(dashed, StringComparer.OrdinalIgnoreCase)
                && (!ForwardsMethodOverrideHeaders(request) || !request.MethodOverrideStaysOnRoute(request.HttpContext.Request.Headers[name])))
            || (request.Upstream.AuthHeaderBackendName is { } authName && dashed.Equals(authName, StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        foreach (var candidate in ProtectedHeaders)
        {
            if (dashed.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return request.Caller is { } caller && caller.Plan.EntitlementHeaderNames.Contains(dashed);
    }

    /// <summary>
    /// A custom entitlement header name (<c>--header-name X-Tier</c>) of any entitlement, enabled or not: the gateway
    /// owns it on every route, so a client cannot send it where the gateway sets none (public routes, disabled ones).
    /// </summary>
    private bool IsCustomEntitlementHeader(string name) => request.Snapshot.CustomEntitlementHeaders.Contains(name);

    /// <summary>
    /// RFC 9110 §7.6.1: headers named in <c>Connection</c> are hop-by-hop and must not be forwarded. A name that is not a
    /// header name (<c>a b</c>, <c>x@y</c>) names nothing, and a content header (<c>Content-Type</c>, <c>Content-Length</c>,
    /// <c>Expires</c>…) describes the body, which is forwarded, so it stays (RFC 9110 §7.6.1 has no sender name a field
    /// meant for every recipient): the upstream client's request headers refuse both with an exception, which answered
    /// the request <c>502 upstream_error</c> without sending it.
    /// </summary>
    private static void StripConnectionNominated(IHeaderDictionary incoming, HttpRequestHeaders outgoing)
    {
        var connection = incoming.Connection;
        if (connection.Count == 0)
        {
            return;
        }

        foreach (var value in connection)
        {
            var rest = value.AsSpan();
            while (NextNominated(ref rest, out var name))
            {
                if (name.IndexOfAnyExcept(TokenCharacters) < 0 && !ContentHeaders.Contains(name))
                {
                    outgoing.Remove(name.ToString());
                }
            }
        }
    }

    /// <summary>The characters of a field name (RFC 9110 §5.1, <c>token</c>).</summary>
    private static readonly System.Buffers.SearchValues<char> TokenCharacters =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>The headers .NET keeps on a request's content, not on the request (<see cref="System.Net.Http.Headers.HttpContentHeaders"/>).</summary>
    private static readonly System.Collections.Frozen.FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> ContentHeaders =
        System.Collections.Frozen.FrozenSet.ToFrozenSet(
            ["Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-MD5",
             "Content-Range", "Content-Type", "Expires", "Last-Modified"],
            StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// <paramref name="location"/> without its scheme and authority when they are <paramref name="origin"/>'s
    /// (<c>http://10.0.0.5:8080/a?b</c> → <c>/a?b</c>); null when it points anywhere else or is already relative.
    /// </summary>
    internal static string? ToRelative(string location, string origin) =>
        Strip(location, origin) ?? (WrittenOrigin(location, origin) is { } written ? Strip(location, written) : null);

    /// <summary>
    /// The scheme and authority as <paramref name="location"/> writes them, when they name <paramref name="origin"/> in
    /// another spelling — the default port written out (<c>http://10.0.0.5:80/x</c> for <c>http://10.0.0.5</c>), user info
    /// on either side — so that such a redirect does not tell the client the backend's address either; else null.
    /// </summary>
    private static string? WrittenOrigin(string location, string origin)
    {
        var scheme = location.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0 || !Uri.TryCreate(location, UriKind.Absolute, out var to) || !Uri.TryCreate(origin, UriKind.Absolute, out var target)
            || !to.Scheme.Equals(target.Scheme, StringComparison.OrdinalIgnoreCase)
            || !to.IdnHost.Equals(target.IdnHost, StringComparison.OrdinalIgnoreCase) || to.Port != target.Port)
        {
            return null;
        }

        // The authority ends where the URL parser ends it, a backslash included (which Strip then declines to resolve).
        var end = location.AsSpan(scheme + 3).IndexOfAny("/\\?#");
        return end < 0 ? location : location[..(scheme + 3 + end)];
    }

    private static string? Strip(string location, string origin)
    {
        if (!location.StartsWith(origin, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (location.Length == origin.Length)
        {
            return "/";
        }

        return location[origin.Length] switch
        {
            // '//host/…' or '/\host/…' would read as another host once relative; '/.' before it keeps the path on this
            // host ('/.//evil/x' resolves to the path '//evil/x' here) without telling the client the backend's address.
            '/' => location.Length > origin.Length + 1 && location[origin.Length + 1] is '/' or '\\' ? "/." + location[origin.Length..] : location[origin.Length..],
            '?' or '#' => "/" + location[origin.Length..],
            _ => null, // http://10.0.0.5:80801/… or http://10.0.0.5.example/…: another authority
        };
    }

    /// <summary>
    /// The next header name a <c>Connection</c> value nominates, taken off the front of <paramref name="rest"/>: its
    /// comma-separated tokens, trimmed, except <c>upgrade</c> (YARP's to handle, for WebSocket) and
    /// <c>close</c>/<c>keep-alive</c> (connection options, not header names). Allocates nothing.
    /// </summary>
    private static bool NextNominated(ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> name)
    {
        while (!rest.IsEmpty)
        {
            var comma = rest.IndexOf(',');
            var token = (comma < 0 ? rest : rest[..comma]).Trim();
            rest = comma < 0 ? default : rest[(comma + 1)..];
            if (!token.IsEmpty && !token.Equals("upgrade", StringComparison.OrdinalIgnoreCase) && !token.Equals("close", StringComparison.OrdinalIgnoreCase)
                && !token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase))
            {
                name = token;
                return true;
            }
        }

        name = default;
        return false;
    }


    private bool HasKeyInQuery(IQueryCollection query)
    {
        foreach (var value in query[Credentials.QueryParameter])
        {
            if (request.Environment.IsKeyQueryValue(value))
            {
                return true;
            }
        }

        return false;
    }

    private static void Append(HttpRequestHeaders headers, string name, StringValues existing, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        headers.Remove(name);
        headers.TryAddWithoutValidation(name, existing.Count == 0 ? value : existing.ToString() + ", " + value);
    }
}
