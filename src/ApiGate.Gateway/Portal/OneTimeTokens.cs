using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// The tokens in verification and reset links: 256 random bits, URL-safe base64. Only their SHA-256 is stored, so a
/// copy of the database cannot be used to follow a link; 256 bits make a fast hash enough.
/// </summary>
internal static class OneTimeTokens
{
    /// <summary>A new token (43 URL-safe characters).</summary>
    public static string Generate()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>SHA-256 of the token as lower-case hex; what the store keeps and looks up.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>True when <paramref name="token"/> has the shape of one (checked before any lookup; bounds the input).</summary>
    public static bool IsWellFormed(string? token) =>
        token is { Length: 43 } && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
