using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Storage.Secrets;

/// <summary>
/// Encrypts stored secrets (upstream credentials, webhook signing secrets, the console's and portal's forms key) with AES-GCM when <c>APIGATE_SECRET_KEY</c> is set. Values written
/// without a key stay readable; values encrypted with a key cannot be read without it (a clear error, never garbage).
/// While a key is being rotated, values are read with the current key or <c>APIGATE_SECRET_KEY_PREVIOUS</c> and always
/// written with the current one (<see cref="Rekey"/> moves what is stored, docs/scaling.md).
/// </summary>
public sealed class SecretProtector
{
    private const string Marker = "enc:v1:";
    private readonly byte[]? _key;
    private readonly byte[]? _previous;

    /// <param name="secretKey">Any string; it is stretched to a 256-bit key with SHA-256. Null/empty = no encryption.</param>
    /// <param name="previousKey">The key values may still be encrypted with (read only); null/empty = none.</param>
    public SecretProtector(string? secretKey, string? previousKey = null)
    {
        _key = KeyOf(secretKey);
        _previous = KeyOf(previousKey);
    }

    /// <summary>True when values are encrypted (<c>APIGATE_SECRET_KEY</c> is set).</summary>
    public bool Encrypts => _key is not null;

    /// <summary>
    /// Whether <paramref name="stored"/> (not empty) is written the way <see cref="Protect"/> writes now: true when it is
    /// encrypted with the current key, or when no key is set; false for plaintext under a key, a value written with the
    /// previous key, or one that cannot be read at all.
    /// </summary>
    public bool IsCurrent(string stored)
    {
        if (_key is null)
        {
            return true;
        }

        try
        {
            return IsEncrypted(stored) && Decrypt(_key, Convert.FromBase64String(stored[Marker.Length..])) is not null;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>True when <paramref name="stored"/> is an encrypted value (with whichever key), false for plaintext.</summary>
    public static bool IsEncrypted(string stored) => stored.StartsWith(Marker, StringComparison.Ordinal);

    public string Protect(string plaintext)
    {
        if (_key is null || plaintext.Length == 0)
        {
            return plaintext;
        }

        var data = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[AesGcm.NonceByteSizes.MaxSize + data.Length + AesGcm.TagByteSizes.MaxSize];
        var nonce = output.AsSpan(0, AesGcm.NonceByteSizes.MaxSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, AesGcm.TagByteSizes.MaxSize);
        aes.Encrypt(nonce, data, output.AsSpan(nonce.Length, data.Length), output.AsSpan(nonce.Length + data.Length));
        return Marker + Convert.ToBase64String(output);
    }

    public string Unprotect(string stored)
    {
        if (!IsEncrypted(stored))
        {
            return stored;
        }

        if (_key is null)
        {
            throw new SecretUnreadableException("a stored secret (upstream credential, webhook signing secret or the forms key) is encrypted: set APIGATE_SECRET_KEY to the key it was written with");
        }

        var input = Convert.FromBase64String(stored[Marker.Length..]);
        return Decrypt(_key, input) ?? (_previous is null ? null : Decrypt(_previous, input)) ?? throw new SecretUnreadableException(_previous is null
            ? "a stored secret (upstream credential, webhook signing secret or the forms key) cannot be decrypted: APIGATE_SECRET_KEY differs from the key it was written with"
            : "a stored secret (upstream credential, webhook signing secret or the forms key) cannot be decrypted: it was written with neither APIGATE_SECRET_KEY nor APIGATE_SECRET_KEY_PREVIOUS");
    }

    /// <summary>
    /// <paramref name="stored"/> as it should be stored now: null when it already is (empty, or encrypted with the
    /// current key), else encrypted with the current key (it was plaintext, or written with the previous key). A value
    /// neither key decrypts throws <see cref="InvalidOperationException"/>; requires <see cref="Encrypts"/>.
    /// </summary>
    public string? Rekey(string stored)
    {
        if (_key is null)
        {
            throw new InvalidOperationException("APIGATE_SECRET_KEY is not set");
        }

        // Plaintext reads as itself; a value neither key decrypts throws from Unprotect.
        return stored.Length == 0 || IsCurrent(stored) ? null : Protect(Unprotect(stored));
    }

    /// <summary>The text <paramref name="input"/> (nonce|ciphertext|tag) holds under <paramref name="key"/>, or null when it was written with another key.</summary>
    private static string? Decrypt(byte[] key, byte[] input)
    {
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        if (input.Length < nonceSize + tagSize)
        {
            throw new FormatException("a stored secret is damaged: it is shorter than an encrypted value can be");
        }

        var plain = new byte[input.Length - nonceSize - tagSize];
        using var aes = new AesGcm(key, tagSize);
        try
        {
            aes.Decrypt(input.AsSpan(0, nonceSize), input.AsSpan(nonceSize, plain.Length), input.AsSpan(nonceSize + plain.Length), plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        return Encoding.UTF8.GetString(plain);
    }

    private static byte[]? KeyOf(string? secretKey) => string.IsNullOrEmpty(secretKey) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(secretKey));
}

/// <summary>A stored secret that this process's keys cannot decrypt (written with another <c>APIGATE_SECRET_KEY</c>, or encrypted while none is set).</summary>
public sealed class SecretUnreadableException(string message) : InvalidOperationException(message);
