using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Pipeline;

/// <summary>
/// <see cref="GatewayHost.PrepareProcess"/>: the socket setting a serving process runs with, which the runtime reads at
/// the process's first socket — inline completions on SQLite (a port probe before it cost every request ~8 µs of CPU,
/// docs/performance.md), never on PostgreSQL (its driver waits synchronously in places of its own: a cancel request),
/// an operator's own choice kept, and applied by serve and demo before their first socket.
/// </summary>
public sealed class ProcessSettingsTests
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    [Fact]
    public void PrepareProcess_Sqlite_InlineCompletionsOn_Postgres_LeftOff_SetExplicitly_Kept()
    {
        var before = Environment.GetEnvironmentVariable(Variable);
        try
        {
            Environment.SetEnvironmentVariable(Variable, null);
            GatewayHost.PrepareProcess("postgres");
            var postgres = Environment.GetEnvironmentVariable(Variable);
            GatewayHost.PrepareProcess("sqlite");
            var sqlite = Environment.GetEnvironmentVariable(Variable);
            Environment.SetEnvironmentVariable(Variable, "0");
            GatewayHost.PrepareProcess("sqlite");
            var explicitOff = Environment.GetEnvironmentVariable(Variable);

            Assert.Null(postgres);
            Assert.Equal("1", sqlite);
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

        var prepared = source.IndexOf("GatewayHost.PrepareProcess(options.DatabaseDriver);", StringComparison.Ordinal);
        Assert.True(prepared > source.IndexOf("context.LoadSettings(", StringComparison.Ordinal));
        Assert.True(prepared < source.IndexOf("CliApp.PortProblem(", StringComparison.Ordinal));
        Assert.True(prepared < source.IndexOf("context.OpenStoreAsync(", StringComparison.Ordinal));
    }
}
