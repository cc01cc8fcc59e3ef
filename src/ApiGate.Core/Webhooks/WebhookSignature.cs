using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Core.Webhooks;

/// <summary>
/// The Standard Webhooks signing scheme: HMAC-SHA256, keyed with the secret's bytes (<c>whsec_</c> + base64), over
/// <c>{webhook-id}.{webhook-timestamp}.{body}</c>, sent as <c>webhook-signature: v1,{base64}</c>.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The prefix of a signing secret.</summary>
    public const string SecretPrefix = "whsec_";

    /// <summary>A new random secret: 32 bytes, base64, prefixed.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The <c>webhook-signature</c> header value for one attempt.</summary>
    /// <param name="secret">A secret as <see cref="NewSecret"/> makes it.</param>
    /// <param name="id">The <c>webhook-id</c> (the event id).</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> (Unix seconds of the attempt).</param>
    /// <param name="body">The exact body sent.</param>
    public static string Sign(string secret, string id, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);
        var content = Encoding.UTF8.GetBytes(string.Concat(id, ".", timestamp.ToString(CultureInfo.InvariantCulture), ".", body));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }
}
