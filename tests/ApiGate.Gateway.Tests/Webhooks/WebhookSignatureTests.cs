using ApiGate.Core.Webhooks;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>The gateway's signatures verify with the Standard Webhooks library, and only for the exact id, time and body.</summary>
public sealed class WebhookSignatureTests
{
    [Fact]
    public void Sign_NewSecret_VerifiedByTheStandardWebhooksLibrary()
    {
        // Arrange
        var secret = WebhookSignature.NewSecret();
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        const string body = """{"type":"test","timestamp":"2026-11-30T06:00:00.000Z","data":{"message":"ü"}}""";

        // Act
        var signature = WebhookSignature.Sign(secret, "msg_1", timestamp, body);

        // Assert
        new StandardWebhook(secret).Verify(body, Headers("msg_1", timestamp, signature));
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(secret).Verify(body + " ", Headers("msg_1", timestamp, signature)));
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(secret).Verify(body, Headers("msg_2", timestamp, signature)));
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(WebhookSignature.NewSecret()).Verify(body, Headers("msg_1", timestamp, signature)));
    }

    private static HeaderDictionary Headers(string id, long timestamp, string signature) => new()
    {
        ["webhook-id"] = id,
        ["webhook-timestamp"] = timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["webhook-signature"] = signature,
    };
}
