using System.Text.Json;
using System.Text.Json.Nodes;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Transforms;

/// <summary>
/// A route's <c>response_transform</c> (SPEC §5.2): header operations, and JSON body <c>remove</c> (dotted paths),
/// <c>rename</c> (<c>{"_id":"id"}</c>; the key may be a dotted path, the new name stays in the same object) and
/// <c>mask</c> (dotted paths whose values are masked, everything under them included).
/// </summary>
public sealed class ResponseTransform
{
    public required NameValueOperations Headers { get; init; }
    public IReadOnlyList<string[]> RemovePaths { get; init; } = [];
    public IReadOnlyList<(string[] Path, string NewName)> Renames { get; init; } = [];
    public IReadOnlyList<string[]> MaskPaths { get; init; } = [];

    public bool NeedsBody => RemovePaths.Count > 0 || Renames.Count > 0 || MaskPaths.Count > 0;

    /// <summary>
    /// The transform keeps fields from the client (<c>remove</c>, <c>mask</c>): a JSON body it cannot read must then be
    /// withheld rather than passed on as it is.
    /// </summary>
    public bool HidesFields => RemovePaths.Count > 0 || MaskPaths.Count > 0;

    /// <summary>
    /// What <c>remove</c> and <c>mask</c> are applied to: their paths as written and, for a field the transform renames,
    /// its other name too. Remove runs before rename and mask after it, so <c>remove</c> by a field's new name or
    /// <c>mask</c> by its old name found nothing, and the field reached the client under its new name as it was.
    /// </summary>
    private IReadOnlyList<string[]>? AppliedRemovePaths { get; init; }

    /// <inheritdoc cref="AppliedRemovePaths"/>
    private IReadOnlyList<string[]>? AppliedMaskPaths { get; init; }

    public void ApplyBody(JsonNode body)
    {
        foreach (var path in AppliedRemovePaths ?? RemovePaths)
        {
            JsonPaths.ForEachParent(body, path, static (parent, name) => parent.Remove(name));
        }

        foreach (var (path, newName) in Renames)
        {
            JsonPaths.ForEachParent(body, path, (parent, name) =>
            {
                if (parent.TryGetPropertyValue(name, out var value))
                {
                    parent.Remove(name);
                    parent[newName] = value;
                }
            });
        }

        foreach (var path in AppliedMaskPaths ?? MaskPaths)
        {
            JsonPaths.ForEachParent(body, path, static (parent, name) =>
            {
                switch (parent[name])
                {
                    case JsonValue value:
                        parent[name] = Masked(value);
                        break;
                    case { } container:
                        MaskWithin(container);
                        break;
                }
            });
        }
    }

    /// <summary>
    /// Every value under a masked name is masked, whatever its type: only strings were, so a card number sent as a JSON
    /// number, a list of e-mail addresses or an object of personal data under a masked name reached the client as it was.
    /// The members of an object or array are masked in place (its shape is kept; depth is bounded by the body's).
    /// </summary>
    private static void MaskWithin(JsonNode container)
    {
        if (container is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is JsonValue value)
                {
                    array[i] = Masked(value);
                }
                else if (array[i] is { } inner)
                {
                    MaskWithin(inner);
                }
            }

            return;
        }

        var obj = (JsonObject)container;
        foreach (var name in obj.Select(p => p.Key).ToArray())
        {
            if (obj[name] is JsonValue value)
            {
                obj[name] = Masked(value);
            }
            else if (obj[name] is { } inner)
            {
                MaskWithin(inner);
            }
        }
    }

    /// <summary>
    /// A string as <see cref="Masking.Mask"/>; a number by its digits (<c>4111111111111111</c> → <c>"4***1"</c>); a
    /// boolean, which its first and last letters would give away, as <c>"***"</c>.
    /// </summary>
    private static JsonNode Masked(JsonValue value) => value.GetValueKind() switch
    {
        JsonValueKind.String => Masking.Mask(value.GetValue<string>()),
        JsonValueKind.Number => Masking.Mask(value.ToJsonString()),
        _ => "***",
    };

    public static ResponseTransform Parse(string json)
    {
        var root = RequestTransform.ParseObject(json, "response_transform");
        var remove = new List<string[]>();
        var renames = new List<(string[], string)>();
        var mask = new List<string[]>();
        foreach (var (key, _) in root)
        {
            if (key is not ("headers" or "body"))
            {
                throw new FormatException($"response_transform: unknown key '{key}' (use headers, body)");
            }
        }

        if (root["body"] is { } bodyNode)
        {
            var body = bodyNode as JsonObject ?? throw new FormatException("response_transform.body must be an object");
            var json2 = body["json"] as JsonObject ?? body;
            foreach (var (key, value) in json2)
            {
                switch (key)
                {
                    case "remove":
                        remove.AddRange(Paths(value, "response_transform.body.remove"));
                        break;
                    case "mask":
                        mask.AddRange(Paths(value, "response_transform.body.mask"));
                        break;
                    case "rename":
                        foreach (var (from, to) in value as JsonObject ?? throw new FormatException("response_transform.body.rename must be an object of old: new"))
                        {
                            var newName = to is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : "";
                            if (newName.Length == 0 || newName.Contains('.'))
                            {
                                throw new FormatException($"response_transform.body.rename.{from} must be a new field name");
                            }

                            renames.Add((JsonPaths.Parse(from), newName));
                        }

                        break;
                    default:
                        throw new FormatException($"response_transform.body: unknown operation '{key}' (use remove, rename, mask)");
                }
            }
        }

        return new ResponseTransform
        {
            Headers = NameValueOperations.Parse(root["headers"], "response_transform.headers", headerNames: true),
            RemovePaths = remove,
            Renames = renames,
            MaskPaths = mask,
            AppliedRemovePaths = [.. remove, .. renames.Where(r => remove.Exists(p => p.SequenceEqual(Renamed(r)))).Select(r => r.Item1)],
            AppliedMaskPaths = [.. mask, .. renames.Where(r => mask.Exists(p => p.SequenceEqual(r.Item1))).Select(Renamed)],
        };

        static string[] Renamed((string[] Path, string NewName) rename) => [.. rename.Path[..^1], rename.NewName];

        static IEnumerable<string[]> Paths(JsonNode? node, string field)
        {
            foreach (var path in node as JsonArray ?? throw new FormatException($"{field} must be an array of dotted paths"))
            {
                yield return JsonPaths.Parse(path is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : "");
            }
        }
    }

    /// <summary>Header operations need request variables too (<c>${request_id}</c>).</summary>
    public void ApplyHeaders<TTarget>(TTarget target, IRewriteRequest request)
        where TTarget : IHeaderTarget => Headers.Apply(target, request);
}
