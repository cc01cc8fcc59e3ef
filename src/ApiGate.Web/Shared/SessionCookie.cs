using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>
/// The console's or the portal's session cookie as one request uses it: the name and attributes it is set, read and
/// deleted under. When the browser sees TLS the name carries the <c>__Host-</c> prefix, which browsers accept only on a
/// cookie that is <c>Secure</c>, at <c>Path=/</c> and without a <c>Domain</c>: a sibling subdomain cannot set it, and
/// a page on this host (an upstream's, proxied on the public port) cannot shadow it with one of a longer path — the
/// "cookie tossing" that would sign a victim into an attacker's account. Over plain HTTP the prefix cannot be used:
/// the cookie keeps its plain name on the front-end's own path. Only the name that applies to the request is read,
/// so over TLS a plainly named cookie (what an attacker could plant) is never honoured; it counts as a session that has
/// ended (one from before the gateway used the prefix, or from plain HTTP) and is deleted with the prefixed one, its
/// session closed in the store too (<see cref="PlainValues"/>, <see cref="StoredSessions.CloseCookiesAsync"/>).
/// </summary>
internal sealed class SessionCookie
{
    private readonly CookieOptions _options;
    private readonly SessionCookie? _plain;

    /// <summary>
    /// The most plainly named cookies of one request whose sessions are closed: a browser holds one from before the
    /// upgrade (and perhaps one planted at a longer path); a header of hundreds is not worth a store look-up each.
    /// </summary>
    public const int MaxPlainValues = 4;

    private SessionCookie(string name, CookieOptions options, SessionCookie? plain = null)
    {
        Name = name;
        _options = options;
        _plain = plain;
    }

    /// <summary>The cookie's name for this request.</summary>
    public string Name { get; }

    /// <summary>
    /// The cookie for a request: <paramref name="plainName"/> with the <c>__Host-</c> prefix at <c>Path=/</c>, Secure,
    /// when <paramref name="secure"/> (the browser sees TLS); else <paramref name="plainName"/> on <paramref name="plainPath"/>.
    /// HttpOnly either way.
    /// </summary>
    public static SessionCookie For(bool secure, string plainName, string plainPath, SameSiteMode sameSite)
    {
        var plain = new SessionCookie(plainName, Options(secure, plainPath, sameSite));
        return secure ? new(Gateway.Pipeline.GatewayCookies.HostPrefix + plainName, Options(secure, "/", sameSite), plain) : plain;
    }

    private static CookieOptions Options(bool secure, string path, SameSiteMode sameSite) => new()
    {
        HttpOnly = true,
        SameSite = sameSite,
        Secure = secure,
        Path = path,
        IsEssential = true,
    };

    /// <summary>Sets the cookie; under TLS also deletes a plainly named one the request carries.</summary>
    public void Set(HttpContext context, string value)
    {
        context.Response.Cookies.Append(Name, value, _options);
        DeletePlain(context);
    }

    /// <summary>
    /// Deletes the cookie under the name and path it is set with; under TLS also a plainly named one the request
    /// carries, which the browser would otherwise keep sending until it expires.
    /// </summary>
    public void Delete(HttpContext context)
    {
        context.Response.Cookies.Delete(Name, _options);
        DeletePlain(context);
    }

    /// <summary>
    /// Under TLS, deletes a plainly named cookie the request carries, leaving the session's own (<c>__Host-</c>) cookie
    /// alone: a page served to a live session drops what is left from before the upgrade. Once per answer: a public
    /// page that deleted it may go on to set the session (sign-in), which deletes it again.
    /// </summary>
    public void DeletePlain(HttpContext context)
    {
        if (_plain is not null && _plain.Scan(context.Request, out _) > 0 && !DeletedIn(context.Response, _plain.Name))
        {
            context.Response.Cookies.Delete(_plain.Name, _plain._options);
        }
    }

    /// <summary>
    /// Under TLS, the values of the plainly named cookies the request carries (at most <see cref="MaxPlainValues"/>), which
    /// <see cref="Set"/> and <see cref="Delete"/> delete: their sessions are to be closed in the store as well, or they
    /// would live on there until their idle timeout. Empty over plain HTTP, where the plain name is the session's own.
    /// </summary>
    public IReadOnlyList<string> PlainValues(HttpRequest request)
    {
        if (_plain is null)
        {
            return [];
        }

        var values = new List<string>();
        _plain.Scan(request, out _, values);
        return values;
    }

    /// <summary>
    /// The cookie's value, or null when the request does not carry it or carries it more than once: which of two is
    /// genuine the browser does not say (one may have been planted), so neither is taken.
    /// </summary>
    public string? Read(HttpRequest request) => Scan(request, out var value) == 1 ? value : null;

    /// <summary>
    /// Whether the request carries the cookie at all, or under TLS the plainly named one: a session that has ended, or
    /// one not taken.
    /// </summary>
    public bool Sent(HttpRequest request) => Scan(request, out _) > 0 || _plain?.Scan(request, out _) > 0;

    private static bool DeletedIn(HttpResponse response, string name)
    {
        foreach (var header in response.Headers.SetCookie)
        {
            if (header is not null && header.Length > name.Length + 1 && header.StartsWith(name, StringComparison.Ordinal) && header[name.Length] == '='
                && header[name.Length + 1] == ';')
            {
                return true;
            }
        }

        return false;
    }

    // Names compared exactly: cookie names are case-sensitive, and the framework's own look-up is not (it would take
    // "__host-…", which an older browser lets anyone set, for "__Host-…").
    private int Scan(HttpRequest request, out string? value, List<string>? values = null)
    {
        value = null;
        var count = 0;
        foreach (var header in request.Headers.Cookie)
        {
            var rest = header.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf(';');
                var pair = (end < 0 ? rest : rest[..end]).Trim();
                rest = end < 0 ? [] : rest[(end + 1)..];
                var eq = pair.IndexOf('=');
                if (eq >= 0 && pair[..eq].TrimEnd().SequenceEqual(Name))
                {
                    count++;
                    value = pair[(eq + 1)..].Trim().ToString();
                    if (values is not null && values.Count < MaxPlainValues && value.Length > 0 && !values.Contains(value))
                    {
                        values.Add(value);
                    }
                }
            }
        }

        return count;
    }
}
