using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// The gateway's own cookies — the console's and the portal's sessions and their antiforgery cookie, all named
/// <c>apigate_*</c>, the sessions <c>__Host-apigate_*</c> when the browser sees TLS — share the host with every proxied
/// route. They are kept out of the exchange both ways: never sent to an upstream (a backend, or whoever runs it, would
/// otherwise see an operator's session), and never set by one (an upstream could otherwise plant a session or an
/// antiforgery cookie of its choosing in a user's browser).
/// </summary>
internal static class GatewayCookies
{
    public const string Prefix = "apigate_";

    /// <summary>The browsers' prefix of a cookie bound to its host: the sessions' names carry it under TLS.</summary>
    public const string HostPrefix = "__Host-";

    /// <summary>
    /// The <c>Cookie</c> header without the gateway's cookies, or null when it holds none of them (the common case:
    /// nothing is allocated). Empty when nothing else is left.
    /// </summary>
    public static string? Without(StringValues cookieHeaders)
    {
        var any = false;
        foreach (var header in cookieHeaders)
        {
            if (header is not null && header.Contains(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                any = true;
                break;
            }
        }

        // Every gateway cookie's name holds Prefix, with or without HostPrefix before it.
        if (!any)
        {
            return null;
        }

        var kept = new List<string>();
        foreach (var header in cookieHeaders)
        {
            foreach (var pair in (header ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!IsGateways(pair))
                {
                    kept.Add(pair);
                }
            }
        }

        return string.Join("; ", kept);
    }

    /// <summary>Drops every <c>Set-Cookie</c> of the upstream's that would set one of the gateway's cookies.</summary>
    public static void RemoveSetCookies(IHeaderDictionary responseHeaders)
    {
        var values = responseHeaders.SetCookie;
        var keep = 0;
        foreach (var value in values)
        {
            if (!IsGateways(value))
            {
                keep++;
            }
        }

        if (keep == values.Count)
        {
            return;
        }

        var kept = new string?[keep];
        var i = 0;
        foreach (var value in values)
        {
            if (!IsGateways(value))
            {
                kept[i++] = value;
            }
        }

        responseHeaders.SetCookie = new StringValues(kept);
    }

    // "name=value" or "name=value; Path=/…": the name comes first. Cookie names are case-sensitive; a look-alike in
    // another case is dropped as well (browsers match the __Host- prefix in any case).
    private static bool IsGateways(string? cookie)
    {
        if (cookie is null)
        {
            return false;
        }

        var name = cookie.AsSpan().TrimStart();
        if (name.StartsWith(HostPrefix, StringComparison.OrdinalIgnoreCase))
        {
            name = name[HostPrefix.Length..];
        }

        return name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);
    }
}
