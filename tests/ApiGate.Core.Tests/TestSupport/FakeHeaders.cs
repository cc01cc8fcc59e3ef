using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.TestSupport;

/// <summary>Request headers over a dictionary: names case-insensitive, values compared ordinally.</summary>
internal sealed class FakeHeaders(IReadOnlyDictionary<string, string>? values = null) : IRequestHeaders
{
    private readonly Dictionary<string, string> _values = new(values ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);

    public static FakeHeaders None { get; } = new();

    public static FakeHeaders Of(params (string Name, string Value)[] pairs) =>
        new(pairs.ToDictionary(p => p.Name, p => p.Value, StringComparer.OrdinalIgnoreCase));

    public bool HasValue(string name, string value) =>
        _values.TryGetValue(name, out var actual) && string.Equals(actual, value, StringComparison.Ordinal);
}
