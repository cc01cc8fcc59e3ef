using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// Makes the request-body schemas in openapi.json accept what <see cref="AdminBody"/> accepts: the response field
/// names as synonyms (<see cref="AdminBody.AliasesOf"/>, one of a pair at most) and the natural JSON shapes of values
/// (<see cref="AdminBody.ShapesFor"/>). Members that are not fields stay refused (<c>additionalProperties: false</c>),
/// as the API refuses them with 422.
/// </summary>
internal static class AdminBodySchema
{
    /// <summary>The schema transformer: widens the schema of every management input record.</summary>
    public static Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        var info = context.JsonTypeInfo;
        if (info.Kind == JsonTypeInfoKind.Object && AdminBody.IsInputRecord(info.Type) && schema.Properties is { Count: > 0 } properties)
        {
            Widen(properties, info);
            AddAliases(schema, properties, info.Type);
        }

        return Task.CompletedTask;
    }

    private static void Widen(IDictionary<string, IOpenApiSchema> properties, JsonTypeInfo info)
    {
        foreach (var property in info.Properties)
        {
            if (properties.TryGetValue(property.Name, out var declared) && declared is OpenApiSchema own && Widened(own, property.PropertyType) is { } widened)
            {
                properties[property.Name] = widened;
            }
        }
    }

    /// <summary>The field's schema with the shapes the reader also accepts; null when it accepts only its own.</summary>
    private static OpenApiSchema? Widened(OpenApiSchema declared, Type type)
    {
        var shapes = AdminBody.ShapesFor(type);
        if (shapes.HasFlag(AcceptedShapes.String))
        {
            var schema = (OpenApiSchema)declared.CreateShallowCopy();
            schema.Type = (declared.Type ?? JsonSchemaType.String) | JsonSchemaType.String
                | (shapes.HasFlag(AcceptedShapes.Number) ? JsonSchemaType.Number : 0)
                | (shapes.HasFlag(AcceptedShapes.Boolean) ? JsonSchemaType.Boolean : 0)
                | (shapes.HasFlag(AcceptedShapes.StringArray) ? JsonSchemaType.Array : 0);
            if (shapes.HasFlag(AcceptedShapes.StringArray))
            {
                schema.Items = new OpenApiSchema { Type = JsonSchemaType.String };
            }

            schema.Description = Join(declared.Description, "A number or true/false is read as its text"
                + (shapes.HasFlag(AcceptedShapes.StringArray) ? ", an array of strings as the strings joined with commas." : "."));
            return schema;
        }

        if (shapes.HasFlag(AcceptedShapes.NameValueObject))
        {
            var schema = (OpenApiSchema)declared.CreateShallowCopy();
            schema.Type = (declared.Type ?? JsonSchemaType.Array) | JsonSchemaType.Object;
            schema.AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.String | JsonSchemaType.Number | JsonSchemaType.Boolean };
            schema.AdditionalPropertiesAllowed = true;
            schema.Description = Join(declared.Description, "Items as \"name=value\", or an object {\"name\": \"value\"}.");
            return schema;
        }

        if (AdminBody.ElementType(Nullable.GetUnderlyingType(type) ?? type) is { } element
            && AdminBody.ShapesFor(element).HasFlag(AcceptedShapes.TargetString) && declared.Items is { } item)
        {
            var schema = (OpenApiSchema)declared.CreateShallowCopy();
            schema.Items = new OpenApiSchema
            {
                AnyOf =
                [
                    item,
                    new OpenApiSchema { Type = JsonSchemaType.String, Description = "The CLI's form \"URL[,weight=N]\"." },
                ],
            };
            return schema;
        }

        return null;
    }

    /// <summary>Adds each synonym as a property of its own, with the field's schema, and refuses both given together.</summary>
    private static void AddAliases(OpenApiSchema schema, IDictionary<string, IOpenApiSchema> properties, Type input)
    {
        var pairs = new List<IOpenApiSchema>();
        foreach (var (alias, field) in AdminBody.AliasesOf(input))
        {
            if (!properties.TryGetValue(field, out var declared) || declared is not OpenApiSchema own)
            {
                continue;
            }

            var synonym = (OpenApiSchema)own.CreateShallowCopy();
            synonym.Description = $"Synonym of {field} (the name responses use); give one or the other, not both.";
            properties[alias] = synonym;
            pairs.Add(new OpenApiSchema { Required = new HashSet<string>(StringComparer.Ordinal) { field, alias } });
        }

        if (pairs.Count > 0)
        {
            schema.Not = new OpenApiSchema { AnyOf = pairs };
        }
    }

    private static string Join(string? description, string more) => string.IsNullOrEmpty(description) ? more : description.TrimEnd() + " " + more;
}
