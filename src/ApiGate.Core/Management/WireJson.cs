using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApiGate.Core.Management;

/// <summary>
/// The JSON shape of management records everywhere they cross a process boundary (CLI <c>--json</c>, the admin API):
/// snake_case fields and enum names, the names the store uses. Unknown members in input are refused, so a misspelt
/// field is an error instead of a silently ignored change.
/// </summary>
public static class WireJson
{
    /// <summary>Compact output and strict input (the admin API).</summary>
    public static readonly JsonSerializerOptions Options = Create(indented: false);

    /// <summary>The same, indented for people (the CLI's <c>--json</c>).</summary>
    public static readonly JsonSerializerOptions Indented = Create(indented: true);

    /// <summary>Applies the wire conventions to options owned by someone else (e.g. ASP.NET Core's JSON options).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        // Readable output ('/users/' + id, not \u0027/users/\u0027 \u002B id): it is only ever printed to a terminal or
        // served as application/json with nosniff, never embedded in HTML, so HTML-sensitive characters need no escaping.
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
    }

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General) { WriteIndented = indented };
        Configure(options);
        options.TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver();
        options.MakeReadOnly();
        return options;
    }
}
