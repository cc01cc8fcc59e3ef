using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Storage.Secrets;

/// <summary>
/// Encrypts stored secrets (upstream credentials, webhook signing secrets, the console's and portal's forms key) with AES-GCM when <c>APIGATE_SECRET_KEY</c> is set. Values written
/// without a key stay readable; values encrypted with a key cannot be read without it (a clear error, never garbage).
/// </summary>
public sealed class SecretProtector
{
    private const string Marker = "enc:v1:";
    private readonly byte[]? _key;

    /// <param name="secretKey">Any string; it is stretched to a 256-bit key with SHA-256. Null/empty = no encryption.</param>
    public SecretProtector(string? secretKey)
    {
        _key = string.IsNullOrEmpty(secretKey) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(secretKey));
    }

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
        if (!stored.StartsWith(Marker, StringComparison.Ordinal))
        {
            return stored;
        }

        if (_key is null)
        {
            throw new InvalidOperationException("a stored secret (upstream credential, webhook signing secret or the forms key) is encrypted: set APIGATE_SECRET_KEY to the key it was written with");
        }

        var input = Convert.FromBase64String(stored[Marker.Length..]);
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        var plain = new byte[input.Length - nonceSize - tagSize];
        using var aes = new AesGcm(_key, tagSize);
        try
        {
            aes.Decrypt(input.AsSpan(0, nonceSize), input.AsSpan(nonceSize, plain.Length), input.AsSpan(nonceSize + plain.Length), plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new InvalidOperationException("a stored secret (upstream credential, webhook signing secret or the forms key) cannot be decrypted: APIGATE_SECRET_KEY differs from the key it was written with");
        }

        return Encoding.UTF8.GetString(plain);
    }
}
