using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate routes create|list|get|update|enable|disable|delete</c>.</summary>
internal static class RouteCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("routes", "Manage routes (what to match and where to send it)");
        command.Aliases.Add("route");

        var create = new Command("create", "Create a route");
        var createFields = new Fields(create);
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var changes = createFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Routes(store).CreateAsync(changes.Value!, ct);
            return await PrintAsync(context, parse, store, result, ct);
        });

        var list = new Command("list", "List routes in precedence order");
        var paging = new ListPaging(list, "routes", cursors: false);
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var slice = paging.Read(parse);
            if (!slice.Ok)
            {
                return context.Fail(slice.Error!);
            }

            var all = (await store.ListRoutesAsync(ct)).ToList();
            CompiledRoute.SortByPrecedence(all);
            var page = ListPaging.Slice(slice.Value, all);
            paging.WriteRange(context, slice.Value, page);
            var routes = page.Items;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, routes);
                return 0;
            }

            var slugs = await UpstreamSlugsAsync(store, ct);
            TableWriter.Write(context.Output, ["ID", "SLUG", "HOST", "PATH", "MATCH", "METHODS", "UPSTREAM", "PROTOCOL", "AUTH", "PRIORITY", "ENABLED"],
                routes.Select(r => (IReadOnlyList<string>)
                [
                    r.Id, r.Slug, Host(r), r.PathPattern, WireNames.Of(r.MatchType), r.Methods.Count == 0 ? "*" : string.Join(',', r.Methods),
                    UpstreamName(r, slugs), WireNames.Of(r.Protocol), r.AuthRequired ? "required" : "public",
                    r.Priority.ToString(CultureInfo.InvariantCulture), r.Enabled ? "yes" : "no",
                ]));
            return 0;
        });

        var reference = new Argument<string>("route") { Description = "Route id or slug" };
        var get = new Command("get", "Show one route") { reference };
        CliApp.SetServiceHandler(get, context, async (parse, store, ct) =>
        {
            var result = await Routes(store).GetAsync(parse.GetRequiredValue(reference), ct);
            return await PrintAsync(context, parse, store, result, ct);
        });

        var update = new Command("update", "Change a route (only the flags given)") { reference };
        var updateFields = new Fields(update);
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var changes = updateFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Routes(store).UpdateAsync(parse.GetRequiredValue(reference), changes.Value!, ct);
            return await PrintAsync(context, parse, store, result, ct);
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(get);
        command.Subcommands.Add(update);
        command.Subcommands.Add(Toggle(context, "enable", true));
        command.Subcommands.Add(Toggle(context, "disable", false));

        var delete = new Command("delete", "Delete a route") { reference };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
        {
            return CliApp.PrintDeleted(context, parse, await Routes(store).DeleteAsync(parse.GetRequiredValue(reference), ct), "route", v => $"{v.Slug} ({v.Id})");
        });
        command.Subcommands.Add(delete);
        return command;
    }

    private static Command Toggle(CliContext context, string verb, bool enabled)
    {
        var reference = new Argument<string>("route") { Description = "Route id or slug" };
        var command = new Command(verb, enabled ? "Enable a route" : "Disable a route (it never matches)") { reference };
        CliApp.SetServiceHandler(command, context, async (parse, store, ct) =>
        {
            var result = await Routes(store).UpdateAsync(parse.GetRequiredValue(reference), new RouteChanges { Enabled = enabled }, ct);
            return await PrintAsync(context, parse, store, result, ct);
        });
        return command;
    }

    private static Task<int> PrintAsync(CliContext context, ParseResult parse, IGatewayStore store, ManagementResult<RouteDefinition> result, CancellationToken ct) =>
        CliApp.PrintResultAsync(context, parse, result, async r =>
        {
            var slugs = await UpstreamSlugsAsync(store, ct);
            return (IEnumerable<(string, string)>)
            [
                ("id", r.Id),
                ("name", r.Name),
                ("slug", r.Slug),
                ("description", r.Description),
                ("host", Host(r)),
                ("path", r.PathPattern),
                ("match_type", WireNames.Of(r.MatchType)),
                ("methods", r.Methods.Count == 0 ? "*" : string.Join(',', r.Methods)),
                ("headers", string.Join(", ", r.Headers.Select(h => $"{h.Key}={h.Value}"))),
                ("upstream", UpstreamName(r, slugs)),
                ("path_rewrite", r.PathRewrite),
                ("method_override", r.MethodOverride),
                ("request_transform", r.RequestTransform),
                ("response_transform", r.ResponseTransform),
                ("protocol", WireNames.Of(r.Protocol)),
                ("metering", WireNames.Of(r.MeteringMode) + (r.MeteringExpr.Length > 0 ? $" ({r.MeteringExpr})" : "")),
                ("auth_required", r.AuthRequired ? "yes" : "no"),
                ("auth_scheme", WireNames.Of(r.AuthScheme)),
                ("cors_origins", string.Join(',', r.CorsOrigins)),
                ("cors_methods", string.Join(',', r.CorsMethods)),
                ("cors_headers", string.Join(',', r.CorsHeaders)),
                ("cors_expose_headers", string.Join(',', r.CorsExposeHeaders)),
                ("cors_credentials", r.CorsCredentials ? "yes" : "no"),
                ("cors_max_age", r.CorsMaxAge.ToString(CultureInfo.InvariantCulture)),
                ("priority", r.Priority.ToString(CultureInfo.InvariantCulture)),
                ("enabled", r.Enabled ? "yes" : "no"),
            ];
        });

    private static RouteService Routes(IGatewayStore store) => new(store, TimeProvider.System);

    private static string Host(RouteDefinition r) => r.HostPattern.Length == 0 ? "*" : $"{r.HostPattern} ({WireNames.Of(r.HostMatchType)})";

    private static string UpstreamName(RouteDefinition r, IReadOnlyDictionary<string, string> slugs) =>
        r.UpstreamId is null ? "(default)" : slugs.GetValueOrDefault(r.UpstreamId, r.UpstreamId);

    private static async Task<IReadOnlyDictionary<string, string>> UpstreamSlugsAsync(IGatewayStore store, CancellationToken ct) =>
        (await store.ListUpstreamsAsync(ct)).ToDictionary(u => u.Id, u => u.Slug);

    /// <summary>The flags shared by create and update.</summary>
    private sealed class Fields
    {
        private readonly Option<string?> _name = new("--name") { Description = "Unique name; the slug is derived from it (default: from host and path)" };
        private readonly Option<string?> _description = new("--description") { Description = "Free text" };
        private readonly Option<string?> _path = new("--path") { Description = "Path pattern, e.g. /users/* or /users/{id}" };
        private readonly Option<string?> _match = new("--match", "--match-type") { Description = "exact | prefix (default) | regex" };
        private readonly Option<string?> _methods = new("--methods") { Description = "Comma-separated methods, at most 100 (empty = all)" };
        private readonly Option<string?> _hostPattern = new("--host-pattern", "--host") { Description = "Host pattern: api.example.com, *.example.com, or a regex" };
        private readonly Option<string?> _hostMatchType = new("--host-match-type") { Description = "exact | wildcard | regex (inferred when omitted)" };
        private readonly Option<string[]> _headers = new("--headers", "--header") { Description = "Required header name=value (repeatable, or comma-separated)" };
        private readonly Option<string?> _upstream = new("--upstream") { Description = "Upstream id or slug (empty = the default upstream)" };
        private readonly Option<string?> _rewrite = new("--path-rewrite", "--rewrite") { Description = "Template (/internal/$1, /users/{id}) or expression ('/users/' + pathParams.id)" };
        private readonly Option<string?> _methodOverride = new("--method-override") { Description = "Method to forward instead of the client's" };
        private readonly Option<string?> _requestTransform = new("--request-transform") { Description = "Request transform JSON, or @file.json" };
        private readonly Option<string?> _responseTransform = new("--response-transform") { Description = "Response transform JSON, or @file.json" };
        private readonly Option<string?> _protocol = new("--protocol") { Description = "http (default) | http_stream | sse | websocket" };
        private readonly Option<string?> _meteringMode = new("--metering-mode") { Description = "request (default) | bytes | response_field | custom" };
        private readonly Option<string?> _meteringExpr = new("--metering-expr") { Description = "Metering expression for response_field/custom" };
        private readonly Option<bool?> _auth = new("--auth", "--auth-required") { Description = "Require an API key (default true); --auth=false makes the route public" };
        private readonly Option<string?> _authScheme = new("--auth-scheme") { Description = "Credential an authenticated route accepts: key (default) | jwt | key_or_jwt" };
        private readonly Option<string?> _corsOrigins = new("--cors-origins") { Description = "Origins browsers may call from: https://app.example.com, *.example.com, * (comma-separated; empty = CORS off)" };
        private readonly Option<string?> _corsMethods = new("--cors-methods") { Description = "Methods a preflight may ask for (default: the route's methods, else GET,HEAD,POST,PUT,PATCH,DELETE)" };
        private readonly Option<string?> _corsHeaders = new("--cors-headers") { Description = "Request headers a preflight may ask for, or * (default: Authorization,Content-Type,X-API-Key)" };
        private readonly Option<string?> _corsExposeHeaders = new("--cors-expose-headers") { Description = "Response headers scripts may read (default: the request id and limit headers)" };
        private readonly Option<bool?> _corsCredentials = new("--cors-credentials") { Description = "Allow cookies/HTTP auth from the listed origins (never with *)" };
        private readonly Option<int?> _corsMaxAge = new("--cors-max-age") { Description = "Seconds a browser may cache a preflight answer (0 = header not sent)" };
        private readonly Option<int?> _priority = new("--priority") { Description = "Higher matches first (default 0)" };
        private readonly Option<bool?> _enabled = new("--enabled") { Description = "true | false" };

        public Fields(Command command)
        {
            _headers.AllowMultipleArgumentsPerToken = false;
            foreach (var option in new Option[]
                     {
                         _name, _description, _path, _match, _methods, _hostPattern, _hostMatchType, _headers, _upstream, _rewrite, _methodOverride,
                         _requestTransform, _responseTransform, _protocol, _meteringMode, _meteringExpr, _auth, _priority, _enabled,
                         _authScheme, _corsOrigins, _corsMethods, _corsHeaders, _corsExposeHeaders, _corsCredentials, _corsMaxAge,
                     })
            {
                command.Options.Add(option);
            }
        }

        public RouteInput Read(ParseResult parse)
        {
            var headers = parse.GetResult(_headers) is null
                ? null
                : parse.GetValue(_headers)!.SelectMany(h => h.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            return new RouteInput
            {
                Name = parse.GetValue(_name),
                Description = parse.GetValue(_description),
                Path = parse.GetValue(_path),
                MatchType = parse.GetValue(_match),
                Methods = parse.GetValue(_methods),
                HostPattern = parse.GetValue(_hostPattern),
                HostMatchType = parse.GetValue(_hostMatchType),
                Headers = headers,
                Upstream = parse.GetValue(_upstream),
                PathRewrite = parse.GetValue(_rewrite),
                MethodOverride = parse.GetValue(_methodOverride),
                RequestTransform = CliApp.ValueOrFile(parse.GetValue(_requestTransform), "--request-transform"),
                ResponseTransform = CliApp.ValueOrFile(parse.GetValue(_responseTransform), "--response-transform"),
                Protocol = parse.GetValue(_protocol),
                MeteringMode = parse.GetValue(_meteringMode),
                MeteringExpr = parse.GetValue(_meteringExpr),
                AuthRequired = parse.GetValue(_auth),
                AuthScheme = parse.GetValue(_authScheme),
                CorsOrigins = parse.GetValue(_corsOrigins),
                CorsMethods = parse.GetValue(_corsMethods),
                CorsHeaders = parse.GetValue(_corsHeaders),
                CorsExposeHeaders = parse.GetValue(_corsExposeHeaders),
                CorsCredentials = parse.GetValue(_corsCredentials),
                CorsMaxAge = parse.GetValue(_corsMaxAge),
                Priority = parse.GetValue(_priority),
                Enabled = parse.GetValue(_enabled),
            };
        }
    }
}
