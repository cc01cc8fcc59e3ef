using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate upstreams create|list|get|update|delete</c>.</summary>
internal static class UpstreamCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("upstreams", "Manage upstreams (the backends requests are forwarded to)");
        command.Aliases.Add("upstream");

        var create = new Command("create", "Create an upstream");
        var createFields = new Fields(create);
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var changes = createFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Upstreams(store).CreateAsync(changes.Value!, ct);
            return await PrintAsync(context, parse, result, store, withState: false, ct);
        });

        var list = new Command("list", "List upstreams");
        var paging = new ListPaging(list, "upstreams", cursors: false);
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var slice = paging.Read(parse);
            if (!slice.Ok)
            {
                return context.Fail(slice.Error!);
            }

            var page = ListPaging.Slice(slice.Value, await store.ListUpstreamsAsync(ct));
            paging.WriteRange(context, slice.Value, page);
            var upstreams = page.Items;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, upstreams);
            }
            else
            {
                TableWriter.Write(context.Output, ["ID", "SLUG", "NAME", "URL", "TARGETS", "POLICY", "TIMEOUT", "AUTH", "ENABLED"],
                    upstreams.Select(u => (IReadOnlyList<string>)[u.Id, u.Slug, u.Name, u.BaseUrl, UpstreamTargetOutput.Count(u), WireNames.Of(u.LbPolicy),
                        Timeout(u), WireNames.Of(u.AuthType), Yes(u.Enabled)]));
            }

            return 0;
        });

        var reference = new Argument<string>("upstream") { Description = "Upstream id or slug" };
        var get = new Command("get", "Show one upstream") { reference };
        CliApp.SetServiceHandler(get, context, async (parse, store, ct) =>
        {
            var result = await Upstreams(store).GetAsync(parse.GetRequiredValue(reference), ct);
            if (result.Ok && parse.GetValue(CliApp.JsonOption))
            {
                context.Output.WriteLine(UpstreamTargetOutput.GetJson(result.Value!, await store.ListTargetHealthAsync(result.Value!.Id, ct)));
                return 0;
            }

            return await PrintAsync(context, parse, result, store, withState: true, ct);
        });

        var update = new Command("update", "Change an upstream (only the flags given)") { reference };
        var updateFields = new Fields(update);
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var changes = updateFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Upstreams(store).UpdateAsync(parse.GetRequiredValue(reference), changes.Value!, ct);
            return await PrintAsync(context, parse, result, store, withState: true, ct);
        });

        var delete = new Command("delete", "Delete an upstream no route uses") { reference };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
        {
            return CliApp.PrintDeleted(context, parse, await Upstreams(store).DeleteAsync(parse.GetRequiredValue(reference), ct), "upstream", v => $"{v.Slug} ({v.Id})");
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(get);
        command.Subcommands.Add(update);
        command.Subcommands.Add(delete);
        return command;
    }

    /// <param name="withState">Show each target's reported state (not after create: nothing can have reported it yet).</param>
    private static Task<int> PrintAsync(CliContext context, ParseResult parse, ManagementResult<UpstreamDefinition> result, IGatewayStore store, bool withState, CancellationToken ct) =>
        CliApp.PrintResultAsync(context, parse, result, async u =>
        {
            IEnumerable<(string, string)> fields =
            [
                ("id", u.Id),
                ("name", u.Name),
                ("slug", u.Slug),
                ("description", u.Description),
                ("url", u.BaseUrl),
                ("timeout", Timeout(u)),
                ("max_idle_conns", u.MaxIdleConns.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("idle_conn_timeout_ms", u.IdleConnTimeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("max_conns", u.MaxConns == 0 ? "unlimited" : u.MaxConns.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("http_version", UpstreamHttpVersionConverter.ToText(u.HttpVersion)),
                ("auth_type", WireNames.Of(u.AuthType)),
                ("auth_header", u.AuthHeader),
                ("auth_value", u.AuthConfigured ? "(set, write-only)" : ""),
                ("enabled", Yes(u.Enabled)),
            ];
            return fields.Concat(UpstreamTargetOutput.Fields(u, withState ? await store.ListTargetHealthAsync(u.Id, ct) : null));
        });

    private static UpstreamService Upstreams(IGatewayStore store) => new(store, TimeProvider.System);

    private static string Timeout(UpstreamDefinition u) => u.TimeoutMs is { } ms ? $"{ms}ms" : "default";

    private static string Yes(bool value) => value ? "yes" : "no";

    /// <summary>The flags shared by create and update.</summary>
    private sealed class Fields
    {
        private readonly Option<string?> _name = new("--name") { Description = "Unique name; the slug is derived from it" };
        private readonly Option<string?> _description = new("--description") { Description = "Free text" };
        private readonly Option<string?> _url = new("--url", "--base-url") { Description = "Base URL, e.g. http://127.0.0.1:8080/v2 (its path is kept)" };
        private readonly Option<string?> _timeout = new("--timeout") { Description = "Timeout: milliseconds or a duration (30s); 0 = gateway default" };
        private readonly Option<int?> _maxIdle = new("--max-idle-conns") { Description = "Idle connections to keep (default 100)" };
        private readonly Option<int?> _idleTimeout = new("--idle-conn-timeout") { Description = "Idle connection lifetime in ms (default 90000)" };
        private readonly Option<int?> _maxConns = new("--max-conns") { Description = "Max concurrent connections (0 = unlimited)" };
        private readonly Option<string?> _httpVersion = new("--http-version") { Description = "HTTP version to the targets: 1.1 (default) | 2 (h2c for http://, HTTP/2 by ALPN for https://)" };
        private readonly Option<string?> _authType = new("--auth-type") { Description = "none | bearer | header | basic" };
        private readonly Option<string?> _authHeader = new("--auth-header") { Description = "Header name for --auth-type header" };
        private readonly Option<string?> _authValue = new("--auth-value") { Description = "Credential (write-only; never printed). @file reads it from a file" };
        private readonly Option<bool?> _enabled = new("--enabled") { Description = "true | false" };
        private readonly Option<string[]> _targets = new("--target", "--targets") { Description = "Target URL[,weight=N]; repeat, or list several separated by commas (replaces the whole list)", Arity = ArgumentArity.ZeroOrMore };
        private readonly Option<string?> _lbPolicy = new("--lb-policy") { Description = "round_robin | least_requests | power_of_two | random | first_healthy | hash" };
        private readonly Option<string?> _hashOn = new("--hash-on") { Description = "For hash: header:<name> | key | client_ip" };
        private readonly Option<string?> _healthPath = new("--health-path") { Description = "Path probed on each target, e.g. /healthz; none = no active checks" };
        private readonly Option<string?> _healthInterval = new("--health-interval") { Description = "Time between probes (default 10s, at least 1s)" };
        private readonly Option<string?> _healthTimeout = new("--health-timeout") { Description = "Probe timeout (default 2s, 100ms to 60s)" };
        private readonly Option<int?> _healthyThreshold = new("--healthy-threshold") { Description = "Passing probes that bring a target back (default 2, 1 to 100)" };
        private readonly Option<int?> _unhealthyThreshold = new("--unhealthy-threshold") { Description = "Failing probes that take a target out (default 3, 1 to 100)" };
        private readonly Option<string?> _passiveFailures = new("--passive-failures") { Description = "Consecutive failed requests that eject a target; 0 = off; default (or -1) = 5 with several targets, off with one" };
        private readonly Option<string?> _passiveCooldown = new("--passive-cooldown") { Description = "How long an ejected target stays out (default 30s)" };

        public Fields(Command command)
        {
            foreach (var option in new Option[]
            {
                _name, _description, _url, _timeout, _maxIdle, _idleTimeout, _maxConns, _httpVersion, _authType, _authHeader, _authValue, _enabled,
                _targets, _lbPolicy, _hashOn, _healthPath, _healthInterval, _healthTimeout, _healthyThreshold, _unhealthyThreshold, _passiveFailures, _passiveCooldown,
            })
            {
                command.Options.Add(option);
            }
        }

        public UpstreamInput Read(ParseResult parse) => new()
        {
            Name = parse.GetValue(_name),
            Description = parse.GetValue(_description),
            Url = parse.GetValue(_url),
            Timeout = parse.GetValue(_timeout),
            MaxIdleConns = parse.GetValue(_maxIdle),
            IdleConnTimeoutMs = parse.GetValue(_idleTimeout),
            MaxConns = parse.GetValue(_maxConns),
            HttpVersion = parse.GetValue(_httpVersion),
            AuthType = parse.GetValue(_authType),
            AuthHeader = parse.GetValue(_authHeader),
            AuthValue = CliApp.ValueOrFile(parse.GetValue(_authValue), "--auth-value")?.TrimEnd('\r', '\n'),
            Enabled = parse.GetValue(_enabled),
            Targets = parse.GetValue(_targets) is { Length: > 0 } targets ? UpstreamTargetOutput.ParseTargets(targets, CliApp.Typed(parse, _targets)) : null,
            LbPolicy = parse.GetValue(_lbPolicy),
            HashOn = parse.GetValue(_hashOn),
            HealthCheck = ReadHealth(parse),
        };

        private HealthCheckInput? ReadHealth(ParseResult parse)
        {
            var input = new HealthCheckInput
            {
                Path = parse.GetValue(_healthPath),
                Interval = parse.GetValue(_healthInterval),
                Timeout = parse.GetValue(_healthTimeout),
                HealthyThreshold = parse.GetValue(_healthyThreshold),
                UnhealthyThreshold = parse.GetValue(_unhealthyThreshold),
                PassiveFailures = UpstreamTargetOutput.ParsePassiveFailures(parse.GetValue(_passiveFailures)),
                PassiveCooldown = parse.GetValue(_passiveCooldown),
            };
            return input == new HealthCheckInput() ? null : input;
        }
    }
}
