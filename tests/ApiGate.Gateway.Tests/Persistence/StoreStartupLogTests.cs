using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>Issue 10 item 8: <c>serve</c> logs which store it opened, so a wrong path shows at start.</summary>
public sealed class StoreStartupLogTests : GatewayTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        options.LogLevel = "info";
        options.LogWriter = _log.Writer;
    }

    private protected override Task SetUpAsync() => Task.CompletedTask;

    [Fact]
    public async Task Start_NewStoreFile_LogsThatItCreatedTheStoreAtItsFullPath()
    {
        var expected = $"Created a new store at {Gateway.DatabasePath}";

        for (var i = 0; i < 200 && !_log.Text.Contains(expected, StringComparison.Ordinal); i++)
        {
            await Task.Delay(25); // the log is written in batches
        }

        Assert.Contains(expected, _log.Text);
    }
}
