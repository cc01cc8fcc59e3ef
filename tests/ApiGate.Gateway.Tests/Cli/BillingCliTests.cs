using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate billing …</c> against a real store in a temp directory.</summary>
public sealed class BillingCliTests : CliTestBase
{
    [Theory]
    [InlineData("nope", "--sent")]
    [InlineData("apigate_overage_missing", "--resend")]
    public async Task Resolve_UnknownId_ExitsThreeNamingTheIdInTheSentenceAsOtherCommandsDo(string id, string decision)
    {
        // Act
        var result = await RunAsync("billing", "resolve", id, decision);

        // Assert
        Assert.Equal(3, result.ExitCode);
        Assert.Equal($"error: no held overage row with id '{id}' (see 'apigate billing status')" + System.Environment.NewLine, result.Diagnostics);
    }
}
