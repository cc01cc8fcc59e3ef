using System.Security.Cryptography;

namespace ApiGate.Core.Text;

/// <summary>Random, prefixed identifiers such as <c>up_9f2c4e1a7b3d5f60</c>.</summary>
public static class Ids
{
    private const int RandomBytes = 8;

    /// <summary>A new id: the prefix, an underscore and 16 lower-case hex characters (64 random bits).</summary>
    public static string New(string prefix)
    {
        Span<byte> bytes = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(bytes);
        return prefix + "_" + Convert.ToHexStringLower(bytes);
    }

    /// <summary>
    /// Whether <paramref name="value"/> has the form of an id <see cref="New"/> makes with <paramref name="prefix"/>
    /// (ignoring case): a name of that form, where rows are found by id or name, could name another row.
    /// </summary>
    public static bool HasFormOf(string prefix, string value) =>
        value.Length == prefix.Length + 1 + (2 * RandomBytes) && value.StartsWith(prefix + "_", StringComparison.OrdinalIgnoreCase)
        && !value.AsSpan(prefix.Length + 1).ContainsAnyExcept("0123456789abcdefABCDEF");
}
