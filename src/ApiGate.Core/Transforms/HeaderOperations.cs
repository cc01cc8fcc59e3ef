using System.Text.Json.Nodes;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Transforms;

/// <summary>Where header operations are applied: the outgoing request or the response to the client.</summary>
public interface IHeaderTarget
{
    /// <summary>Appends a value, keeping existing ones.</summary>
    void Add(string name, string value);

    /// <summary>Replaces all values.</summary>
    void Set(string name, string value);

    void Remove(string name);
}

/// <summary><c>{"add":{…},"set":{…},"remove":[…]}</c> for headers or query parameters. Applied remove → set → add.</summary>
public sealed class NameValueOperations
{
    public static readonly NameValueOperations None = new([], [], []);

    private NameValueOperations(
        IReadOnlyList<KeyValuePair<string, ValueTemplate>> add, IReadOnlyList<KeyValuePair<string, ValueTemplate>> set, IReadOnlyList<string> remove)
    {
        AddValues = add;
        SetValues = set;
        RemoveNames = remove;
    }

    public IReadOnlyList<KeyValuePair<string, ValueTemplate>> AddValues { get; }
    public IReadOnlyList<KeyValuePair<string, ValueTemplate>> SetValues { get; }
    public IReadOnlyList<string> RemoveNames { get; }

    public bool IsEmpty => AddValues.Count == 0 && SetValues.Count == 0 && RemoveNames.Count == 0;

    /// <summary>Applies the operations; generic so struct targets are not boxed per request.</summary>
    public void Apply<TTarget>(TTarget target, IRewriteRequest request)
        where TTarget : IHeaderTarget
    {
        foreach (var name in RemoveNames)
        {
            target.Remove(name);
        }

        foreach (var (name, value) in SetValues)
        {
            target.Set(name, value.Render(request));
        }

        foreach (var (name, value) in AddValues)
        {
            target.Add(name, value.Render(request));
        }
    }

    /// <summary>
    /// The name of the first value that, made from text nothing checked before (<see cref="ValueTemplate.ReadsUncheckedText"/>:
    /// a query parameter, an environment variable), holds one of <paramref name="forbidden"/> — a value a header cannot
    /// carry (CR and LF would end the header line and start another, or another request) — or null. Constant values
    /// were checked when the route was stored; values of other variables are not rendered here.
    /// </summary>
    public string? FirstRenderedWith(IRewriteRequest request, System.Buffers.SearchValues<char> forbidden)
    {
        foreach (var (name, value) in SetValues)
        {
            if (value.ReadsUncheckedText && value.Render(request).AsSpan().ContainsAny(forbidden))
            {
                return name;
            }
        }

        foreach (var (name, value) in AddValues)
        {
            if (value.ReadsUncheckedText && value.Render(request).AsSpan().ContainsAny(forbidden))
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>
    /// Why these operations may not be written when two names under <c>set</c> differ only in case, or null: header names
    /// are case-insensitive, so <c>{"X-Plan": "a", "x-plan": "b"}</c> sets one header twice and the value the backend sees
    /// would depend on member order. Under <c>add</c> both values are appended, which is well defined. Checked when a
    /// route is written; one stored earlier keeps the last member's value.
    /// </summary>
    public string? HeaderSetTwice(string field)
    {
        // One pass with a set: comparing each name with every earlier one took billions of comparisons for a large body.
        var seen = new Dictionary<string, string>(SetValues.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, _) in SetValues)
        {
            if (!seen.TryAdd(name, name))
            {
                return $"{field}.set: '{seen[name]}' and '{name}' are the same header (names are case-insensitive); set it once";
            }
        }

        return null;
    }

    internal static NameValueOperations Parse(JsonNode? node, string field, bool headerNames)
    {
        if (node is null)
        {
            return None;
        }

        var obj = node as JsonObject ?? throw new FormatException($"{field} must be an object with add, set and/or remove");
        var add = new List<KeyValuePair<string, ValueTemplate>>();
        var set = new List<KeyValuePair<string, ValueTemplate>>();
        var remove = new List<string>();
        foreach (var (key, value) in obj)
        {
            switch (key)
            {
                case "add":
                    add.AddRange(Pairs(value, $"{field}.add", headerNames));
                    break;
                case "set":
                    set.AddRange(Pairs(value, $"{field}.set", headerNames));
                    break;
                case "remove":
                    var list = value as JsonArray ?? throw new FormatException($"{field}.remove must be an array of names");
                    foreach (var item in list)
                    {
                        remove.Add(CheckName(item?.GetValueKind() == System.Text.Json.JsonValueKind.String ? item.GetValue<string>() : null, $"{field}.remove", headerNames));
                    }

                    break;
                default:
                    throw new FormatException($"{field}: unknown operation '{key}' (use add, set, remove)");
            }
        }

        return new NameValueOperations(add, set, remove);
    }

    private static IEnumerable<KeyValuePair<string, ValueTemplate>> Pairs(JsonNode? node, string field, bool headerNames)
    {
        var obj = node as JsonObject ?? throw new FormatException($"{field} must be an object of name: value");
        foreach (var (name, value) in obj)
        {
            if (value is not JsonValue scalar || scalar.GetValueKind() is System.Text.Json.JsonValueKind.Object or System.Text.Json.JsonValueKind.Array)
            {
                throw new FormatException($"{field}.{name} must be a string");
            }

            var text = scalar.GetValueKind() == System.Text.Json.JsonValueKind.String ? scalar.GetValue<string>() : scalar.ToJsonString();
            if (headerNames && text.AsSpan().ContainsAny('\r', '\n'))
            {
                throw new FormatException($"{field}.{name}: header values cannot contain line breaks");
            }

            yield return new KeyValuePair<string, ValueTemplate>(CheckName(name, field, headerNames), ValueTemplate.Parse(text));
        }
    }

    private static string CheckName(string? name, string field, bool headerName)
    {
        if (string.IsNullOrEmpty(name) || (headerName && !Text.HttpTokens.IsToken(name)))
        {
            throw new FormatException($"{field}: '{name}' is not a valid {(headerName ? "header" : "parameter")} name");
        }

        return name;
    }
}
