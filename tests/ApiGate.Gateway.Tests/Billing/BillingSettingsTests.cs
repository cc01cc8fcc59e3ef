using ApiGate.Gateway.Billing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>Billing settings: checked at start naming the setting, secrets never shown.</summary>
public sealed class BillingSettingsTests : CliTestBase
{
    [Fact]
    public async Task Serve_StripeWithoutSecretKey_FailsAtStartNamingTheSetting()
    {
        // Arrange
        var database = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_BILLING_PROVIDER"] = "stripe";
        Environment["APIGATE_STRIPE_WEBHOOK_SECRET"] = "whsec_configured";

        // Act
        var result = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: invalid configuration: stripe.secret_key (from the default): is required when billing.provider is stripe: set APIGATE_STRIPE_SECRET_KEY",
            result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_configured", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(database));
    }

    [Theory]
    [InlineData("APIGATE_BILLING_PROVIDER", "paddle", "billing.provider (from APIGATE_BILLING_PROVIDER): 'paddle' is not none or stripe")]
    [InlineData("APIGATE_BILLING_PAYMENT_FAILED", "ignore", "billing.payment_failed (from APIGATE_BILLING_PAYMENT_FAILED): 'ignore' is not suspend, default-plan or none")]
    [InlineData("APIGATE_STRIPE_API_BASE", "localhost:12111", "stripe.api_base (from APIGATE_STRIPE_API_BASE): 'localhost:12111' is not an absolute http(s) URL")]
    public async Task Serve_BadBillingSetting_FailsAtStartNamingIt(string variable, string value, string expected)
    {
        // Arrange
        Environment["APIGATE_DATABASE_DSN"] = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment[variable] = value;

        // Act
        var result = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: " + expected + "\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConfigShow_StripeSecrets_ShownOnlyAsSet()
    {
        // Arrange
        Environment["APIGATE_STRIPE_SECRET_KEY"] = "sk_test_must_not_appear";
        Environment["APIGATE_STRIPE_WEBHOOK_SECRET"] = "whsec_must_not_appear";

        // Act
        var result = await RunAsync("config", "show");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("must_not_appear", result.Output, StringComparison.Ordinal);
        Assert.Contains("stripe.secret_key", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 20)]
    [InlineData(4, 80)]
    [InlineData(20, 3600)]
    public void BackoffAfter_FailedAttempts_DoublesUpToTheCap(int attempts, int expectedSeconds)
    {
        var options = new OverageReporterOptions { FirstBackoff = TimeSpan.FromSeconds(10), MaxBackoff = TimeSpan.FromHours(1) };

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), options.BackoffAfter(attempts));
    }
}
