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

    /// <summary>True for <c>Authorization: Bearer &lt;prefix&gt;…</c>, an API key (well formed or not) in the bearer slot.</summary>
    public static bool IsApiKeyAuthorization(string? value, string keyPrefix) =>
        value is { Length: > 7 } && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
        && value.AsSpan(7).TrimStart().StartsWith(keyPrefix, StringComparison.Ordinal);

    /// <summary>
    /// True when an <c>api_key</c> query value is a credential: always while query keys are accepted, otherwise when it
    /// looks like a key (starts with the key prefix).
    /// </summary>
    public static bool IsApiKeyQueryValue(string? value, string keyPrefix, bool queryKeysAllowed) =>
        queryKeysAllowed || (value is not null && value.AsSpan().TrimStart().StartsWith(keyPrefix, StringComparison.Ordinal));
}
