using System.Text.Json;
using System.Text.Json.Nodes;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Transforms;

/// <summary>Header, query and JSON-body operations, unconditional or under one <c>when</c>.</summary>
public sealed class RequestOperations
{
    public required NameValueOperations Headers { get; init; }
    public required NameValueOperations Query { get; init; }
    public JsonInjection? Inject { get; init; }
    public IReadOnlyList<string[]> RemovePaths { get; init; } = [];

    public bool HasBodyOperations => Inject is not null || RemovePaths.Count > 0;

    public void ApplyBody(JsonObject body, IRewriteRequest request)
    {
        foreach (var path in RemovePaths)
        {
            JsonPaths.ForEachParent(body, path, static (parent, name) => parent.Remove(name));
        }

        Inject?.Apply(body, request);
    }

    internal static RequestOperations Parse(JsonObject obj, string field, params string[] extraKeys)
    {
        foreach (var (key, _) in obj)
        {
            if (key is not ("headers" or "query" or "body") && !extraKeys.Contains(key))
            {
                throw new FormatException($"{field}: unknown key '{key}' (use {string.Join(", ", new[] { "headers", "query", "body" }.Concat(extraKeys))})");
            }
        }

        JsonInjection? inject = null;
        var remove = new List<string[]>();
        if (obj["body"] is { } bodyNode)
        {
            var json = (bodyNode as JsonObject)?["json"] as JsonObject ?? throw new FormatException($"{field}.body must be {{\"json\":{{\"inject\":…,\"remove\":[…]}}}}");
            foreach (var (key, value) in json)
            {
                switch (key)
                {
                    case "inject":
                        inject = JsonInjection.Parse(value as JsonObject ?? throw new FormatException($"{field}.body.json.inject must be an object"));
                        break;
                    case "remove":
                        foreach (var path in value as JsonArray ?? throw new FormatException($"{field}.body.json.remove must be an array of dotted paths"))
                        {
                            remove.Add(JsonPaths.Parse(path?.GetValueKind() == JsonValueKind.String ? path.GetValue<string>() : ""));
                        }

                        break;
                    default:
                        throw new FormatException($"{field}.body.json: unknown operation '{key}' (use inject, remove)");
                }
            }
        }

        return new RequestOperations
        {
            Headers = NameValueOperations.Parse(obj["headers"], field + ".headers", headerNames: true),
            Query = NameValueOperations.Parse(obj["query"], field + ".query", headerNames: false),
            Inject = inject,
            RemovePaths = remove,
        };
    }
}

/// <summary>When a conditional block applies: every given test must hold.</summary>
public sealed class TransformCondition
{
    public string? Method { get; init; }
    public PathGlob? PathMatches { get; init; }
    public string? HeaderExists { get; init; }
    public required RequestOperations Operations { get; init; }

    public bool Matches(IRewriteRequest request) =>
        (Method is null || string.Equals(Method, request.Method, StringComparison.OrdinalIgnoreCase))
        && (PathMatches is null || PathMatches.IsMatch(request.Path))
        && (HeaderExists is null || request.GetVariable("header." + HeaderExists) is not null);

    /// <summary>A glob: <c>*</c> any run of characters (slashes included), <c>?</c> one character; anchored at both ends.</summary>
    public static PathGlob Glob(string pattern) => PathGlob.Parse(pattern);
}

/// <summary>
/// A route's <c>request_transform</c> (SPEC §5.1), parsed and checked once per config snapshot (and when written).
/// Unconditional operations apply first, then each condition whose <c>when</c> holds, in order.
/// </summary>
public sealed class RequestTransform
{
    public required RequestOperations Always { get; init; }
    public IReadOnlyList<TransformCondition> Conditions { get; init; } = [];

    /// <summary>Forward with this method instead of the client's.</summary>
    public string? MethodOverride { get; init; }

    /// <summary>True when some operation edits the JSON body, so the gateway must buffer it.</summary>
    public bool NeedsBody => Always.HasBodyOperations || Conditions.Any(c => c.Operations.HasBodyOperations);

    private RequestOperations[]? _alwaysOnly;

    /// <summary>The operations that apply to this request, in order (no allocation when there are no conditions).</summary>
    public RequestOperations[] Applicable(IRewriteRequest request)
    {
        if (Conditions.Count == 0)
        {
            return _alwaysOnly ??= [Always];
        }

        var applicable = new List<RequestOperations>(Conditions.Count + 1) { Always };
        foreach (var condition in Conditions)
        {
            if (condition.Matches(request))
            {
                applicable.Add(condition.Operations);
            }
        }

        return [.. applicable];
    }

    /// <summary>
    /// Parses the JSON; throws <see cref="FormatException"/> naming the offending key, and when there are more than
    /// <paramref name="maxConditions"/> conditions (checked before any is compiled; a write passes the limit, a stored
    /// transform is compiled whatever it holds).
    /// </summary>
    public static RequestTransform Parse(string json, int maxConditions = int.MaxValue)
    {
        var root = ParseObject(json, "request_transform");
        var conditions = new List<TransformCondition>();
        if (root["conditions"] is { } conditionsNode)
        {
            var array = conditionsNode as JsonArray ?? throw new FormatException("request_transform.conditions must be an array");
            if (array.Count > maxConditions)
            {
                throw new FormatException("request_transform.conditions " + Text.ListBound.Exceeded(array.Count, maxConditions));
            }
            for (var i = 0; i < array.Count; i++)
            {
                var field = $"request_transform.conditions[{i}]";
                var entry = array[i] as JsonObject ?? throw new FormatException($"{field} must be an object");
                var when = entry["when"] as JsonObject ?? throw new FormatException($"{field}.when is required (method, path_matches, header_exists)");
                string? method = null, glob = null, header = null;
                foreach (var (key, value) in when)
                {
                    var text = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw new FormatException($"{field}.when.{key} must be a string");
                    switch (key)
                    {
                        case "method":
                            method = text;
                            break;
                        case "path_matches":
                            glob = text;
                            break;
                        case "header_exists":
                            header = text;
                            break;
                        default:
                            throw new FormatException($"{field}.when: unknown test '{key}' (use method, path_matches, header_exists)");
                    }
                }

                conditions.Add(new TransformCondition
                {
                    Method = method,
                    PathMatches = glob is null ? null : TransformCondition.Glob(glob),
                    HeaderExists = header,
                    Operations = RequestOperations.Parse(entry, field, "when"),
                });
            }
        }

        string? methodOverride = null;
        if (root["method_override"] is JsonValue mo)
        {
            methodOverride = mo.GetValueKind() == JsonValueKind.String && mo.GetValue<string>().All(char.IsAsciiLetter)
                ? mo.GetValue<string>().ToUpperInvariant()
                : throw new FormatException("request_transform.method_override must be an HTTP method");
        }

        return new RequestTransform
        {
            Always = RequestOperations.Parse(root, "request_transform", "conditions", "method_override"),
            Conditions = conditions,
            MethodOverride = methodOverride,
        };
    }

    // A member given twice ({"headers": …, "headers": …}) is refused when written: which copy counts is not defined, and
    // the node reader only fails on it when the object is first read, outside the FormatException validation expects.
    private static readonly JsonDocumentOptions Reading = new() { AllowDuplicateProperties = false };

    internal static JsonObject ParseObject(string json, string field)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: Reading) as JsonObject ?? throw new FormatException($"{field} must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw new FormatException($"{field} is not valid JSON: {ex.Message}", ex);
        }
    }
}
