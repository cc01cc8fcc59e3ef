using System.Globalization;
using ApiGate.Core.Text;

namespace ApiGate.Storage.Rows;

/// <summary>How typed values are written into row columns and read back: timestamps as ISO 8601 UTC text, enums by wire name.</summary>
internal static class StoredValues
{
    /// <summary>UTC, round-trip format: text order is time order, so range queries compare the text.</summary>
    public static string Time(DateTimeOffset value) => value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public static string? Time(DateTimeOffset? value) => value is { } v ? Time(v) : null;

    public static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    public static DateTimeOffset? TimeOrNull(string? text) => text is null ? null : Time(text);

    public static string Enum<TEnum>(TEnum value)
        where TEnum : struct, System.Enum => WireNames.Of(value);

    public static TEnum Enum<TEnum>(string text)
        where TEnum : struct, System.Enum =>
        WireNames.TryParse<TEnum>(text, out var value) ? value : throw new InvalidDataException($"stored value '{text}' is not a valid {typeof(TEnum).Name}");
}
