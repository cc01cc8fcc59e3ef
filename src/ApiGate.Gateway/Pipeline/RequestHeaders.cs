using ApiGate.Core.Routing;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>Adapts ASP.NET request headers to the matcher without allocating.</summary>
internal readonly struct RequestHeaders(IHeaderDictionary headers) : IRequestHeaders
{
    public bool HasValue(string name, string value)
    {
        foreach (var candidate in headers[name])
        {
            if (candidate is not null && candidate.AsSpan().Trim().SequenceEqual(value))
            {
                return true;
            }
        }

        return false;
    }
}
