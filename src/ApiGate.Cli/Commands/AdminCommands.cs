using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate admin tokens create|list|revoke</c>: credentials for the admin REST API. A token is printed once, by
/// <c>create</c>; the store keeps only its hash. <c>apigate admin audit</c>: the changes made with them.
/// </summary>
internal static class AdminCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("admin", "Manage access to the admin REST API");
        var tokens = new Command("tokens", "Manage admin tokens (Authorization: Bearer <token> for the admin API)");
        tokens.Aliases.Add("token");

        var name = new Option<string?>("--name") { Description = "A unique label for the token, e.g. the tool that uses it", Required = true };
        var create = new Command("create", "Create an admin token (shown once)") { name };
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var result = await new AdminTokenService(store, TimeProvider.System).CreateAsync(parse.GetValue(name), ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            var (record, token) = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                // Flat, as `keys create --json`: the record's fields and the token, shown this once.
                JsonOutput.Write(context.Output, new { record.Id, record.Name, record.Prefix, record.CreatedAt, record.LastUsedAt, record.RevokedAt, token });
                return 0;
            }

            // Only the token goes to stdout, so `TOKEN=$(apigate admin tokens create ...)` captures exactly the token.
            Fields(context.Error, record);
            context.Error.WriteLine("warning: store this token now; it is not saved anywhere and will not be shown again");
            context.Output.WriteLine(token);
            return 0;
        });

        var list = new Command("list", "List admin tokens, newest first (prefixes only)");
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var all = await new AdminTokenService(store, TimeProvider.System).ListAsync(ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, all);
                return 0;
            }

            TableWriter.Write(context.Output, ["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED"],
                all.Select(t => (IReadOnlyList<string>)
                [
                    t.Id, t.Name, t.Prefix + "…", UserCommands.Time(t.CreatedAt), t.LastUsedAt is null ? "never" : UserCommands.Time(t.LastUsedAt),
                    t.RevokedAt is null ? "no" : UserCommands.Time(t.RevokedAt),
                ]));
            return 0;
        });

        var reference = new Argument<string>("token") { Description = "Token id or name" };
        var revoke = new Command("revoke", "Revoke an admin token (permanent; running servers refuse it within a second)") { reference };
        CliApp.SetServiceHandler(revoke, context, async (parse, store, ct) =>
        {
            var result = await new AdminTokenService(store, TimeProvider.System).RevokeAsync(parse.GetRequiredValue(reference), ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            // Revoking twice is not an error (a retried script must not fail), but the operator is told that this
            // call changed nothing and when the token was revoked, so a revocation that came too late is noticed.
            var (revoked, already) = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new
                {
                    revoked.Id, revoked.Name, revoked.Prefix, revoked.CreatedAt, revoked.LastUsedAt, revoked.RevokedAt, AlreadyRevoked = already,
                });
            }
            else if (already)
            {
                context.Output.WriteLine(
                    $"admin token {TableWriter.Escape(revoked.Name)} ({revoked.Id}, {revoked.Prefix}…) was already revoked at {UserCommands.Time(revoked.RevokedAt)}; nothing changed");
            }
            else
            {
                context.Output.WriteLine($"revoked admin token {TableWriter.Escape(revoked.Name)} ({revoked.Id}, {revoked.Prefix}…) at {UserCommands.Time(revoked.RevokedAt)}");
            }

            return 0;
        });

        tokens.Subcommands.Add(create);
        tokens.Subcommands.Add(list);
        tokens.Subcommands.Add(revoke);
        command.Subcommands.Add(tokens);
        command.Subcommands.Add(Audit(context));
        return command;
    }

    /// <summary><c>apigate admin audit [--limit N] [--after CURSOR]</c>: the store's audit trail, newest first (every instance's changes), a page at a time.</summary>
    private static Command Audit(CliContext context)
    {
        var limit = new Option<int?>("--limit") { Description = $"How many changes (default {AdminAuditService.DefaultLimit}, at most {AdminAuditService.MaxLimit})" };
        var audit = new Command("audit", "Admitted changes through the admin API and the console, from every instance, newest first, a page at a time") { limit };
        var paging = new RecentPaging(audit, "admin audit", AdminAuditService.CursorKind);
        CliApp.SetServiceHandler(audit, context, async (parse, store, ct) =>
        {
            if (CliApp.LimitOutOfRange(parse.GetValue(limit), AdminAuditService.MaxLimit) is { } badLimit)
            {
                return context.Fail(badLimit);
            }

            var after = paging.Read(parse);
            if (!after.Ok)
            {
                return context.Fail(after.Error!);
            }

            // The newest changes as far as the admin API reads back (MaxLimit), a page of --limit at a time.
            var result = await new AdminAuditService(store).RecentPageAsync(
                AdminAuditService.MaxLimit, 0, parse.GetValue(limit) ?? AdminAuditService.DefaultLimit, ct, after.Value);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            var page = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                paging.WriteJson(context.Output, page);
                return 0;
            }

            TableWriter.Write(context.Output, ["TIME", "TOKEN", "REQUEST", "STATUS", "CLIENT IP", "CHANGE"],
                page.Items.Select(c => (IReadOnlyList<string>)
                [
                    UserCommands.Time(c.At), c.TokenName, c.Method + " " + c.Path, c.Status.ToString(System.Globalization.CultureInfo.InvariantCulture), c.ClientIp, c.Note,
                ]));
            paging.WriteNext(context.Output, page);
            return 0;
        });
        return audit;
    }

    private static void Fields(TextWriter output, AdminTokenDefinition t) =>
        TableWriter.WriteFields(output,
        [
            ("id", t.Id),
            ("name", t.Name),
            ("prefix", t.Prefix),
            ("created_at", UserCommands.Time(t.CreatedAt)),
        ]);
}
