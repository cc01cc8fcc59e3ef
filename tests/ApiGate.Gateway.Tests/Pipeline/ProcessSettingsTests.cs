using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Pipeline;

/// <summary>
/// <see cref="GatewayHost.PrepareProcess"/>: the socket setting a serving process runs with, which the runtime reads at
/// the process's first socket — inline completions (a port probe before it cost every request ~8 µs of CPU,
/// docs/performance.md; that no store read then stops the process is <c>PostgresSlowRepliesTests</c>), an operator's
/// own choice kept, and applied by serve and demo before their first socket.
/// </summary>
public sealed class ProcessSettingsTests
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    [Fact]
    public void PrepareProcess_InlineCompletionsOn_SetExplicitly_Kept()
    {
        var before = Environment.GetEnvironmentVariable(Variable);
        try
        {
            Environment.SetEnvironmentVariable(Variable, null);
            GatewayHost.PrepareProcess();
            var unset = Environment.GetEnvironmentVariable(Variable);
            Environment.SetEnvironmentVariable(Variable, "0");
            GatewayHost.PrepareProcess();
            var explicitOff = Environment.GetEnvironmentVariable(Variable);

            Assert.Equal("1", unset);
            Assert.Equal("0", explicitOff); // an operator's own choice stays
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, before ?? "1");
        }
    }

    [Theory]
    [InlineData("ServeCommand.cs")]
    [InlineData("DemoCommand.cs")]
    public void ServeAndDemo_PrepareTheProcessBeforeTheirFirstSocket(string file)
    {
        // The order is the point: the port probe or the store opened before it would make the setting come too late.
        var source = File.ReadAllText(Path.Combine(RepositoryRoot.Find() ?? throw new InvalidOperationException("not run from a checkout"),
            "src", "ApiGate.Cli", "Commands", file));

        var prepared = source.IndexOf("GatewayHost.PrepareProcess();", StringComparison.Ordinal);
        Assert.True(prepared > source.IndexOf("context.LoadSettings(", StringComparison.Ordinal));
        Assert.True(prepared < source.IndexOf("CliApp.PortProblem(", StringComparison.Ordinal));
        Assert.True(prepared < source.IndexOf("context.OpenStoreAsync(", StringComparison.Ordinal));
    }
}
