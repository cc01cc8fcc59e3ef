using ApiGate.Core.Routing;
using ApiGate.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// What every proxied request must pass before it is matched (docs/routing.md, "Path safety"): a method the gateway
/// forwards, and a path that has one meaning. The path is decoded here, once, from the raw request target; that decoded
/// path is what the routes match and what the forwarder sends, so no later decoder can read it differently.
/// </summary>
internal static class RequestGuard
{
    public static readonly GatewayError MethodNotAllowed = new(405, "method_not_allowed", "Method Not Allowed",
        "TRACE and TRACK are not forwarded (APIGATE_SERVER_ALLOW_TRACE).")
    {
        Allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    };

    /// <summary>
    /// A plain CONNECT asks the gateway to open a TCP tunnel to any host and port, and an HTTP/2 extended CONNECT for
    /// another protocol than <c>websocket</c> (<c>connect-udp</c>, <c>connect-ip</c>) a UDP or IP tunnel: never done.
    /// (An extended CONNECT for <c>websocket</c>, a WebSocket over HTTP/2, is a request to a path like any other and goes on.)
    /// </summary>
    public static readonly GatewayError ConnectNotAllowed = new(405, "method_not_allowed", "Method Not Allowed",
        "CONNECT is not forwarded: the gateway opens no tunnels.")
    {
        Allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    };

    /// <summary>
    /// Null when the request may go on (with <paramref name="path"/> set to the decoded path, and <paramref name="rawPath"/>
    /// to the path as the client sent it when that differs, else null), else the refusal.
    /// </summary>
    public static GatewayError? Check(HttpContext context, GatewayOptions options, ref string path, out string? rawPath)
    {
        rawPath = null;
        var method = context.Request.Method;
        if (!options.AllowTrace && (HttpMethods.IsTrace(method) || method.Equals("TRACK", StringComparison.OrdinalIgnoreCase)))
        {
            return MethodNotAllowed;
        }

        if (HttpMethods.IsConnect(method) && !IsWebSocketConnect(context))
        {
            return ConnectNotAllowed;
        }

        if (HeaderWithControlCharacter(context.Request.Headers) is { } header)
        {
            return InvalidHeader(header);
        }

        if (HideUpgradeUnlessWebSocket(context) && !IsValidWebSocketKey(context.Request.Headers.SecWebSocketKey))
        {
            // Left to the forwarder, a handshake toward an HTTP/2 upstream would be answered with its bare 400 and reported
            // as forwarded (so recorded and billed), and one toward an HTTP/1.1 upstream sent on to be refused there.
            return InvalidWebSocketKey;
        }

        if (context.Request.Headers.TransferEncoding is { Count: > 0 } codings && !IsChunkedOnly(codings))
        {
            return UnsupportedTransferCoding;
        }

        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path;
        if (target.Contains('#'))
        {
            // A fragment is never part of a request target (RFC 9112 §3.2), yet the server keeps it in the path or query:
            // matched here as part of the path (/admin# is not the exact route /admin), it is cut off by backends that
            // parse the target as a URL (Node's url.parse, Express), which would then serve /admin past its route's key.
            return FragmentInTarget;
        }

        var raw = RawPath(target);
        if (RequestPaths.IsPlain(raw))
        {
            // Nothing to decode: Kestrel's path is the raw path, already allocated.
            return null;
        }

        if (RequestPaths.TryDecode(raw, out var decoded) is { } problem)
        {
            return InvalidPath(problem);
        }

        path = decoded;
        rawPath = raw.ToString(); // forwarded as sent where no rewrite changes it (ForwardingTransformer)
        return null;
    }

