using System.Text.Json.Nodes;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Transforms;

/// <summary>
/// The <c>inject</c> object of a JSON body transform, compiled: strings may hold <c>${var}</c> placeholders; objects
/// are merged into objects already in the body (deep merge); anything else replaces the field.
/// </summary>
public sealed class JsonInjection
{
    private readonly (string Name, ValueTemplate? Template, JsonNode? Constant, JsonInjection? Nested)[] _fields;

    private JsonInjection((string, ValueTemplate?, JsonNode?, JsonInjection?)[] fields) => _fields = fields;

    internal static JsonInjection Parse(JsonObject inject)
    {
        var fields = new List<(string, ValueTemplate?, JsonNode?, JsonInjection?)>();
        foreach (var (name, value) in inject)
        {
            if (value is JsonObject nested)
            {
                fields.Add((name, null, null, Parse(nested)));
            }
            else if (value is JsonValue scalar && scalar.GetValueKind() == System.Text.Json.JsonValueKind.String)
            {
                fields.Add((name, ValueTemplate.Parse(scalar.GetValue<string>()), null, null));
            }
            else
            {
                fields.Add((name, null, value?.DeepClone(), null));
            }
        }

        return new JsonInjection([.. fields]);
    }

    public void Apply(JsonObject target, IRewriteRequest request)
    {
        foreach (var (name, template, constant, nested) in _fields)
        {
            if (nested is not null)
            {
                if (target[name] is not JsonObject child)
                {
                    child = [];
                    target[name] = child;
                }

                nested.Apply(child, request);
            }
            else if (template is not null)
            {
                target[name] = template.Render(request);
            }
            else
            {
                target[name] = constant?.DeepClone();
            }
        }
    }
}
