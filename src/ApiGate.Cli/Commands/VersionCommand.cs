using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Gateway.Reserved;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate version</c>.</summary>
internal static class VersionCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("version", "Print the version");
        CliApp.SetHandler(command, context, (parse, _) =>
        {
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { version = ReservedEndpoints.Version, runtime = Environment.Version.ToString() });
            }
            else
            {
                context.Output.WriteLine($"apigate {ReservedEndpoints.Version} (.NET {Environment.Version})");
            }

            return Task.FromResult(0);
        });
        return command;
    }
}
