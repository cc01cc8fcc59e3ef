namespace ApiGate.Core.Text;

/// <summary>
/// Header names an operator cannot give an entitlement or an upstream credential: the ones that frame the message or
/// belong to one hop (a value there would change how the backend reads the body, or break the request), and the ones
/// the gateway itself sets to tell the backend who is calling. Names are compared case-insensitively with '_' read as
/// '-', as CGI and WSGI backends read them.
/// </summary>
public static class ReservedHeaders
{
    private static readonly string[] Framing =
        ["Host", "Content-Length", "Transfer-Encoding", "Content-Type", "Content-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "Expect"];

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
