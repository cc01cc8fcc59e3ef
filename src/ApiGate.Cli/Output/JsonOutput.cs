using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApiGate.Cli.Output;

/// <summary>Machine output (<c>--json</c>): snake_case fields and enum names, the same names the store and the admin API use.</summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static void Write<T>(TextWriter output, T value) => output.WriteLine(JsonSerializer.Serialize(value, Options));
}
