using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// The request's Host as the client sent it (HTTP/2's <c>:authority</c> arrives as Host too). Routing, the forwarded
/// <c>X-Forwarded-Host</c>, <c>${host}</c> and the expressions' <c>host</c> read it here, never through
/// <see cref="HttpRequest.Host"/>: that converts punycode labels to Unicode, so a route written for
/// <c>xn--bcher-kva.example</c> (host patterns are ASCII) never matched the request it was written for, the Unicode
/// form went upstream in a header that is ASCII, and a label that is not valid punycode (<c>xn--zz</c>) threw, so any
/// client could make every request it sent a 500.
/// </summary>
internal static class RequestHost
{
    /// <summary>The Host header with its port (<c>api.example.com:8443</c>); empty when there is none.</summary>
    public static string Value(HttpRequest request) => request.Headers.Host.ToString();

    /// <summary>The host without its port (<c>api.example.com</c>, <c>[::1]</c>); empty when there is none.</summary>
    public static string Name(HttpRequest request) => new HostString(Value(request)).Host;

    /// <summary>
    /// Whether the Host ends in a port of digits past 65535 (<c>a.test:99999</c>; HTTP/2's <c>:authority</c> alike),
    /// which names no TCP port (RFC 9110 §4.2.1, RFC 3986 §3.2.3). Kestrel refuses an empty port or one that is not
    /// digits, but takes such a value, and the request was routed as if the port were not there. Reads the header in
    /// place: nothing is allocated.
    /// </summary>
    public static bool HasPortOutOfRange(HttpRequest request)
    {
        var host = request.Headers.Host;
        if (host.Count != 1 || host[0] is not { } value)
        {
            return false;
        }

        var colon = value.LastIndexOf(':');
        if (colon < 0 || value.IndexOf(']', colon) >= 0)
        {
            return false; // no port; or a colon inside an IPv6 literal ("[::1]")
        }

        var port = 0;
        foreach (var c in value.AsSpan(colon + 1))
        {
            if (!char.IsAsciiDigit(c))
            {
                return false; // not a port at all: Kestrel's to refuse
            }

            port = port * 10 + (c - '0');
            if (port > ushort.MaxValue)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether <see cref="HttpRequest.Host"/> can be read: false for a Host with an <c>xn--</c> label that is not valid
    /// punycode (<c>xn--zz.example</c>), on which it throws. Framework code that builds absolute URLs reads it (the
    /// pages' <c>NavigationManager</c>, the servers of <c>openapi.json</c>), so those answer such a request 400 first,
    /// rather than a 500 with an error in the log. Only a Host with an <c>xn--</c> label (the only ones it decodes;
    /// Kestrel refuses a <c>%</c>) is tried.
    /// </summary>
    public static bool CanBeDecoded(HttpRequest request)
    {
        if (!Value(request).Contains("xn--", StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            _ = request.Host;
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
