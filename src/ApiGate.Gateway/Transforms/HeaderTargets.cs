using System.Net.Http.Headers;
using ApiGate.Core.Transforms;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Transforms;

/// <summary>
/// Header operations on the outgoing upstream request. A field that describes the body (<c>Content-Type</c>,
/// <c>Content-Encoding</c>, …) lives on the request's content, where it is changed (the request's own header collection
/// throws for it); on a request without a body there is none to change. The body's framing (<c>Content-Length</c>,
/// <c>Transfer-Encoding</c>) is the gateway's and is never changed: routes stored before such operations were refused
/// when written would otherwise fail every request.
/// A value with a control character (<see cref="HeaderValueCharacters"/>) is not sent either: one made from the request
/// refused it before (400), so only a route stored before such values were refused when written holds one.
/// </summary>
internal readonly struct UpstreamRequestHeaders(HttpRequestMessage message) : IHeaderTarget
{
    public void Add(string name, string value)
    {
        if (IsWritable(name) && !HeaderValueCharacters.IsForbiddenIn(value))
        {
            WritableHeadersFor(name)?.TryAddWithoutValidation(name, value);
        }
    }

    public void Set(string name, string value)
    {
        if (IsWritable(name) && !HeaderValueCharacters.IsForbiddenIn(value) && WritableHeadersFor(name) is { } headers)
        {
            headers.Remove(name);
            headers.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>
    /// Not the body's framing, nor an identity header under any spelling (<c>X-User-ID</c>, <c>X_User_ID</c>; refused when
    /// written since, <see cref="IdentityHeaderNames"/>): on a public route nothing would replace the transform's value.
    /// Nor a hop-by-hop field (<see cref="HopByHopHeaders"/>, refused when written since): <c>Connection: X-User-ID</c>
    /// would make the upstream drop the gateway's identity header, <c>Upgrade</c> ask it to switch protocols.
    /// </summary>
    private static bool IsWritable(string name) =>
        !FramingHeaders.Contains(name) && !HopByHopHeaders.Contains(name) && !IdentityHeaderNames.IsIdentity(name);

    public void Remove(string name)
    {
        if (!FramingHeaders.Contains(name))
        {
            HeadersFor(name)?.Remove(name);
        }
    }

    private HttpHeaders? HeadersFor(string name) => ContentHeaderNames.Contains(name) ? message.Content?.Headers : message.Headers;

    /// <summary>
    /// Where an added or set value goes: a body's field only onto a body with bytes. A request without one (a POST with no
    /// body is sent with <c>Content-Length: 0</c>) has nothing for <c>Content-Type</c> to describe, and a backend would
    /// otherwise try to read an empty JSON or form body.
    /// </summary>
    private HttpHeaders? WritableHeadersFor(string name) =>
        !ContentHeaderNames.Contains(name) ? message.Headers
        : message.Content is { Headers.ContentLength: not 0 } content ? content.Headers
        : null;

    /// <summary>The fields <see cref="HttpContentHeaders"/> holds, which <see cref="HttpRequestHeaders"/> refuses.</summary>
    private static readonly System.Collections.Frozen.FrozenSet<string> ContentHeaderNames = System.Collections.Frozen.FrozenSet.ToFrozenSet(
        ["Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-MD5", "Content-Range",
            "Content-Type", "Expires", "Last-Modified"],
        StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// Header operations on the response to the client. A value the server cannot send in a response header — a control
/// character, or a character outside ASCII, made from the request by a <c>${…}</c> variable — is not set: the response
/// goes out without that header rather than failing after the upstream answered. The body's framing
/// (<c>Content-Length</c>, <c>Transfer-Encoding</c>) is never changed: a length that is not the body's ends the exchange.
/// Nor is a hop-by-hop field added or set (<see cref="HopByHopHeaders"/>); one may be removed.
/// </summary>
internal readonly struct ClientResponseHeaders(IHeaderDictionary headers) : IHeaderTarget
{
    public void Add(string name, string value)
    {
        if (IsSendable(value) && IsWritable(name))
        {
            headers.Append(name, value);
        }
    }

    public void Set(string name, string value)
    {
        if (IsSendable(value) && IsWritable(name))
        {
            headers[name] = value;
        }
    }

    /// <summary>
    /// Not the body's framing, nor a hop-by-hop field (<see cref="HopByHopHeaders"/>, refused when written since): the
    /// server manages the client's connection, and <c>Connection</c> would make the client drop the headers it names.
    /// </summary>
    private static bool IsWritable(string name) => !FramingHeaders.Contains(name) && !HopByHopHeaders.Contains(name);

    public void Remove(string name)
    {
        if (!FramingHeaders.Contains(name))
        {
            headers.Remove(name);
        }
    }

    /// <summary>Printable ASCII and the tab: what Kestrel writes into a response header.</summary>
    internal static bool IsSendable(string value) => !value.AsSpan().ContainsAnyExcept(Sendable);

    private static readonly System.Buffers.SearchValues<char> Sendable = System.Buffers.SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");
}

/// <summary>
/// Query operations on a mutable list of parameters (order kept; a parameter may repeat). <c>set</c> and <c>remove</c>
/// match names ignoring case, as ASP.NET Core's query collection (and the credential's <c>api_key</c> rule) does: a
/// client's <c>?Tenant=x</c> would otherwise reach such a backend beside the route's <c>tenant</c>, as its first value.
/// Every parameter the operations leave alone goes upstream as the client wrote it, byte for byte: decoded and encoded
/// again, <c>?flag</c> became <c>flag=</c>, <c>a+b</c> became <c>a%20b</c> and bytes that are not UTF-8 (<c>%FF</c>, a
/// signature, a Latin-1 form) became <c>%25FF</c>, so a backend read other values and a signed query no longer verified.
/// </summary>
internal sealed class QueryParameters(List<QueryParameters.Parameter> parameters) : IHeaderTarget
{
    /// <summary>
    /// The parameters of <paramref name="query"/> in the order sent, each kept as written (empty ones too), with its name
    /// decoded once, as ASP.NET Core reads it, to be matched.
    /// </summary>
    public static QueryParameters Parse(string? query)
    {
        var parameters = new List<Parameter>();
        var text = query.AsSpan().TrimStart('?');
        if (!text.IsEmpty)
        {
            foreach (var range in text.Split('&'))
            {
                var written = text[range];
                var equals = written.IndexOf('=');
                parameters.Add(new(Decode(equals < 0 ? written : written[..equals]), written.ToString()));
            }
        }

        return new QueryParameters(parameters);

        static string Decode(ReadOnlySpan<char> name) => Uri.UnescapeDataString(name.ToString().Replace('+', ' '));
    }

    public void Add(string name, string value) => parameters.Add(Encoded(name, value));

    public void Set(string name, string value)
    {
        Remove(name);
        parameters.Add(Encoded(name, value));
    }

    public void Remove(string name) => parameters.RemoveAll(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    public string ToQueryString()
    {
        var builder = new System.Text.StringBuilder();
        foreach (var parameter in parameters)
        {
            builder.Append(builder.Length == 0 ? '?' : '&').Append(parameter.Written);
        }

        return builder.ToString();
    }

    /// <summary>A route's parameter, percent-encoded as <see cref="Microsoft.AspNetCore.Http.Extensions.QueryBuilder"/> does.</summary>
    private static Parameter Encoded(string name, string value) =>
        new(name, System.Text.Encodings.Web.UrlEncoder.Default.Encode(name) + "=" + System.Text.Encodings.Web.UrlEncoder.Default.Encode(value));

    /// <summary>One parameter: its decoded <paramref name="Name"/>, matched by the operations, and the text that goes upstream.</summary>
    internal readonly record struct Parameter(string Name, string Written);
}
