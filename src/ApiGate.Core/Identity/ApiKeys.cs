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
    /// <paramref name="path"/> with every key with this prefix in it — the prefix and 64 hex digits, a key a client put
    /// into the path, wherever it stands (<c>/ak_…</c>, <c>/ak_….json</c>, <c>/x-ak_…</c>, <c>;ak_…</c>), matched
    /// ignoring case and with any of its characters percent-encoded (<c>/ak%5F…</c>) — cut to its first
    /// <see cref="PrefixLength"/> characters (decoded), the part shown anyway, and <c>***</c>. Hex runs without the prefix
    /// (content hashes) stay. An admin token (<see cref="AdminTokens.TokenPrefix"/> and 64 hex digits) is cut the same
    /// way: the gateway's other secret, pasted into a proxied path, is no more the upstream's business than a key. A path
    /// with neither prefix nor a <c>%</c> in it is returned itself, nothing allocated, as it runs for every request: one
    /// vectorised scan when it has no <c>_</c> either (and the key prefix ends in one, as by default), else a few.
    /// </summary>
    public static string RedactedPath(string path, string keyPrefix) =>
        // Both prefixes end in '_' (the key's by default): a path with neither '_' nor '%' holds neither secret, told by
        // one vectorised scan — most paths.
        keyPrefix.EndsWith('_') && path.AsSpan().IndexOfAny('_', '%') < 0 ? path : Redacted(Redacted(path, keyPrefix), AdminTokens.TokenPrefix);

    private static string Redacted(string path, string keyPrefix)
    {
        if (keyPrefix.Length == 0)
        {
            return path;
        }

        // A key with a character sent percent-encoded has no plain prefix to find: such a path is walked character by
        // character, decoding as it goes.
        var encoded = path.Contains('%');
        var at = encoded ? 0 : IndexOfPrefix(path, 0, keyPrefix);
        Span<char> shown = stackalloc char[PrefixLength];
        StringBuilder? redacted = null;
        var copied = 0;
        while (at >= 0 && at < path.Length)
        {
            var end = KeyEndAt(path, at, keyPrefix, shown);
            if (end > 0)
            {
                redacted ??= new StringBuilder(path.Length);
                redacted.Append(path, copied, at - copied).Append(shown).Append("***");
                copied = end;
            }

            var next = end > 0 ? end : encoded ? Decode(path, at).Next : at + 1;
            at = encoded ? next : IndexOfPrefix(path, next, keyPrefix);
        }

        return redacted is null ? path : redacted.Append(path, copied, path.Length - copied).ToString();
    }

    private static int IndexOfPrefix(string path, int from, string keyPrefix)
    {
        var found = path.AsSpan(from).IndexOf(keyPrefix, StringComparison.OrdinalIgnoreCase);
        return found < 0 ? -1 : from + found;
    }

    /// <summary>
    /// Hex digits in a row that are taken for a credential's secret part (an API key's, of any prefix, or an admin
    /// token's); ids and ETags have fewer.
    /// </summary>
    public const int SecretRunLength = 32;

    /// <summary>True when <paramref name="text"/> has <see cref="SecretRunLength"/> or more hex digits in a row.</summary>
    public static bool HasSecretRun(ReadOnlySpan<char> text)
    {
        var run = 0;
        foreach (var c in text)
        {
            run = char.IsAsciiHexDigit(c) ? run + 1 : 0;
            if (run >= SecretRunLength)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The start of a webhook signing secret (<c>Webhooks.WebhookSignature.SecretPrefix</c>, spelt here: the webhooks
    /// use this folder, so it cannot use theirs).
    /// </summary>
    public const string WebhookSecretPrefix = "whsec_";

    /// <summary>
    /// An error message with the secrets a caller put where an id, email or name belongs (<c>no key with id 'ak_…'</c>)
    /// cut out: every word shaped as a credential — a prefix ending in <c>_</c> or <c>-</c> (<c>ak_</c>, <c>agt_</c>, a
    /// configured key prefix such as <c>sk-live-</c>), then a <see cref="HasSecretRun">secret run</see> — to its first <see cref="PrefixLength"/> characters, the part shown anyway,
    /// and <c>***</c>; a webhook signing secret (<c>whsec_</c> and base64) to <c>whsec_***</c>. A word is a run of
    /// letters, digits, <c>_</c> and <c>-</c>. Hex without such a prefix stays: a store path with a GUID or a volume's
    /// hash as a directory name must be named whole. A message with neither is returned itself.
    /// </summary>
    public static string RedactedMessage(string message)
    {
        var webhookSecret = message.Contains(WebhookSecretPrefix, StringComparison.OrdinalIgnoreCase);
        if (!webhookSecret && !HasSecretRun(message))
        {
            return message;
        }

        var redacted = new StringBuilder(message.Length);
        var at = 0;
        while (at < message.Length)
        {
            var end = at;
            while (end < message.Length && IsWordChar(message[end]))
            {
                end++;
            }

            if (end == at)
            {
                redacted.Append(message[at++]);
                continue;
            }

            var word = message.AsSpan(at, end - at);
            if (webhookSecret && word.StartsWith(WebhookSecretPrefix, StringComparison.OrdinalIgnoreCase))
            {
                // Base64 goes on past a word's end ('+', '/', '=').
                while (end < message.Length && (IsWordChar(message[end]) || message[end] is '+' or '/' or '='))
                {
                    end++;
                }

                redacted.Append(word[..WebhookSecretPrefix.Length]).Append("***");
            }
            else if (word.IndexOfAny('_', '-') is > 0 and var separator && HasSecretRun(word[(separator + 1)..]))
            {
                redacted.Append(word[..Math.Min(PrefixLength, word.Length)]).Append("***");
            }
            else
            {
                redacted.Append(word);
            }

            at = end;
        }

        return redacted.ToString();
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    /// <summary>
    /// Where the key that starts at <paramref name="at"/> ends in <paramref name="path"/>, its first
    /// <see cref="PrefixLength"/> characters decoded into <paramref name="shown"/>; 0 when no key starts there.
    /// </summary>
    private static int KeyEndAt(string path, int at, string keyPrefix, Span<char> shown)
    {
        var i = at;
        for (var n = 0; n < keyPrefix.Length + SecretHexLength; n++)
        {
            if (i >= path.Length)
            {
                return 0;
            }

            (var c, i) = Decode(path, i);
            var matches = n < keyPrefix.Length
                ? c == keyPrefix[n] || (char.IsAsciiLetter(c) && (c | 0x20) == (keyPrefix[n] | 0x20))
                : char.IsAsciiHexDigit(c);
            if (!matches)
            {
                return 0;
            }

            if (n < shown.Length)
            {
                shown[n] = c;
            }
        }

        return i;
    }

    /// <summary>The character at <paramref name="i"/>, a <c>%</c> and two hex digits read as the byte they encode.</summary>
    private static (char Char, int Next) Decode(string path, int i) =>
        path[i] == '%' && i + 2 < path.Length
        && byte.TryParse(path.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var b)
            ? ((char)b, i + 3)
            : (path[i], i + 1);

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
