using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Pipeline;

/// <summary>
/// <see cref="GatewayHost.PrepareProcess"/>: the socket setting the server runs with, which the runtime reads at the
/// process's first socket (so the CLI applies it before opening a PostgreSQL store or probing a port; a port probe
/// before it cost every request ~8 µs of CPU, docs/performance.md).
/// </summary>
public sealed class ProcessSettingsTests
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    [Fact]
    public void PrepareProcess_NotSet_InlineCompletionsOn_SetExplicitly_Kept()
    {
        var before = Environment.GetEnvironmentVariable(Variable);
        try
        {
            Environment.SetEnvironmentVariable(Variable, null);
            GatewayHost.PrepareProcess();
            var defaulted = Environment.GetEnvironmentVariable(Variable);
            Environment.SetEnvironmentVariable(Variable, "0");
            GatewayHost.PrepareProcess();
            var explicitOff = Environment.GetEnvironmentVariable(Variable);

            Assert.Equal("1", defaulted);
            Assert.Equal("0", explicitOff); // an operator's own choice stays
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, before ?? "1");
        }
    }

    [Fact]
    public void CliEntryPoint_PreparesTheProcessBeforeAnythingElse()
    {
        // The order is the point: a statement before it that opens a socket would make the setting come too late.
        var program = File.ReadAllLines(Path.Combine(RepositoryRoot.Find() ?? throw new InvalidOperationException("not run from a checkout"), "src", "ApiGate.Cli", "Program.cs"))
            .Where(l => l.Length > 0 && !l.StartsWith("using ", StringComparison.Ordinal) && !l.TrimStart().StartsWith("//", StringComparison.Ordinal))
            .ToList();

        Assert.Equal("GatewayHost.PrepareProcess();", program[0].Trim());
    }
}