    /// <summary>
    /// An HTTP/2 extended CONNECT (RFC 8441) that opens a WebSocket: the HTTP/2 form of an HTTP/1.1 <c>GET</c> with
    /// <c>Upgrade: websocket</c>, the only CONNECT the gateway forwards.
    /// </summary>
    public static bool IsWebSocketConnect(HttpContext context) =>
        HttpMethods.IsConnect(context.Request.Method)
        && context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true, Protocol: { } protocol }
        && protocol.Equals("websocket", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Leaves an HTTP/1.1 upgrade to the forwarder only when it is a WebSocket handshake: a <c>GET</c> (RFC 6455 §4.1)
    /// with <c>Upgrade: websocket</c>. The forwarder sends every upgrade it tunnels as a <c>GET</c>, so a <c>POST</c>
    /// carrying the handshake's headers would reach the backend as a <c>GET</c> past a route admitting only <c>POST</c>,
    /// and it also tunnels <c>Upgrade: SPDY/…</c>; any other upgrade is forwarded as the plain request it is, with its own
    /// method and without <c>Upgrade</c> (docs/forwarding.md, Headers). So is one in an HTTP/1.0 request, which the server
    /// would otherwise switch: RFC 9110 §7.8 has a server ignore <c>Upgrade</c> there, and a handshake needs HTTP/1.1.
    /// </summary>
    /// <returns>True when the request is a WebSocket handshake over HTTP/1.1, left to the forwarder.</returns>
    private static bool HideUpgradeUnlessWebSocket(HttpContext context)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true })
        {
            return false;
        }

        if (HttpMethods.IsGet(context.Request.Method) && !HttpProtocol.IsHttp10(context.Request.Protocol)
            && string.Equals(context.Request.Headers.Upgrade.ToString(), "websocket", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        context.Features.Set<IHttpUpgradeFeature>(NotUpgradable.Instance);
        return false;
    }

    /// <summary>A Host (or HTTP/2 <c>:authority</c>) whose port is past 65535 (<see cref="RequestHost.HasPortOutOfRange"/>).</summary>
    public static readonly GatewayError HostPortOutOfRange = new(400, "invalid_header", "Bad Request",
        "The request header Host was refused: its port is past 65535, so it names no port (RFC 3986 §3.2.3). See Matching in docs/routing.md.");

    /// <summary>A WebSocket handshake's key that is not one value of 16 bytes in base64 (RFC 6455 §4.1).</summary>
    public static readonly GatewayError InvalidWebSocketKey = new(400, "invalid_header", "Bad Request",
        "The request header Sec-WebSocket-Key was refused: a WebSocket handshake carries one key of 16 bytes in base64 (RFC 6455 §4.1).");

    private static bool IsValidWebSocketKey(Microsoft.Extensions.Primitives.StringValues key)
    {
        Span<byte> decoded = stackalloc byte[16];
        return key.Count == 1 && key[0] is { Length: 24 } value && Convert.TryFromBase64String(value, decoded, out var written) && written == 16;
    }

    /// <summary>The upgrade feature of a request whose upgrade is not forwarded.</summary>
    private sealed class NotUpgradable : IHttpUpgradeFeature
    {
        public static readonly NotUpgradable Instance = new();

        public bool IsUpgradableRequest => false;

        public Task<Stream> UpgradeAsync() => throw new InvalidOperationException("This request's upgrade is not forwarded.");
    }

    /// <summary>
    /// True when <paramref name="path"/> (Kestrel's, which has had dot segments removed) is what the raw request target
    /// decodes to under the path rule; false when the target is refused by it or reads as another path.
    /// </summary>
    public static bool NamesPathAsSent(HttpContext context, string path) => WhyNotNamedAsSent(context, path) is null;

    /// <summary>
    /// Null when <see cref="NamesPathAsSent"/> holds; otherwise why not, for the <c>400 invalid_path</c> answer: the
    /// path rule's own problem (a control character, an encoded slash…), or that the target names
    /// <paramref name="path"/> only after its dot segments are removed.
    /// </summary>
    public static string? WhyNotNamedAsSent(HttpContext context, string path) =>
        WhyNotNamedAsSent(context, path, "it names the admin API only after dot segments are removed");

    /// <summary>
    /// For a request under the admin API's base path or one of the gateway's pages (<paramref name="pagePaths"/>: the
    /// console, the portal), why its raw target does not name that path as sent (see <see cref="WhyNotNamedAsSent(HttpContext, string)"/>);
    /// null for every other request, and for one that names its path as sent.
    /// </summary>
    public static string? OwnPathNamedOnlyAfterDotSegments(HttpContext context, PathString adminBasePath, PathString[] pagePaths)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments(adminBasePath, StringComparison.Ordinal))
        {
            return WhyNotNamedAsSent(context, path.Value!);
        }

        foreach (var pages in pagePaths)
        {
            if (path.StartsWithSegments(pages, StringComparison.Ordinal))
            {
                return WhyNotNamedAsSent(context, path.Value!, $"it names a page under {pages.Value} only after dot segments are removed");
            }
        }

        return null;
    }

    private static string? WhyNotNamedAsSent(HttpContext context, string path, string dotSegments)
    {
        var raw = RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path);
        if (RequestPaths.IsPlain(raw))
        {
            return raw.SequenceEqual(path) ? null : dotSegments;
        }

        return RequestPaths.TryDecode(raw, out var decoded) ?? (decoded == path ? null : dotSegments);
    }

    /// <summary>
    /// The name of the first request header whose value holds a control character other than a tab — C0 (Kestrel
    /// already refuses NUL, CR and LF), DEL or C1 (U+0080–U+009F, which a client sends as UTF-8) — or null. RFC 9110
    /// §5.5 makes such values invalid; forwarded, they would reach a backend's parser and its logs (terminal escapes).
    /// </summary>
    internal static string? HeaderWithControlCharacter(IHeaderDictionary headers)
    {
        foreach (var header in headers)
        {
            foreach (var value in header.Value)
            {
                if (value is not null && value.AsSpan().IndexOfAny(ControlCharacters) >= 0)
                {
                    return header.Key;
                }
            }
        }

        return null;
    }

    /// <summary>What no request header value may hold: C0 but the tab, DEL, and C1.</summary>
    internal static readonly System.Buffers.SearchValues<char> ControlCharacters = System.Buffers.SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F\u007F" +
        "\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F" +
        "\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F");

    /// <summary>
    /// A request body framed with a transfer coding other than <c>chunked</c> alone (<c>gzip, chunked</c>): the server
    /// removes the chunking but not the other coding, so the upstream would get compressed bytes labelled as none.
    /// RFC 9112 §6.1: a server that does not understand a transfer coding answers 501.
    /// </summary>
    public static readonly GatewayError UnsupportedTransferCoding = new(501, "unsupported_transfer_coding", "Not Implemented",
        "The request's Transfer-Encoding is not supported: only chunked is. Send a compressed body with Content-Encoding instead.");

    private static bool IsChunkedOnly(Microsoft.Extensions.Primitives.StringValues codings) =>
        !NamesCodingOtherThan(codings, "chunked", out var count) && count <= 1;

    /// <summary>
    /// True when the comma-separated codings of a <c>Transfer-Encoding</c> or <c>Content-Encoding</c> header name one
    /// other than <paramref name="coding"/> (ignoring case); <paramref name="count"/> is how many were read.
    /// </summary>
    internal static bool NamesCodingOtherThan(Microsoft.Extensions.Primitives.StringValues codings, string coding, out int count)
    {
        count = 0;
        foreach (var value in codings)
        {
            foreach (var range in (value ?? "").AsSpan().Split(','))
            {
                var named = (value ?? "").AsSpan()[range].Trim();
                if (named.IsEmpty)
                {
                    continue;
                }

                count++;
                if (!named.Equals(coding, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The JSON:API error for a header value with a control character; names the header, never its value.</summary>
    public static GatewayError InvalidHeader(string name) =>
        new(400, "invalid_header", "Bad Request", $"The request header {name} was refused: its value holds a control character. See Headers in docs/forwarding.md.");

    /// <summary>A request target with a <c>#</c> (a fragment, in the path or the query): refused, never forwarded.</summary>
    public static readonly GatewayError FragmentInTarget = InvalidPath("the request target contains '#' (a fragment is never sent in a request; write it %23)");

    /// <summary>The JSON:API error for a refused path; the detail says what was wrong, never echoing the path.</summary>
    public static GatewayError InvalidPath(string problem) =>
        new(400, "invalid_path", "Bad Request", $"The request path was refused: {problem}. See Path safety in docs/routing.md.");

    /// <summary>The path part of a request target: origin form (<c>/p?q</c>) or absolute form (<c>http://h/p?q</c>).</summary>
    private static ReadOnlySpan<char> RawPath(string target)
    {
        var span = target.AsSpan();
        if (span.Length > 0 && span[0] != '/')
        {
            var scheme = span.IndexOf("://", StringComparison.Ordinal);
            if (scheme > 0)
            {
                var rest = span[(scheme + 3)..];
                var slash = rest.IndexOfAny('/', '?');
                span = slash < 0 || rest[slash] == '?' ? "/" : rest[slash..];
            }
        }

        var query = span.IndexOf('?');
        return query < 0 ? span : span[..query];
    }
}
