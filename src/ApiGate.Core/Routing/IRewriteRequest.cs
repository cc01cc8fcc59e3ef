namespace ApiGate.Core.Routing;

/// <summary>What a path rewrite may read about the request being forwarded.</summary>
public interface IRewriteRequest
{
    string Path { get; }
    string Method { get; }
    string Host { get; }

    /// <summary>Resolves a SPEC §5.3 variable name (<c>uuid</c>, <c>header.X-Name</c>, …); null when unknown or unset.</summary>
    string? GetVariable(string name);

    /// <summary>Request headers with lower-case names (multi-valued joined by commas).</summary>
    IEnumerable<KeyValuePair<string, string>> Headers();

    /// <summary>Query parameters (first value of each).</summary>
    IEnumerable<KeyValuePair<string, string>> Query();

    /// <summary>Identity objects exposed to expressions as <c>user</c>, <c>key</c>, <c>plan</c>; null on public routes.</summary>
    IReadOnlyDictionary<string, string>? Identity(string kind);
}
