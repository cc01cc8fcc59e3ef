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
    /// A plain CONNECT asks the gateway to open a TCP tunnel to any host and port: never done. (HTTP/2's extended
    /// CONNECT, a WebSocket over HTTP/2, is a request to a path like any other and goes on.)
    /// </summary>
    public static readonly GatewayError ConnectNotAllowed = new(405, "method_not_allowed", "Method Not Allowed",
        "CONNECT is not forwarded: the gateway opens no tunnels.")
    {
        Allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    };

    /// <summary>Null when the request may go on (with <paramref name="path"/> set to the decoded path), else the refusal.</summary>
    public static GatewayError? Check(HttpContext context, GatewayOptions options, ref string path)
    {
        var method = context.Request.Method;
        if (!options.AllowTrace && (HttpMethods.IsTrace(method) || method.Equals("TRACK", StringComparison.OrdinalIgnoreCase)))
        {
            return MethodNotAllowed;
        }

        if (HttpMethods.IsConnect(method) && context.Features.Get<IHttpExtendedConnectFeature>() is not { IsExtendedConnect: true })
        {
            return ConnectNotAllowed;
        }

        var raw = RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path);
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
        return null;
    }

    /// <summary>
    /// True when <paramref name="path"/> (Kestrel's, which has had dot segments removed) is what the raw request target
    /// decodes to under the path rule; false when the target is refused by it or reads as another path.
    /// </summary>
    public static bool NamesPathAsSent(HttpContext context, string path)
    {
        var raw = RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path);
        return RequestPaths.IsPlain(raw)
            ? raw.SequenceEqual(path)
            : RequestPaths.TryDecode(raw, out var decoded) is null && decoded == path;
    }

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
