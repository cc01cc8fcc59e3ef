namespace ApiGate.Gateway.Identity;

/// <summary>
/// Where an API key can travel in a request, and how to recognise one there. The same test decides what the
/// authentication step reads, what the forwarder strips on every route (public ones too) and what expressions may see,
/// so a key never leaves the gateway (docs/keys-and-limits.md, "The key stays at the gateway").
/// </summary>
internal static class Credentials
{
    /// <summary>The gateway's own credential header; removed from every forwarded request whatever it holds.</summary>
    public const string ApiKeyHeader = "X-API-Key";

    /// <summary>The query parameter a key may be sent in (<c>APIGATE_AUTH_ALLOW_QUERY_KEY</c>).</summary>
    public const string QueryParameter = "api_key";

    /// <summary>
    /// True for <c>Authorization: Bearer &lt;prefix&gt;…</c>, an API key (well formed or not) in the bearer slot, however
    /// the scheme is cased and whether a space or a tab follows it (lenient backends accept both); and for a whole key
    /// (the prefix and 64 hex digits, in any case) under any other scheme or none (<c>Token ak_…</c>, <c>ak_…</c>,
    /// <c>Bearer AK_…</c>): the gateway does not take those, but the client meant to send its key, and a backend
    /// behind a public route must not get it.
    /// </summary>
    public static bool IsApiKeyAuthorization(string? value, string keyPrefix)
    {
        if (value is not { Length: > 0 })
        {
            return false;
        }

        if (value.Length > 7 && value.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase) && value[6] is ' ' or '\t'
            && value.AsSpan(7).TrimStart().StartsWith(keyPrefix, StringComparison.Ordinal))
        {
            return true;
        }

        var text = value.AsSpan().Trim();
        var space = text.IndexOfAny(' ', '\t');
        return IsWholeKey(text, keyPrefix) || (space > 0 && IsWholeKey(text[(space + 1)..].TrimStart(), keyPrefix));
    }

    /// <summary>The key prefix (any case) and 64 hex digits (any case) at the start of <paramref name="text"/>.</summary>
    private static bool IsWholeKey(ReadOnlySpan<char> text, string keyPrefix) =>
        text.Length >= keyPrefix.Length + KeySecretHexLength
        && text.StartsWith(keyPrefix, StringComparison.OrdinalIgnoreCase)
        && !text.Slice(keyPrefix.Length, KeySecretHexLength).ContainsAnyExcept(HexDigits);

    private const int KeySecretHexLength = 64;

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>
    /// True when an <c>api_key</c> query value is a credential: always while query keys are accepted, otherwise when it
    /// looks like a key (starts with the key prefix).
    /// </summary>
    public static bool IsApiKeyQueryValue(string? value, string keyPrefix, bool queryKeysAllowed) =>
        queryKeysAllowed || (value is not null && value.AsSpan().TrimStart().StartsWith(keyPrefix, StringComparison.Ordinal));
}
