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

/// <summary>Header operations on the response to the client.</summary>
internal readonly struct ClientResponseHeaders(IHeaderDictionary headers) : IHeaderTarget
{
    public void Add(string name, string value) => headers.Append(name, value);

    public void Set(string name, string value) => headers[name] = value;

    public void Remove(string name) => headers.Remove(name);
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
