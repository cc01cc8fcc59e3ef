using System.Security.Cryptography;

namespace ApiGate.Core.Text;

/// <summary>Random, prefixed identifiers such as <c>up_9f2c4e1a7b3d5f60</c>.</summary>
public static class Ids
{
    /// <summary>A new id: the prefix, an underscore and 16 lower-case hex characters (64 random bits).</summary>
    public static string New(string prefix)
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return prefix + "_" + Convert.ToHexStringLower(bytes);
    }
}
