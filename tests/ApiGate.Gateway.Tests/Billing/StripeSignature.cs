using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>Signs a webhook body the way Stripe does: <c>Stripe-Signature: t=TIMESTAMP,v1=hex(HMAC-SHA256(secret, "TIMESTAMP.BODY"))</c>.</summary>
internal static class StripeSignature
{
    public static string Sign(string payload, string secret, long timestamp) => Sign(payload, secret, timestamp.ToString(CultureInfo.InvariantCulture));

    /// <summary>Signs with <paramref name="t"/> as written, whatever it is (a header Stripe would never send).</summary>
    public static string Sign(string payload, string secret, string t)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(t + "." + payload));
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }
}
