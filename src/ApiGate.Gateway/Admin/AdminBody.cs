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

    /// <summary>The response field names accepted for fields of <paramref name="input"/> (alias → field); none for other types.</summary>
    public static IReadOnlyList<(string Alias, string Field)> AliasesOf(Type input) => Aliases.GetValueOrDefault(input, []);

    /// <summary>
    /// The JSON shapes accepted for a field of CLR type <paramref name="type"/> (null aside, which means absent), the
    /// record's own included; <see cref="AcceptedShapes.None"/> when only the record's own shape is read: what <see cref="Coerce"/> lets through and <see cref="Converted"/> turns into the record's shape.
    /// openapi.json derives its request schemas from this, so the document and the reader cannot disagree.
    /// </summary>
    public static AcceptedShapes ShapesFor(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(string) ? AcceptedShapes.String | AcceptedShapes.Number | AcceptedShapes.Boolean | AcceptedShapes.StringArray
            : IsTextList(type) ? AcceptedShapes.StringArray | AcceptedShapes.NameValueObject
            : type == typeof(TargetInput) ? AcceptedShapes.Object | AcceptedShapes.TargetString
            : AcceptedShapes.None;
    }

    /// <summary>Whether <paramref name="type"/> is a management input record this reads bodies into (<c>…Input</c> in <c>ApiGate.Core.Management</c>), or nested in one.</summary>
    public static bool IsInputRecord(Type type) =>
        type.Namespace == typeof(UpstreamInput).Namespace && type.Name.EndsWith("Input", StringComparison.Ordinal) && ObjectInfo(type) is not null;

    private readonly string _prefix;
    private readonly Dictionary<string, string> _sentAs;

    private AdminBody(string prefix, Dictionary<string, string> sentAs)
    {
        _prefix = prefix;
        _sentAs = sentAs;
    }

    /// <summary>The JSON pointer for a field a service named, in the shape and under the name the client used.</summary>
    /// <remarks>A nested field is named with dots (<c>health_check.interval</c> → <c>/health_check/interval</c>, <c>targets.0.url</c> → <c>/targets/0/url</c>).</remarks>
    public string PointerFor(string field) => PointerFor(field.Split('.'));

    /// <summary>The JSON pointer for a member given as its path of names (which may contain dots) and indexes.</summary>
    private string PointerFor(IReadOnlyList<string> segments) =>
        _prefix + string.Concat(segments.Select((s, i) =>
            "/" + (i == 0 && _sentAs.TryGetValue(s, out var sent) ? sent : s).Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)));

    /// <summary>Reads the body as <typeparamref name="T"/>; on failure returns the error response instead.</summary>
    public static async Task<(T? Input, AdminBody? Body, IResult? Error)> ReadAsync<T>(HttpContext context, CancellationToken ct)
        where T : class
    {
        var request = context.Request;
        // A body without a JSON content type is refused even when empty: a cross-site form post (text/plain,
        // form-urlencoded, no type at all) can never reach a handler that changes something.
        if (string.IsNullOrEmpty(request.ContentType) || !IsJson(request.ContentType))
        {
            return (null, null, AdminErrors.Write(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported Media Type",
                string.IsNullOrEmpty(request.ContentType)
                    ? "send the body with Content-Type: application/json (the request had no Content-Type)"
                    : $"send the body as application/json (got {request.ContentType})", null));
        }

        // Bodies are read as sent: a compressed one would be refused as not JSON, and a plain one labelled compressed
        // applied as other bytes than its sender declared. RFC 7694: 415, with the codings that are read.
        if (ContentCoding(request) is { } coding)
        {
            context.Response.Headers.AcceptEncoding = "identity";
            return (null, null, AdminErrors.Write(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported Media Type",
                $"send the body uncompressed: the admin API does not read Content-Encoding: {(coding.Length > 64 ? coding[..64] + "…" : coding)}", null));
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

        // A body sent in another charset (UTF-16 is valid UTF-8 full of NULs) is named as such, not as the byte the reader stopped at.
        var otherCharset = OtherCharset(request.ContentType);
        if (!System.Text.Unicode.Utf8.IsValid(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)))
        {
            // The JSON reader would read the bytes as U+FFFD and store a changed name without a word.
            return (null, null, AdminErrors.BadRequest("the request body is not valid JSON: " + (otherCharset ?? "it is not UTF-8 text")));
        }

        // A UTF-8 byte order mark in front is skipped, as JSON readers do (RFC 8259 allows it; Windows tools write one).
        var json = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        json = json.Span.StartsWith("\uFEFF"u8) ? json[3..] : json;
        JsonNode? root = null;
        var text = true;
        try
        {
            root = json.Length == 0 ? new JsonObject() : JsonNode.Parse(json.Span, documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
        }
        catch (JsonException ex) when (otherCharset is null && DuplicateMember(ex, json) is { } twice)
        {
            return (null, null, AdminErrors.BadRequest(
                $"the request body is not valid JSON: the member '{twice.Name}' is given twice (which one counts would be a guess)",
                new ErrorSource(Pointer: twice.Pointer)));
        }
        catch (JsonException ex)
        {
            return (null, null, AdminErrors.BadRequest("the request body is not valid JSON: " + (otherCharset ?? ex.Message)));
        }
        catch (InvalidOperationException)
        {
            text = false; // a member name that is not Unicode text
        }

        if (!text || (json.Length > 0 && !AllTextIsUnicode(json.Span)))
        {
            return (null, null, AdminErrors.BadRequest("the request body is not valid JSON: a string holds an escape that is not Unicode text (a lone surrogate such as \\ud800)"));
        }

        if (root is not JsonObject fields)
        {
            return (null, null, AdminErrors.BadRequest("the request body must be a JSON object"));
        }

        var typeInfo = (JsonTypeInfo<T>)WireJson.Options.GetTypeInfo(typeof(T));
        var prefix = "";
        if (fields.Count > 1 && fields["data"] is JsonObject && typeInfo.Properties.All(p => p.Name != "data")
            && fields.First(p => p.Key != "data").Key is var sibling)
        {
            // A body wrapped in "data" (JSON:API style) has nothing beside it: name the member that is in the way.
            var error = new ManagementError(ManagementErrorKind.Validation, sibling, $"'{sibling}' is not allowed beside data (a body wrapped in data holds every field inside it)");
            return (null, null, AdminErrors.From(error, new ErrorSource(Pointer: new AdminBody("", []).PointerFor([sibling]))));
        }

        if (fields.Count == 1 && fields["data"] is JsonObject wrapped)
        {
            fields = (JsonObject)wrapped.DeepClone();
            prefix = "/data";
        }

        var sentAs = new Dictionary<string, string>(StringComparer.Ordinal);
        var body = new AdminBody(prefix, sentAs);
        foreach (var (alias, field) in AliasesOf(typeof(T)))
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

        if (CheckMembers(fields, typeInfo, []) is { } refused)
        {
            var error = new ManagementError(ManagementErrorKind.Validation, string.Join('.', refused.Path), refused.Message);
            return (null, null, AdminErrors.From(error, new ErrorSource(Pointer: body.PointerFor(refused.Path))));
        }

        try
        {
            return (fields.Deserialize(typeInfo), body, null);
        }
        catch (JsonException ex)
        {
            // "$.health_check.interval" or "$.targets[0].weight" → health_check.interval, targets.0.weight
            var field = ex.Path is { Length: > 2 } path ? path[2..].Replace("[", ".", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal) : "";
            var type = TypeOf(typeInfo, field);
            // A price too large for a whole number gets its field's own rule (the unit, cents, and the range), as a negative one does.
            var rule = typeof(T) == typeof(PlanInput) ? PlanService.RuleOf(field) : null;
            return (null, null, Invalid(body, field, type is null ? "cannot be read" : rule ?? "must be " + Expected(type)));
        }
    }

    /// <summary>
    /// Checks the body of a request that takes no fields (an action such as <c>enable</c>, <c>revoke</c> or <c>test</c>,
    /// and <c>DELETE</c>): no body, an empty one (whatever its content type) or a JSON object without members passes (null);
    /// anything else gets the answer <see cref="ReadAsync{T}"/> gives — 415 for a body that is not JSON (a cross-site form
    /// post never reaches the handler), 400 for invalid JSON, 422 naming a member (there are no fields to set).
    /// </summary>
    public static async Task<IResult?> ReadNoneAsync(HttpContext context, CancellationToken ct)
    {
        var request = context.Request;
        if (request.ContentLength == 0 || context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return null;
        }

        if (string.IsNullOrEmpty(request.ContentType) || !IsJson(request.ContentType))
        {
            // A body of unknown length (chunked) that turns out to be empty is no body either; one byte tells.
            if (await request.Body.ReadAsync(new byte[1], ct) == 0)
            {
                return null;
            }
        }

        var (_, _, error) = await ReadAsync<NoFields>(context, ct);
        return error;
    }

    /// <summary>The fields of a request that takes none: every member of its body is refused.</summary>
    private sealed record NoFields;

    /// <summary>
    /// True when every name and string in the (well-formed) JSON decodes to text: <c>"\ud800"</c> is valid JSON syntax
    /// but no string, and reading it later would fail as a server error instead of a client one.
    /// </summary>
    private static bool AllTextIsUnicode(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 32 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.PropertyName or JsonTokenType.String && reader.ValueIsEscaped)
                {
                    _ = reader.GetString();
                }
            }
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        return true;
    }

    /// <summary>
    /// Refuses members that are not fields and values that can never fit, and converts natural shapes to the record's,
    /// inside nested objects (<c>health_check</c>) and lists of objects (<c>targets</c>) too. Nested fields are named
    /// by their path (<c>health_check</c>, <c>interval</c>), which becomes the pointer (<c>/health_check/interval</c>).
    /// </summary>
    private static (string[] Path, string Message)? CheckMembers(JsonObject fields, JsonTypeInfo typeInfo, string[] parent)
    {
        foreach (var name in fields.Select(p => p.Key).ToList())
        {
            string[] field = [.. parent, name];
            var property = typeInfo.Properties.FirstOrDefault(p => p.Name == name);
            if (property is null)
            {
                var known = string.Join(", ", typeInfo.Properties.Select(p => p.Name));
                return (field, known.Length == 0
                    ? $"'{name}' is not a field here (this request takes no fields: send no body, or {{}})"
                    : $"'{name}' is not a field here (fields: {known})");
            }

            var type = property.PropertyType;
            if (Coerce(fields[name], type) is { } problem)
            {
                return (field, problem);
            }

            if (Converted(fields[name], type) is { } converted)
            {
                fields[name] = converted;
            }

            if (fields[name] is JsonObject nested && ObjectInfo(type) is { } nestedInfo && CheckMembers(nested, nestedInfo, field) is { } inObject)
            {
                return inObject;
            }

            if (fields[name] is JsonArray items && ElementType(type) is { } elementType && ObjectInfo(elementType) is { } elementInfo)
            {
                for (var i = 0; i < items.Count; i++)
                {
                    string[] itemField = [.. field, i.ToString(CultureInfo.InvariantCulture)];
                    if (ShapesFor(elementType).HasFlag(AcceptedShapes.TargetString) && items[i] is JsonValue text && text.GetValueKind() == JsonValueKind.String)
                    {
                        // The CLI's form of a target, "URL[,weight=N]", is accepted as a string item.
                        try
                        {
                            var target = TargetInput.Parse(text.GetValue<string>());
                            items[i] = new JsonObject { ["url"] = target.Url, ["weight"] = target.Weight };
                        }
                        catch (FormatException ex)
                        {
                            return (itemField, ex.Message);
                        }
                    }
                    else if (items[i] is JsonObject item && CheckMembers(item, elementInfo, itemField) is { } inItem)
                    {
                        return inItem;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The type info of a record type read from a JSON object (not text, numbers, lists or maps); else null.</summary>
    private static JsonTypeInfo? ObjectInfo(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type.IsPrimitive || type.IsEnum)
        {
            return null;
        }

        var info = WireJson.Options.GetTypeInfo(type);
        return info.Kind == JsonTypeInfoKind.Object ? info : null;
    }

    /// <summary>The item type of a list property (<c>IReadOnlyList&lt;T&gt;</c>, <c>List&lt;T&gt;</c>, <c>T[]</c>); else null.</summary>
    public static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericArguments() is [var item] && typeof(IEnumerable<>).MakeGenericType(item).IsAssignableFrom(type) ? item
        : null;

    /// <summary>The type of a (possibly nested, dotted) field, or null when the path does not name one.</summary>
    private static Type? TypeOf(JsonTypeInfo typeInfo, string field)
    {
        Type? type = null;
        var info = typeInfo;
        foreach (var segment in field.Split('.'))
        {
            if (info is null)
            {
                return null;
            }

            if (type is not null && ElementType(type) is { } element && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                type = element;
                info = ObjectInfo(element);
                continue;
            }

            type = info.Properties.FirstOrDefault(p => p.Name == segment)?.PropertyType;
            if (type is null)
            {
                return null;
            }

            info = ObjectInfo(type) ?? (ElementType(type) is { } listed ? ObjectInfo(listed) : null);
        }

        return type;
    }

    private static IResult Invalid(AdminBody body, string field, string message) =>
        AdminErrors.FromBody(new ManagementError(ManagementErrorKind.Validation, field, message), body);

    private static IResult TooLarge() =>
        AdminErrors.Write(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "Content Too Large", $"the request body is larger than {MaxBytes} bytes", null);

    /// <summary>What to say of a body whose <c>Content-Type</c> names a charset other than UTF-8 (or ASCII, a part of it); else null.</summary>
    private static string? OtherCharset(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media) && media.Charset is { HasValue: true } given
        && given.Value!.Trim('"') is var charset // charset="utf-8" is the same charset
        && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
        && !charset.Equals("us-ascii", StringComparison.OrdinalIgnoreCase)
            ? $"it was sent as charset={charset}, and JSON is read as UTF-8: send it in UTF-8"
            : null;

    /// <summary>The request's <c>Content-Encoding</c> when it names a coding other than <c>identity</c>; else null.</summary>
    private static string? ContentCoding(HttpRequest request) =>
        Pipeline.RequestGuard.NamesCodingOtherThan(request.Headers.ContentEncoding, "identity", out _) ? request.Headers.ContentEncoding.ToString() : null;

    private static bool IsJson(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("application/vnd.api+json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>A reason the value can never fit the field, or null (it fits, or it can be converted).</summary>
    private static string? Coerce(JsonNode? value, Type target)
    {
        if (value is JsonObject map && ShapesFor(target).HasFlag(AcceptedShapes.NameValueObject))
        {
            foreach (var (_, item) in map)
            {
                if (item is not JsonValue || item.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                {
                    return "must map names to text values";
                }
            }
        }

        if (value is JsonArray list && ShapesFor(target).HasFlag(AcceptedShapes.StringArray))
        {
            // A null item would reach the service as a null string (a list field read as text, like set or unset).
            foreach (var item in list)
            {
                if (item?.GetValueKind() is not JsonValueKind.String)
                {
                    return ShapesFor(target).HasFlag(AcceptedShapes.String) ? "must be a string or an array of strings" : "must be an array of strings";
                }
            }
        }

        return null;
    }

    /// <summary>The value in the shape the input record takes, when the natural JSON shape differs; else null.</summary>
    private static JsonNode? Converted(JsonNode? value, Type target)
    {
        var shapes = ShapesFor(target);
        if (shapes.HasFlag(AcceptedShapes.String))
        {
            return value switch
            {
                JsonArray list when shapes.HasFlag(AcceptedShapes.StringArray) => JsonValue.Create(string.Join(',', list.Select(i => i!.GetValue<string>()))),
                JsonValue v when v.GetValueKind() is JsonValueKind.Number && shapes.HasFlag(AcceptedShapes.Number) => JsonValue.Create(v.ToJsonString()),
                JsonValue v when v.GetValueKind() is (JsonValueKind.True or JsonValueKind.False) && shapes.HasFlag(AcceptedShapes.Boolean) => JsonValue.Create(v.ToJsonString()),
                _ => null,
            };
        }

        if (value is JsonObject map && shapes.HasFlag(AcceptedShapes.NameValueObject))
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

    /// <summary>
    /// The member a duplicate-member refusal of the JSON reader names, with a JSON pointer to it: the body read again with
    /// duplicates allowed, to the first object that holds the name twice (the reader's own path stops at the root).
    /// Null for any other refusal. Only on this error's path.
    /// </summary>
    private static (string Name, string Pointer)? DuplicateMember(JsonException ex, ReadOnlyMemory<byte> json)
    {
        const string Lead = "Duplicate property '";
        if (!ex.Message.StartsWith(Lead, StringComparison.Ordinal) || ex.Message.IndexOf('\'', Lead.Length) is not (> 0 and var end))
        {
            return null;
        }

        var name = ex.Message[Lead.Length..end];
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            return (name, PointerToTwice(document.RootElement, name, "") ?? "/" + Escaped(name));
        }
        catch (JsonException)
        {
            return (name, "/" + Escaped(name));
        }

        static string? PointerToTwice(JsonElement element, string name, string at)
        {
            if (element.ValueKind == JsonValueKind.Object)
            {
                var seen = 0;
                foreach (var member in element.EnumerateObject())
                {
                    if (member.NameEquals(name) && ++seen == 2)
                    {
                        return at + "/" + Escaped(name);
                    }
                }

                foreach (var member in element.EnumerateObject())
                {
                    if (PointerToTwice(member.Value, name, at + "/" + Escaped(member.Name)) is { } found)
                    {
                        return found;
                    }
                }
            }
            else if (element.ValueKind == JsonValueKind.Array)
            {
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (PointerToTwice(item, name, at + "/" + index++.ToString(CultureInfo.InvariantCulture)) is { } found)
                    {
                        return found;
                    }
                }
            }

            return null;
        }

        static string Escaped(string segment) => segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    }

    private static bool IsTextList(Type type) => type.IsAssignableFrom(typeof(List<string>)) && type != typeof(object);

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(string) ? "a string"
            : type == typeof(bool) ? "true or false"
            : type == typeof(int) ? $"a whole number (at most {int.MaxValue.ToString(CultureInfo.InvariantCulture)})"
            : type == typeof(long) ? $"a whole number (at most {long.MaxValue.ToString(CultureInfo.InvariantCulture)})"
            : IsTextList(type) ? "an array of strings"
            : ElementType(type) is not null ? "an array"
            : ObjectInfo(type) is not null ? "a JSON object"
            : "a " + type.Name;
    }
}
