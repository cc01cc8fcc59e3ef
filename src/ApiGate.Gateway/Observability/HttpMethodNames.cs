using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Observability;

/// <summary>Keeps the <c>method</c> label bounded: the standard methods by name, anything else as <c>OTHER</c>.</summary>
internal static class HttpMethodNames
{
    public const string Other = "OTHER";

    /// <summary>The canonical (interned) name of a standard method, or <see cref="Other"/>. Allocates nothing.</summary>
    public static string Normalize(string method)
    {
        var canonical = HttpMethods.GetCanonicalizedValue(method);
        return ReferenceEquals(canonical, HttpMethods.Get) || ReferenceEquals(canonical, HttpMethods.Post)
               || ReferenceEquals(canonical, HttpMethods.Put) || ReferenceEquals(canonical, HttpMethods.Delete)
               || ReferenceEquals(canonical, HttpMethods.Patch) || ReferenceEquals(canonical, HttpMethods.Head)
               || ReferenceEquals(canonical, HttpMethods.Options) || ReferenceEquals(canonical, HttpMethods.Trace)
               || ReferenceEquals(canonical, HttpMethods.Connect)
            ? canonical
            : Other;
    }
}
