using System.Collections.Frozen;
using System.Text.Json;

namespace ApiGate.Core.Text;

/// <summary>The snake_case names enums have on the wire (CLI flags, JSON, the store): <c>HttpStream</c> ↔ <c>http_stream</c>.</summary>
public static class WireNames
{
    /// <summary>The wire name of an enum value.</summary>
    public static string Of<TEnum>(TEnum value)
        where TEnum : struct, Enum => Cache<TEnum>.Names[value];

    /// <summary>Parses a wire name (case-insensitive).</summary>
    public static bool TryParse<TEnum>(string? text, out TEnum value)
        where TEnum : struct, Enum => Cache<TEnum>.Values.TryGetValue(text?.Trim() ?? "", out value);

    /// <summary>All wire names of an enum, for error messages: <c>http, http_stream, sse, websocket</c>.</summary>
    public static string List<TEnum>()
        where TEnum : struct, Enum => string.Join(", ", Cache<TEnum>.Names.Values.Order(StringComparer.Ordinal));

    private static class Cache<TEnum>
        where TEnum : struct, Enum
    {
        public static readonly FrozenDictionary<TEnum, string> Names =
            Enum.GetValues<TEnum>().ToFrozenDictionary(v => v, v => JsonNamingPolicy.SnakeCaseLower.ConvertName(v.ToString()));

        public static readonly FrozenDictionary<string, TEnum> Values =
            Names.ToFrozenDictionary(p => p.Value, p => p.Key, StringComparer.OrdinalIgnoreCase);
    }
}
