using System.Text.Json.Nodes;

namespace ApiGate.Core.Transforms;

/// <summary>
/// Dotted paths into JSON documents (<c>_links.internal</c>, <c>items.secret</c>): a segment that meets an array is
/// applied to every element, so <c>items.secret</c> reaches the field in each item.
/// </summary>
public static class JsonPaths
{
    /// <summary>Splits and checks a dotted path.</summary>
    public static string[] Parse(string path)
    {
        var segments = path.Split('.');
        if (path.Length == 0 || segments.Any(s => s.Length == 0))
        {
            throw new FormatException($"'{path}' is not a dotted path such as a.b.c");
        }

        return segments;
    }

    /// <summary>Calls <paramref name="action"/> with each (parent object, last segment) the path reaches.</summary>
    public static void ForEachParent(JsonNode? node, string[] segments, Action<JsonObject, string> action) => Walk(node, segments, 0, action);

    private static void Walk(JsonNode? node, string[] segments, int index, Action<JsonObject, string> action)
    {
        switch (node)
        {
            case JsonArray array:
                foreach (var item in array)
                {
                    Walk(item, segments, index, action);
                }

                break;
            case JsonObject obj when index == segments.Length - 1:
                action(obj, segments[index]);
                break;
            case JsonObject obj:
                if (obj.TryGetPropertyValue(segments[index], out var child))
                {
                    Walk(child, segments, index + 1, action);
                }

                break;
        }
    }
}
