using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.Data.Sqlite;

namespace ApiGate.Cli.Commands;

/// <summary>The <c>apigate</c> command tree. One binary serves and manages; management verbs work on the store directly.</summary>
internal static partial class CliApp
{
    /// <summary>Global <c>--config</c>: the YAML config file (default: <c>apigate.yaml</c> if present).</summary>
    public static readonly Option<string?> ConfigOption = new("--config") { Description = "Config file (default: ./apigate.yaml if present)", Recursive = true };

    /// <summary>Global <c>--json</c>: machine-readable output.</summary>
    public static readonly Option<bool> JsonOption = new("--json") { Description = "Print JSON instead of tables", Recursive = true };

    /// <summary>Global <c>--database</c>: the SQLite file (overrides APIGATE_DATABASE_DSN).</summary>
    public static readonly Option<string?> DatabaseOption = new("--database") { Description = "Database DSN: a SQLite file path (~/ is the home directory), or for APIGATE_DATABASE_DRIVER=postgres a connection string or postgres:// URL", Recursive = true };

    /// <summary>Runs the command line.</summary>
    /// <param name="environmentNames">The names of the environment's variables, so unknown <c>APIGATE_*</c> names can be warned about; null = not checked.</param>
    /// <param name="copyLockTimeout">
    /// How long <c>store copy</c> waits for a PostgreSQL target's locks held elsewhere; null = the store's default (10 s).
    /// Not a flag: tests of the refusal set it shorter.
    /// </param>
    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken = default,
        IEnumerable<string>? environmentNames = null, TimeSpan? copyLockTimeout = null)
    {
        var context = new CliContext(output, error, environment, environmentNames) { CopyLockTimeout = copyLockTimeout };
        var root = new RootCommand("APIGate: an API gateway with keys, limits, routing and metering.");
        root.Options.Add(ConfigOption);
        root.Options.Add(JsonOption);
        root.Options.Add(DatabaseOption);
        root.Subcommands.Add(ServeCommand.Create(context));
        root.Subcommands.Add(DemoCommand.Create(context));
        root.Subcommands.Add(UpstreamCommands.Create(context));
        root.Subcommands.Add(RouteCommands.Create(context));
        root.Subcommands.Add(UserCommands.Create(context));
        root.Subcommands.Add(PlanCommands.Create(context));
        root.Subcommands.Add(KeyCommands.Create(context));
        root.Subcommands.Add(EntitlementCommands.Create(context));
        root.Subcommands.Add(PlanEntitlementCommands.Create(context));
        root.Subcommands.Add(UsageCommands.Create(context));
        root.Subcommands.Add(ConfigCommands.Create(context));
        root.Subcommands.Add(AdminCommands.Create(context));
        root.Subcommands.Add(SessionCommands.Create(context));
        root.Subcommands.Add(VersionCommand.Create(context));
        root.Subcommands.Add(MigrateCommand.Create(context));
        root.Subcommands.Add(StoreCommands.Create(context));
        root.Subcommands.Add(WebhookCommands.Create(context));
        root.Subcommands.Add(BillingCommands.Create(context));

        // No response files: `--auth-value @secret.txt` and `--response-transform @file.json` are read by the
        // commands themselves (ValueOrFile); the parser must hand `@file` over unchanged.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            // The description quotes what was typed: escaped, so a token with a line break or an escape sequence stays
            // visible and cannot drive the terminal.
            await error.WriteLineAsync($"error: {Output.TableWriter.Escape(DescribeParseError(parse))}; see '{CommandPath(parse.CommandResult)} --help'");
            return 2;
        }

        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            // `serve` stops through the web host's own SIGINT/SIGTERM handling, which drains requests first.
            ProcessTerminationTimeout = null,
        };
        return await parse.InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>One line for what the parser refused: the first unknown token, else its first error.</summary>
    private static string DescribeParseError(ParseResult parse)
    {
        if (parse.UnmatchedTokens.Count > 0)
        {
            var token = parse.UnmatchedTokens[0];
            if (!token.StartsWith('-') && FlagBefore(parse, token) is { } flag)
            {
                // `--enabled maybe`: a flag takes an optional true/false, so the parser left the value over.
                return $"{flag}: '{token}' is not true or false";
            }

            if (AfterDoubleDash(parse, token) is { } valueless)
            {
                // `--name -- --url x`: past `--` every word is a value, so '--url' is no option, and not --name's value either.
                return valueless.Length > 0
                    ? $"{valueless}: no value given; '--' ends the options, so '{token}' after it is not read as its value (write {valueless}={token})"
                    : $"unexpected argument '{token}' after '--' (it ends the options: what follows is a value, and this command takes none there)";
            }

            if (token.StartsWith('-'))
            {
                return $"unknown option {token}";
            }

            if (parse.CommandResult.Command is { Subcommands.Count: > 0, Arguments.Count: 0 } parent)
            {
                // `apigate nosuch`: where a command was expected. Naming the ones there are beats "unexpected argument".
                return $"unknown command '{token}' (commands: {string.Join(", ", parent.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))})";
            }

            return $"unexpected argument '{token}'";
        }

        var message = parse.Errors[0].Message.Trim();
        message = message.EndsWith('.') ? message[..^1] : message;
        // The parser names .NET types ("as expected type 'System.Nullable`1[System.Int32]'"); say what was expected.
        var typed = UnparsableValue().Match(message);
        if (typed.Success)
        {
            var type = typed.Groups["type"].Value;
            var expected = type.Contains("Int", StringComparison.Ordinal) ? "a whole number"
                : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Decimal", StringComparison.Ordinal) ? "a number"
                : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
                : "a valid value";
            var value = typed.Groups["value"].Value;
            var digits = value.TrimStart('-', '+');
            var option = typed.Groups["option"].Value;
            var unit = InCents(parse, option) ? " cents" : "";
            return expected == "a whole number" && digits.Length > 0 && digits.All(char.IsAsciiDigit) && WholeNumberRange(type) is var (min, max)
                ? $"{option}: '{value}' is out of range ({(value.StartsWith('-') ? "at least " + min : "at most " + max)}{unit})"
                : $"{option}: '{value}' is not {expected}{(unit.Length > 0 ? " of cents" : "")}";
        }

        return message;
    }

    /// <summary>Whether the command's option spelt <paramref name="typed"/> takes an amount of money (its help says "in cents").</summary>
    private static bool InCents(ParseResult parse, string typed) =>
        parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == typed || o.Aliases.Contains(typed)) is { Description: { } description }
        && description.Contains(" in cents", StringComparison.Ordinal);

    /// <summary>How the user wrote <paramref name="option"/> (one of its aliases), or its name when it was not given.</summary>
    public static string Typed(ParseResult parse, Option option) =>
        parse.GetResult(option)?.IdentifierToken?.Value is { Length: > 0 } typed ? typed : option.Name;

    /// <summary>The smallest and largest values of the whole-number type the parser named (<c>System.Nullable`1[System.Int32]</c>).</summary>
    private static (string Min, string Max)? WholeNumberRange(string type) =>
        type.Contains("Int64", StringComparison.Ordinal) ? (long.MinValue.ToString(CultureInfo.InvariantCulture), long.MaxValue.ToString(CultureInfo.InvariantCulture))
        : type.Contains("Int32", StringComparison.Ordinal) ? (int.MinValue.ToString(CultureInfo.InvariantCulture), int.MaxValue.ToString(CultureInfo.InvariantCulture))
        : null;

    /// <summary>
    /// For a token the parser left over that follows <c>--</c>: the option written just before the <c>--</c> when it
    /// got no value (so the user meant the token as its value), else empty; null when the token is not after <c>--</c>.
    /// </summary>
    private static string? AfterDoubleDash(ParseResult parse, string token)
    {
        var tokens = parse.Tokens;
        var dash = -1;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i].Type == TokenType.DoubleDash)
            {
                dash = i;
            }
            else if (dash >= 0 && tokens[i].Value == token)
            {
                return dash > 0 && tokens[dash - 1].Type == TokenType.Option && parse.GetResult(tokens[dash - 1].Value) is OptionResult { Tokens.Count: 0 } valueless
                    && valueless.Option.Arity.MinimumNumberOfValues > 0
                    ? tokens[dash - 1].Value
                    : "";
            }
        }

        return null;
    }

    /// <summary>The true/false option written just before <paramref name="token"/> on the command line, if any.</summary>
    private static string? FlagBefore(ParseResult parse, string token)
    {
        var tokens = parse.Tokens;
        for (var i = 1; i < tokens.Count; i++)
        {
            if (tokens[i].Value == token && tokens[i - 1].Type == TokenType.Option)
            {
                var name = tokens[i - 1].Value;
                var option = parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
                return option?.ValueType == typeof(bool) || option?.ValueType == typeof(bool?) ? name : null;
            }
        }

        return null;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Cannot parse argument '(?<value>.*)' for (?:option|argument) '(?<option>[^']*)' as expected type '(?<type>[^']*)'$")]
    private static partial System.Text.RegularExpressions.Regex UnparsableValue();

    /// <summary><c>apigate routes create</c>: the command the user was typing, for the help hint.</summary>
    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? current = result; current is not null; current = current.Parent)
        {
            if (current is CommandResult command && command.Command is not RootCommand)
            {
                names.Add(command.Command.Name);
            }
        }

        names.Add("apigate");
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>Wraps a command body: resolves settings and maps expected failures to messages and exit codes.</summary>
    public static void SetHandler(Command command, CliContext context, Func<ParseResult, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            context.Parse = parseResult;
            try
            {
                return await body(parseResult, cancellationToken);
            }
            // Messages may quote what was given or stored (a setting's value, a file name): escaped, so an error stays one
            // line and cannot drive the terminal.
            catch (ArgumentException ex)
            {
                await context.Error.WriteLineAsync("error: " + Output.TableWriter.Escape(ex.Message));
                return 2;
            }
            catch (StoreConflictException ex)
            {
                // A conflict the store found (a target that already holds data, a row changed meanwhile): exit 4, as
                // the management verbs' conflicts.
                await context.Error.WriteLineAsync("error: " + Output.TableWriter.Escape((ex.Field.Length > 0 ? ex.Field + ": " : "") + ex.Message));
                return 4;
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or IOException or InvalidDataException)
            {
                await context.Error.WriteLineAsync("error: " + Output.TableWriter.Escape(ex.Message));
                return 1;
            }
        });
    }

    /// <summary>Like <see cref="SetHandler"/> for management verbs: opens the store for the body (which makes the service it needs from it).</summary>
    public static void SetServiceHandler(Command command, CliContext context, Func<ParseResult, IGatewayStore, CancellationToken, Task<int>> body) =>
        SetHandler(command, context, async (parse, ct) =>
        {
            await using var store = await OpenStoreAsync(context, parse, ct);
            return await body(parse, store, ct);
        });

    /// <summary>
    /// Like <see cref="SetServiceHandler"/> for an <c>update</c>: refused (exit 2) before the store is opened when none of
    /// the command's flags is given. It would change nothing, so a forgotten flag, or a value typed without its flag,
    /// would pass for a successful update. (The admin API's <c>PATCH</c> with <c>{}</c> stays a write of nothing: a
    /// reconciler sends its desired state whatever it is; docs/admin-api.md.)
    /// </summary>
    public static void SetUpdateHandler(Command command, CliContext context, Func<ParseResult, IGatewayStore, CancellationToken, Task<int>> body) =>
        SetHandler(command, context, async (parse, ct) =>
        {
            if (NothingToChange(parse) is { } nothing)
            {
                return context.Fail(nothing);
            }

            await using var store = await OpenStoreAsync(context, parse, ct);
            return await body(parse, store, ct);
        });

    /// <summary>
    /// The refusal of a command given none of its own flags (the global ones change nothing), else null. It points to
    /// the command's help rather than listing the flags: a route has 25.
    /// </summary>
    private static ManagementError? NothingToChange(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (command.Options.Any(flag => parse.GetResult(flag) is { Implicit: false }))
        {
            return null;
        }

        var noun = parse.CommandResult.Parent is CommandResult { Command: var parent } ? parent.Name + " " : "";
        return new ManagementError(ManagementErrorKind.Validation, "", $"nothing to change: give one or more of its flags (see 'apigate {noun}{command.Name} --help')");
    }

    /// <summary>
    /// Prints the outcome of a delete: the error, or what was deleted (with <c>--json</c>, the record as JSON, with the
    /// members of <paramref name="alsoDeleted"/> added when given: what went with it).
    /// </summary>
    public static int PrintDeleted<T>(
        CliContext context, ParseResult parse, ManagementResult<T> result, string kind, Func<T, string> describe, IReadOnlyList<(string Name, int Count)>? alsoDeleted = null)
    {
        if (!result.Ok)
        {
            return context.Fail(result.Error!);
        }

        if (parse.GetValue(JsonOption))
        {
            if (alsoDeleted is null)
            {
                Output.JsonOutput.Write(context.Output, result.Value!);
                return 0;
            }

            var record = System.Text.Json.JsonSerializer.SerializeToNode(result.Value!, WireJson.Options)!.AsObject();
            foreach (var (name, count) in alsoDeleted)
            {
                record[name] = count;
            }

            Output.JsonOutput.Write(context.Output, record);
            return 0;
        }

        context.Output.WriteLine($"deleted {kind} {Output.TableWriter.Escape(describe(result.Value!))}");
        return 0;
    }

    /// <summary>Prints one resource: the error, its JSON (<c>--json</c>), or a field/value table.</summary>
    public static int PrintResult<T>(CliContext context, ParseResult parse, ManagementResult<T> result, Func<T, IEnumerable<(string Field, string Value)>> fields)
    {
        if (!result.Ok)
        {
            return context.Fail(result.Error!);
        }

        if (parse.GetValue(JsonOption))
        {
            Output.JsonOutput.Write(context.Output, result.Value!);
            return 0;
        }

        Output.TableWriter.WriteFields(context.Output, fields(result.Value!));
        return 0;
    }

    /// <summary><see cref="PrintResult{T}"/> for tables that need more from the store (names of referenced records).</summary>
    public static async Task<int> PrintResultAsync<T>(
        CliContext context, ParseResult parse, ManagementResult<T> result, Func<T, Task<IEnumerable<(string Field, string Value)>>> fields)
    {
        if (!result.Ok || parse.GetValue(JsonOption))
        {
            return PrintResult(context, parse, result, _ => []);
        }

        Output.TableWriter.WriteFields(context.Output, await fields(result.Value!));
        return 0;
    }

    /// <summary>Prints an outcome: the error (with its exit code), the value as JSON (<c>--json</c>), or what <paramref name="text"/> writes.</summary>
    public static int PrintJsonOr<T>(CliContext context, ParseResult parse, ManagementResult<T> result, Action<T> text)
    {
        if (!result.Ok)
        {
            return context.Fail(result.Error!);
        }

        if (parse.GetValue(JsonOption))
        {
            Output.JsonOutput.Write(context.Output, result.Value!);
        }
        else
        {
            text(result.Value!);
        }

        return 0;
    }

    /// <summary>
    /// The error for a <c>--limit</c> outside 1 to <paramref name="max"/>, or null. It names the option, as the CLI's other
    /// errors do (the services name the admin API's <c>limit</c> parameter), and is checked before anything is looked up,
    /// so bad input is reported before a record that does not exist.
    /// </summary>
    public static ManagementError? LimitOutOfRange(int? limit, int max) => limit is < 1 || limit > max
        ? new ManagementError(ManagementErrorKind.Validation, "--limit", string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must be between 1 and {max}"))
        : null;

    /// <summary>Flags common to commands that open the store.</summary>
    public static Dictionary<string, string?> StoreFlags(ParseResult parseResult) =>
        new() { ["database.dsn"] = parseResult.GetValue(DatabaseOption) };

    /// <summary>Resolves settings and opens the store for a management command.</summary>
    public static async Task<IGatewayStore> OpenStoreAsync(CliContext context, ParseResult parseResult, CancellationToken cancellationToken)
    {
        var (options, _) = await context.LoadSettingsAsync(parseResult.GetValue(ConfigOption), StoreFlags(parseResult), cancellationToken);
        return await context.OpenStoreAsync(options, cancellationToken, managing: true);
    }

    /// <summary>Null when the address can be bound now (port 0 always can, and a host name is left to the start), else why not.</summary>
    public static string? PortProblem(string host, int port)
    {
        if (port == 0)
        {
            return null;
        }

        var address = host switch
        {
            "0.0.0.0" or "*" or "" => System.Net.IPAddress.Any,
            "localhost" => System.Net.IPAddress.Loopback,
            _ => System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var parsed) ? parsed : null,
        };
        if (address is null)
        {
            return null; // the gateway's own start reports an unusable host
        }

        try
        {
            var probe = new System.Net.Sockets.TcpListener(address, port);
            probe.Start();
            probe.Stop();
            return null;
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>The largest file an <c>@file</c> argument reads: every field it fills is far smaller.</summary>
    public const long MaxFileBytes = 1024 * 1024;

    /// <summary>Reads <c>@file</c> arguments (a regular file of at most <see cref="MaxFileBytes"/>); returns other values unchanged.</summary>
    public static string? ValueOrFile(string? value, string flag)
    {
        if (value is null || !value.StartsWith('@'))
        {
            return value;
        }

        var path = value[1..];
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"{flag}: '{path}' is a directory, not a file");
        }

        if (!File.Exists(path))
        {
            throw new ArgumentException($"{flag}: file '{path}' does not exist");
        }

        // Read through a bounded stream: a device (/dev/zero) or a file still growing reports no useful length.
        var buffer = new byte[MaxFileBytes + 1];
        var total = 0;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            // One line naming the flag, not an unhandled exception with a stack trace.
            throw new ArgumentException($"{flag}: file '{path}' cannot be read: {ex.Message}", ex);
        }

        if (total > MaxFileBytes)
        {
            throw new ArgumentException($"{flag}: file '{path}' is larger than {MaxFileBytes / 1024 / 1024} MiB");
        }

        return new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetString(buffer, 0, total).TrimStart('\uFEFF');
    }
}
