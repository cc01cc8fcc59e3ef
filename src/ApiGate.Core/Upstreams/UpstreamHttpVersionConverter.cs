using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApiGate.Core.Upstreams;

/// <summary>The wire text of <see cref="UpstreamHttpVersion"/>: <c>"1.1"</c> or <c>"2"</c>, in JSON and everywhere else.</summary>
public sealed class UpstreamHttpVersionConverter : JsonConverter<UpstreamHttpVersion>
{
    /// <summary>The accepted values, for error messages.</summary>
    public const string Allowed = "1.1, 2";

    /// <summary>The wire text of <paramref name="version"/>.</summary>
    public static string ToText(UpstreamHttpVersion version) => version == UpstreamHttpVersion.Http2 ? "2" : "1.1";

    /// <summary>Parses <c>1.1</c> or <c>2</c> (surrounding spaces ignored); nothing else.</summary>
    public static bool TryParse(string? text, out UpstreamHttpVersion version)
    {
        switch (text?.Trim())
        {
            case "1.1":
                version = UpstreamHttpVersion.Http11;
                return true;
            case "2":
                version = UpstreamHttpVersion.Http2;
                return true;
            default:
                version = UpstreamHttpVersion.Http11;
                return false;
        }
    }

    public override UpstreamHttpVersion Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
            _ => null,
        };
        return TryParse(text, out var version) ? version : throw new JsonException($"http_version must be one of {Allowed}");
    }

    public override void Write(Utf8JsonWriter writer, UpstreamHttpVersion value, JsonSerializerOptions options) =>
        writer.WriteStringValue(ToText(value));
}
