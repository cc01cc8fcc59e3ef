using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.TestSupport;

/// <summary>A request as a path rewrite sees it; headers are exposed with lower-case names like the gateway does.</summary>
internal sealed class FakeRewriteRequest : IRewriteRequest
{
    public string Path { get; init; } = "/";
    public string Method { get; init; } = "GET";
    public string Host { get; init; } = "api.example.com";
    public Dictionary<string, string> Variables { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> HeaderValues { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, string> QueryValues { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, IReadOnlyDictionary<string, string>> Identities { get; } = new(StringComparer.Ordinal);

    public string? GetVariable(string name) => Variables.TryGetValue(name, out var value) ? value : null;

    public IEnumerable<KeyValuePair<string, string>> Headers() =>
        HeaderValues.Select(h => new KeyValuePair<string, string>(h.Key.ToLowerInvariant(), h.Value));

    public IEnumerable<KeyValuePair<string, string>> Query() => QueryValues;

    public IReadOnlyDictionary<string, string>? Identity(string kind) => Identities.TryGetValue(kind, out var values) ? values : null;
}
