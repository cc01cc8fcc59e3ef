namespace ApiGate.Core.Identity;

/// <summary>
/// Admin token format: <c>agt_</c> + 64 lower-case hex characters (256 random bits), hashed with SHA-256 like API keys.
/// The fixed <c>agt_</c> prefix tells the two credentials apart at a glance (API keys use <c>APIGATE_AUTH_KEY_PREFIX</c>,
/// <c>ak_</c> by default, which may not be <c>agt_</c>), and the admin API refuses anything else before any lookup.
/// </summary>
public static class AdminTokens
{
    /// <summary>The prefix every admin token starts with.</summary>
    public const string TokenPrefix = "agt_";

    /// <summary>A new random token.</summary>
    public static string Generate() => ApiKeys.Generate(TokenPrefix);

    /// <summary>True when the text has the shape of an admin token (no lookup).</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> token) => ApiKeys.IsWellFormed(token, TokenPrefix);

    /// <summary>The lookup and display prefix: <c>agt_</c> and the first 8 hex characters.</summary>
    public static string PrefixOf(string token) => ApiKeys.PrefixOf(token);

    /// <summary>SHA-256 of the token as lower-case hex, as stored.</summary>
    public static string Hash(string token) => ApiKeys.Hash(token);
}
