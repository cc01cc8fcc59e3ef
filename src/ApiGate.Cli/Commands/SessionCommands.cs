using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Identity;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate sessions end [--console] [--portal]</c>: signs everybody out of the admin console and/or the portal, on
/// every instance sharing the store (sessions live there), e.g. after a session cookie may have leaked.
/// </summary>
internal static class SessionCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("sessions", "Signed-in browsers of the admin console and the portal");
        var console = new Option<bool>("--console") { Description = "Only the admin console's sessions" };
        var portal = new Option<bool>("--portal") { Description = "Only the portal's sessions" };
        var end = new Command("end", "Sign everybody out (both applications unless one is named); takes effect on every instance at the next page") { console, portal };
        CliApp.SetServiceHandler(end, context, async (parse, store, ct) =>
        {
            var (onlyConsole, onlyPortal) = (parse.GetValue(console), parse.GetValue(portal));
            var both = onlyConsole == onlyPortal;
            var ended = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (kind, name, chosen) in new[] { (WebSessionKind.Admin, "console", onlyConsole), (WebSessionKind.Portal, "portal", onlyPortal) })
            {
                if (both || chosen)
                {
                    // Every session was last used before the end of time: this ends them all.
                    ended[name] = await store.DeleteWebSessionsIdleSinceAsync(kind, DateTimeOffset.MaxValue, ct);
                }
            }

            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { ended });
                return 0;
            }

            context.Output.WriteLine("ended " + string.Join(" and ", ended.Select(e => $"{e.Value} {e.Key} session{(e.Value == 1 ? "" : "s")}")));
            return 0;
        });

        command.Subcommands.Add(end);
        return command;
    }
}
