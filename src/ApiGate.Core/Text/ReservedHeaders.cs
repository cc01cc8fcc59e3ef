namespace ApiGate.Core.Text;

/// <summary>
/// Header names an operator cannot give an entitlement or an upstream credential: the ones that frame the message or
/// belong to one hop (a value there would change how the backend reads the body, or break the request), the other
/// fields that describe the body (a request cannot carry them apart from it), and the ones
/// the gateway itself sets to tell the backend who is calling. Names are compared case-insensitively with '_' read as
/// '-', as CGI and WSGI backends read them.
/// </summary>
public static class ReservedHeaders
{
    private static readonly string[] Framing =
        ["Host", "Content-Length", "Transfer-Encoding", "Content-Type", "Content-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "Expect"];

    // The other fields .NET keeps on a request's body rather than on the request: the gateway cannot set one on the
    // request (its header collection refuses them, and every request of the route would fail), and they describe the
    // client's body, not the caller.
    private static readonly string[] BodyFields =
        ["Allow", "Content-Disposition", "Content-Language", "Content-Location", "Content-MD5", "Content-Range", "Expires", "Last-Modified"];

    private static readonly string[] SetByGateway =
        ["X-User-ID", "X-Key-ID", "X-Plan-ID", "X-Request-ID", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-IP"];

    private static readonly string[] Credentials = ["Authorization", "Proxy-Authorization", "X-API-Key", "Cookie"];

    /// <summary>
    /// Why <paramref name="name"/> cannot be set by configuration, or null when it can. <paramref name="credential"/>:
    /// the header carries an upstream credential, so credential headers (<c>Authorization</c>, <c>X-API-Key</c>, …) are
    /// what it is for and allowed.
    /// </summary>
    public static string? Problem(string name, bool credential)
    {
        var dashed = name.Replace('_', '-');
        if (Framing.Contains(dashed, StringComparer.OrdinalIgnoreCase))
        {
            return $"'{name}' frames the message or belongs to one connection; the gateway sets it";
        }

        if (BodyFields.Contains(dashed, StringComparer.OrdinalIgnoreCase))
        {
            return $"'{name}' describes the request's body, not the caller; the gateway sends the client's";
        }

        if (SetByGateway.Contains(dashed, StringComparer.OrdinalIgnoreCase))
        {
            return $"'{name}' is set by the gateway to say who is calling (docs/keys-and-limits.md)";
        }

        if (!credential && Credentials.Contains(dashed, StringComparer.OrdinalIgnoreCase))
        {
            return $"'{name}' carries credentials; set an upstream's credential with auth_type instead";
        }

        return null;
    }
}
