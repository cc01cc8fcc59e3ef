using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using ApiGate.Core.Management;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// A request body read into one of the management input records (<see cref="UpstreamInput"/>, <see cref="RouteInput"/>,
/// …), so the API and the CLI hand the services the same values. The body is a JSON object of the record's fields,
/// optionally wrapped as <c>{"data": {...}}</c>; error pointers follow the shape that was sent (<c>/name</c> or
/// <c>/data/name</c>). Field names the definitions use in responses are accepted too (<c>base_url</c> for <c>url</c>,
/// <c>path_pattern</c> for <c>path</c>, …), and values keep their natural JSON shape where the record takes text
/// (<c>"methods": ["GET", "POST"]</c>, <c>"headers": {"x-tier": "gold"}</c>, <c>"timeout_ms": 5000</c>).
/// Validation stays in the services; this only refuses what cannot be read (400) or is not a field (422).
/// </summary>
internal sealed class AdminBody
{
    /// <summary>Largest accepted body.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Response field names accepted for input fields of another name, per input record: alias → field.</summary>
    private static readonly Dictionary<Type, (string Alias, string Field)[]> Aliases = new()
    {
        [typeof(UpstreamInput)] = [("base_url", "url"), ("timeout_ms", "timeout")],
        [typeof(RouteInput)] = [("path_pattern", "path"), ("upstream_id", "upstream")],
        [typeof(UserInput)] = [("plan_id", "plan")],
        [typeof(KeyInput)] = [("user_id", "user"), ("expires_at", "expires")],
        [typeof(PlanEntitlementInput)] = [("plan_id", "plan"), ("entitlement_id", "entitlement")],
    };

    private readonly string _prefix;
    private readonly Dictionary<string, string> _sentAs;

    private AdminBody(string prefix, Dictionary<string, string> sentAs)
    {
        _prefix = prefix;
        _sentAs = sentAs;
    }

    /// <summary>The JSON pointer for a field a service named, in the shape and under the name the client used.</summary>
    public string PointerFor(string field) =>
        _prefix + "/" + (_sentAs.TryGetValue(field, out var sent) ? sent : field).Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>Reads the body as <typeparamref name="T"/>; on failure returns the error response instead.</summary>
    public static async Task<(T? Input, AdminBody? Body, IResult? Error)> ReadAsync<T>(HttpContext context, CancellationToken ct)
        where T : class
    {
        var request = context.Request;
        if (!string.IsNullOrEmpty(request.ContentType) && !IsJson(request.ContentType))
        {
            return (null, null, AdminErrors.Write(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported media type",
                $"send the body as application/json (got {request.ContentType})", null));
        }

        if (request.ContentLength > MaxBytes)
        {
            return (null, null, TooLarge());
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return (null, null, TooLarge());
            }

            buffer.Write(chunk, 0, read);
        }

        JsonNode? root;
        try
        {
            root = buffer.Length == 0 ? new JsonObject() : JsonNode.Parse(buffer.ToArray(), documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            return (null, null, AdminErrors.BadRequest("the request body is not valid JSON: " + ex.Message));
        }

        if (root is not JsonObject fields)
        {
            return (null, null, AdminErrors.BadRequest("the request body must be a JSON object"));
        }

        var prefix = "";
        if (fields.Count == 1 && fields["data"] is JsonObject wrapped)
        {
            fields = (JsonObject)wrapped.DeepClone();
            prefix = "/data";
        }

        var sentAs = new Dictionary<string, string>(StringComparer.Ordinal);
        var body = new AdminBody(prefix, sentAs);
        foreach (var (alias, field) in Aliases.GetValueOrDefault(typeof(T), []))
        {
            if (!fields.ContainsKey(alias))
            {
                sentAs[alias] = field; // a service naming the alias points at the field the client sent
                continue;
            }

            if (fields.ContainsKey(field))
            {
                return (null, null, Invalid(body, alias, $"give either {field} or {alias}, not both"));
            }

            var value = fields[alias]?.DeepClone();
            fields.Remove(alias);
            fields[field] = value;
            sentAs[field] = alias;
        }

        var typeInfo = (JsonTypeInfo<T>)WireJson.Options.GetTypeInfo(typeof(T));
        foreach (var name in fields.Select(p => p.Key).ToList())
        {
            var property = typeInfo.Properties.FirstOrDefault(p => p.Name == name);
            if (property is null)
            {
                var known = string.Join(", ", typeInfo.Properties.Select(p => p.Name));
                return (null, null, Invalid(body, name, $"'{name}' is not a field here (fields: {known})"));
            }

            if (Coerce(fields[name], property.PropertyType) is { } problem)
            {
                return (null, null, Invalid(body, name, problem));
            }

            if (Converted(fields[name], property.PropertyType) is { } converted)
            {
                fields[name] = converted;
            }
        }

        try
        {
            return (fields.Deserialize(typeInfo), body, null);
        }
        catch (JsonException ex)
        {
            var name = ex.Path is { Length: > 2 } path ? path[2..].Split('.', '[')[0] : "";
            var property = typeInfo.Properties.FirstOrDefault(p => p.Name == name);
            return (null, null, Invalid(body, name, property is null ? "cannot be read" : "must be " + Expected(property.PropertyType)));
        }
    }

    private static IResult Invalid(AdminBody body, string field, string message) =>
        AdminErrors.FromBody(new ManagementError(ManagementErrorKind.Validation, field, message), body);

    private static IResult TooLarge() =>
        AdminErrors.Write(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "Payload too large", $"the request body is larger than {MaxBytes} bytes", null);

    private static bool IsJson(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("application/vnd.api+json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>A reason the value can never fit the field, or null (it fits, or it can be converted).</summary>
    private static string? Coerce(JsonNode? value, Type target)
    {
        if (value is JsonObject map && IsTextList(target))
        {
            foreach (var (_, item) in map)
            {
                if (item is not JsonValue || item.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                {
                    return "must map names to text values";
                }
            }
        }

        if (value is JsonArray list && target == typeof(string))
        {
            foreach (var item in list)
            {
                if (item?.GetValueKind() is not JsonValueKind.String)
                {
                    return "must be a string or an array of strings";
                }
            }
        }

        return null;
    }

    /// <summary>The value in the shape the input record takes, when the natural JSON shape differs; else null.</summary>
    private static JsonNode? Converted(JsonNode? value, Type target)
    {
        if (target == typeof(string))
        {
            return value switch
            {
                JsonArray list => JsonValue.Create(string.Join(',', list.Select(i => i!.GetValue<string>()))),
                JsonValue v when v.GetValueKind() is JsonValueKind.Number => JsonValue.Create(v.ToJsonString()),
                JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => JsonValue.Create(v.ToJsonString()),
                _ => null,
            };
        }

        if (value is JsonObject map && IsTextList(target))
        {
            var pairs = new JsonArray();
            foreach (var (name, item) in map)
            {
                var text = item!.GetValueKind() == JsonValueKind.String ? item.GetValue<string>() : item.ToJsonString();
                pairs.Add(JsonValue.Create(name + "=" + text));
            }

            return pairs;
        }

        return null;
    }

    private static bool IsTextList(Type type) => type.IsAssignableFrom(typeof(List<string>)) && type != typeof(object);

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(string) ? "a string"
            : type == typeof(bool) ? "true or false"
            : type == typeof(int) || type == typeof(long) ? "a whole number" + (type == typeof(int) ? $" (at most {int.MaxValue.ToString(CultureInfo.InvariantCulture)})" : "")
            : IsTextList(type) ? "an array of strings"
            : "a " + type.Name;
    }
}
