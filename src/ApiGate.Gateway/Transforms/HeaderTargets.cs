using System.Net.Http.Headers;
using ApiGate.Core.Transforms;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Transforms;

/// <summary>Header operations on the outgoing upstream request.</summary>
internal readonly struct UpstreamRequestHeaders(HttpRequestHeaders headers) : IHeaderTarget
{
    public void Add(string name, string value) => headers.TryAddWithoutValidation(name, value);

    public void Set(string name, string value)
    {
        headers.Remove(name);
        headers.TryAddWithoutValidation(name, value);
    }

    public void Remove(string name) => headers.Remove(name);
}

/// <summary>
/// Header operations on the response to the client. A value the server cannot send in a response header — a control
/// character, or a character outside ASCII, made from the request by a <c>${…}</c> variable — is not set: the response
/// goes out without that header rather than failing after the upstream answered.
/// </summary>
internal readonly struct ClientResponseHeaders(IHeaderDictionary headers) : IHeaderTarget
{
    public void Add(string name, string value)
    {
        if (IsSendable(value))
        {
            headers.Append(name, value);
        }
    }

    public void Set(string name, string value)
    {
        if (IsSendable(value))
        {
            headers[name] = value;
        }
    }

    public void Remove(string name) => headers.Remove(name);

    /// <summary>Printable ASCII and the tab: what Kestrel writes into a response header.</summary>
    internal static bool IsSendable(string value) => !value.AsSpan().ContainsAnyExcept(Sendable);

    private static readonly System.Buffers.SearchValues<char> Sendable = System.Buffers.SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");
}

/// <summary>Query operations on a mutable list of parameters (order kept; a parameter may repeat).</summary>
internal sealed class QueryParameters(List<KeyValuePair<string, StringValues>> parameters) : IHeaderTarget
{
    public void Add(string name, string value) => parameters.Add(new(name, value));

    public void Set(string name, string value)
    {
        Remove(name);
        parameters.Add(new(name, value));
    }

    public void Remove(string name) => parameters.RemoveAll(p => p.Key.Equals(name, StringComparison.Ordinal));

    public string ToQueryString()
    {
        var builder = new Microsoft.AspNetCore.Http.Extensions.QueryBuilder();
        foreach (var (name, values) in parameters)
        {
            builder.Add(name, (IEnumerable<string>)values!);
        }

        return builder.ToQueryString().Value ?? "";
    }
}
