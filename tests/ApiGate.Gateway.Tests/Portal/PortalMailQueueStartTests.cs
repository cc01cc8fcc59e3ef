using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>What the portal's mail queue says at start about a portal that cannot send the email its sign-up needs.</summary>
public sealed class PortalMailQueueStartTests
{
    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 0)]
    public async Task Start_NoSmtpServer_WarnsOnlyWhenVerificationMakesSignUpUnavailable(bool requireVerification, int warnings)
    {
        // Arrange: a portal without an SMTP server
        var options = PortalOptions.From(new GatewayOptions { PortalEnabled = true, PortalRequireVerification = requireVerification });
        var logger = new RecordingLogger<PortalMailQueue>();
        using var queue = new PortalMailQueue(options, new AttemptCounter(null!, TimeProvider.System), logger);

        // Act
        await queue.StartAsync(CancellationToken.None);
        await queue.ExecuteTask!; // without an SMTP server there is nothing to send: it ends at once

        // Assert
        Assert.False(options.SignUpAvailable && requireVerification);
        Assert.Equal(warnings, logger.Count(8006));
    }
}
