using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Core.Identity;

/// <summary>
/// Key format and hashing (SPEC §3.3): <c>prefix</c> + 64 lower-case hex characters (256 bits from a CSPRNG), stored
/// as a SHA-256 hash plus a 12-character lookup prefix. 256 random bits make a fast hash as strong as bcrypt against
/// guessing, at microseconds instead of tens of milliseconds per request.
/// </summary>
public static class ApiKeys
{
    /// <summary>Characters of a key kept in clear for lookup and display.</summary>
    public const int PrefixLength = 12;

    private const int SecretHexLength = 64;

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>A new random key with the given prefix (default <c>ak_</c>).</summary>
    public static string Generate(string keyPrefix)
    {
        Span<byte> secret = stackalloc byte[SecretHexLength / 2];
        RandomNumberGenerator.Fill(secret);
        return keyPrefix + Convert.ToHexStringLower(secret);
    }

    /// <summary>True when <paramref name="key"/> has the shape of a key with this prefix (no lookup).</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> key, string keyPrefix)
    {
        if (key.Length != keyPrefix.Length + SecretHexLength || !key.StartsWith(keyPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in key[keyPrefix.Length..])
        {
            if (!char.IsAsciiHexDigitLower(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The lookup prefix of a key.</summary>
    public static string PrefixOf(string key) => key[..Math.Min(PrefixLength, key.Length)];

    /// <summary>
    /// <paramref name="path"/> with every segment that is a key with this prefix (the prefix and 64 hex digits, a key a
    /// client put into the path) cut to its first <see cref="PrefixLength"/> characters, the part shown anyway, and
    /// <c>***</c>. Other hex runs (content hashes) stay. Without the prefix in it the path itself is returned: one scan,
    /// nothing allocated, as it runs for every request.
    /// </summary>
    public static string RedactedPath(string path, string keyPrefix)
    {
        var at = keyPrefix.Length == 0 ? -1 : path.AsSpan().IndexOf(keyPrefix, StringComparison.Ordinal);
        StringBuilder? redacted = null;
        var copied = 0;
        while (at >= 0)
        {
            var end = path.IndexOf('/', at);
            end = end < 0 ? path.Length : end;
            var isKey = (at == 0 || path[at - 1] == '/') && end - at == keyPrefix.Length + SecretHexLength
                && !path.AsSpan(at + keyPrefix.Length, SecretHexLength).ContainsAnyExcept(HexDigits);
            if (isKey)
            {
                redacted ??= new StringBuilder(path.Length);
                redacted.Append(path, copied, at - copied).Append(path, at, PrefixLength).Append("***");
                copied = end;
            }

            var next = isKey ? end : at + 1;
            var found = path.AsSpan(next).IndexOf(keyPrefix, StringComparison.Ordinal);
            at = found < 0 ? -1 : next + found;
        }

        return redacted is null ? path : redacted.Append(path, copied, path.Length - copied).ToString();
    }

    /// <summary>SHA-256 of the key as lower-case hex.</summary>
    public static string Hash(string key)
    {
        Span<byte> hash = stackalloc byte[32];
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        SHA256.HashData(utf8[..length], hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>SHA-256 of the key as a value (no allocation), for in-memory lookups.</summary>
    public static KeyHash HashValue(ReadOnlySpan<char> key)
    {
        Span<byte> hash = stackalloc byte[32];
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        SHA256.HashData(utf8[..length], hash);
        return new KeyHash(hash);
    }

    /// <summary>Compares two hashes in constant time.</summary>
    public static bool HashesEqual(string a, string b) =>
        a.Length == b.Length && CryptographicOperations.FixedTimeEquals(
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.AsSpan()));
}

/// <summary>A SHA-256 digest held in four words: cheap to hash and compare as a dictionary key.</summary>
public readonly struct KeyHash : IEquatable<KeyHash>
{
    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    public KeyHash(ReadOnlySpan<byte> digest)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(digest);
        (_a, _b, _c, _d) = (words[0], words[1], words[2], words[3]);
    }

    /// <summary>Lower-case hex, as stored.</summary>
    public string ToHex()
    {
        Span<ulong> words = [_a, _b, _c, _d];
        return Convert.ToHexStringLower(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words));
    }

    public bool Equals(KeyHash other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is KeyHash other && Equals(other);

    public override int GetHashCode() => (int)_a ^ (int)(_a >> 32);

    public static bool operator ==(KeyHash left, KeyHash right) => left.Equals(right);

    public static bool operator !=(KeyHash left, KeyHash right) => !left.Equals(right);
}
