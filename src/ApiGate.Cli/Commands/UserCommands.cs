using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Billing;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate users create|list|get|update|activate|deactivate|delete|identities|link-identity|unlink-identity</c>.</summary>
internal static class UserCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("users", "Manage users (API consumers)");
        command.Aliases.Add("user");

        var create = new Command("create", "Create a user");
        var createFields = new Fields(create, creating: true);
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var changes = createFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Users(store).CreateAsync(changes.Value!, ct);
            return await PrintAsync(context, parse, store, result, ct);
        });

        var search = new Option<string?>("--search") { Description = "Only users whose email contains this text (ASCII letters in any case)" };
        var list = new Command("list", "List users, by email") { search };
        var paging = new ListPaging(list, "users");
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var slice = paging.Read(parse);
            if (!slice.Ok)
            {
                return context.Fail(slice.Error!);
            }

            var page = await Users(store).ListPageAsync(parse.GetValue(search), slice.Value.Offset, slice.Value.Count, ct, slice.Value.After);
            var users = page.Items;
            paging.WriteRange(context, slice.Value, page);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, users);
            }
            else
            {
                TableWriter.Write(context.Output, ["ID", "EMAIL", "NAME", "PLAN", "STATUS", "CREATED"],
                    users.Select(u => (IReadOnlyList<string>)[u.Id, u.Email, u.Name, u.PlanId, WireNames.Of(u.Status), Time(u.CreatedAt)]));
            }

            return 0;
        });

        var reference = new Argument<string>("user") { Description = "User id or email" };
        var get = new Command("get", "Show one user") { reference };
        CliApp.SetServiceHandler(get, context, async (parse, store, ct) =>
        {
            return await PrintAsync(context, parse, store, await Users(store).GetAsync(parse.GetRequiredValue(reference), ct), ct);
        });

        var update = new Command("update", "Change a user (only the flags given)") { reference };
        var updateFields = new Fields(update, creating: false);
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var changes = updateFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Users(store).UpdateAsync(parse.GetRequiredValue(reference), changes.Value!, ct);
            return await PrintAsync(context, parse, store, result, ct);
        });

        var delete = new Command("delete", "Delete a user and all of their API keys") { reference };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
        {
            var target = parse.GetRequiredValue(reference);
            var (keys, links) = await store.FindUserAsync(target, ct) is { } user
                ? ((await store.ListKeysAsync(user.Id, ct)).Count, (await store.ListIdentitiesAsync(user.Id, ct)).Count)
                : (0, 0);
            return CliApp.PrintDeleted(context, parse, await Users(store).DeleteAsync(target, ct), "user",
                v => $"{v.Email} ({v.Id}) and their {keys} API key{(keys == 1 ? "" : "s")}" +
                     (links == 0 ? "" : $" and {links} JWT subject link{(links == 1 ? "" : "s")}"),
                [("deleted_api_keys", keys), ("deleted_jwt_subject_links", links)]);
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(get);
        command.Subcommands.Add(update);
        command.Subcommands.Add(Status(context, "activate", UserStatus.Active, "Activate a user (their keys work again)"));
        command.Subcommands.Add(Status(context, "deactivate", UserStatus.Suspended, "Suspend a user (their keys are refused)"));
        command.Subcommands.Add(delete);
        AddIdentityCommands(command, context);
        return command;
    }

    /// <summary>
    /// <c>identities</c>, <c>link-identity</c>, <c>unlink-identity</c>: which JWT subjects act as the user. The issuer
    /// defaults to the gateway's <c>jwt.issuer</c> setting, read like <c>serve</c> reads it.
    /// </summary>
    private static void AddIdentityCommands(Command users, CliContext context)
    {
        var reference = new Argument<string>("user") { Description = "User id or email" };
        var identities = new Command("identities", "List the JWT subjects linked to a user") { reference };
        CliApp.SetServiceHandler(identities, context, async (parse, store, ct) =>
        {
            var result = await Users(store).ListIdentitiesAsync(parse.GetRequiredValue(reference), ct);
            return CliApp.PrintJsonOr(context, parse, result, list =>
                TableWriter.Write(context.Output, ["ISSUER", "SUBJECT", "LINKED"], list.Select(i => (IReadOnlyList<string>)[i.Issuer, i.Subject, Time(i.CreatedAt)])));
        });
        users.Subcommands.Add(identities);

        foreach (var (verb, description, link) in new (string, string, bool)[]
                 {
                     ("link-identity", "Link a JWT subject to a user: the issuer's tokens for it act as that user", true),
                     ("unlink-identity", "Remove the link of a JWT subject to a user", false),
                 })
        {
            var user = new Argument<string>("user") { Description = "User id or email" };
            var subject = new Option<string>("--subject") { Description = "The token's user claim value (jwt.user_claim, 'sub' by default), exactly", Required = true };
            var issuer = new Option<string?>("--issuer") { Description = "Issuer URL (default: jwt.issuer / APIGATE_JWT_ISSUER)" };
            var command = new Command(verb, description) { user, subject, issuer };
            CliApp.SetServiceHandler(command, context, async (parse, store, ct) =>
            {
                var (options, _) = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct);
                var parsed = new IdentityInput { Subject = parse.GetValue(subject), Issuer = parse.GetValue(issuer) }.ToLink(options.JwtIssuer);
                if (!parsed.Ok)
                {
                    return context.Fail(parsed.Error!);
                }

                var service = Users(store);
                var target = parse.GetRequiredValue(user);
                if (!link)
                {
                    return CliApp.PrintDeleted(context, parse, await service.UnlinkIdentityAsync(target, parsed.Value!, ct), "link",
                        i => $"of subject '{i.Subject}' ({i.Issuer}) to user {i.UserId}");
                }

                var linked = await service.LinkIdentityAsync(target, parsed.Value!, ct);
                var exit = CliApp.PrintResult(context, parse, linked, i =>
                    [("issuer", i.Issuer), ("subject", i.Subject), ("user", i.UserId), ("linked_at", Time(i.CreatedAt))]);
                if (linked.Ok && !UserIdentity.SameIssuer(linked.Value!.Issuer, options.JwtIssuer))
                {
                    // A gateway uses links of its own jwt.issuer only (a trailing slash aside): a link for another
                    // issuer waits for a gateway configured with it, and nothing else would say so.
                    await context.Error.WriteLineAsync(
                        $"warning: a gateway uses this link only when its jwt.issuer is '{linked.Value.Issuer}' (a trailing slash aside); " +
                        (options.JwtIssuer.Length == 0
                            ? "this command sees no jwt.issuer, so check the gateway's APIGATE_JWT_ISSUER"
                            : $"this command sees jwt.issuer '{options.JwtIssuer}'"));
                }

                return exit;
            });
            users.Subcommands.Add(command);
        }
    }

    /// <summary>A timestamp for tables: UTC, to the second.</summary>
    internal static string Time(DateTimeOffset? at) => at is { } t ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "";

    private static UserService Users(IGatewayStore store) => new(store, TimeProvider.System);

    private static Command Status(CliContext context, string verb, UserStatus status, string description)
    {
        var reference = new Argument<string>("user") { Description = "User id or email" };
        var command = new Command(verb, description) { reference };
        CliApp.SetServiceHandler(command, context, async (parse, store, ct) =>
        {
            var result = await Users(store).UpdateAsync(parse.GetRequiredValue(reference), new UserChanges { Status = status }, ct);
            return await PrintAsync(context, parse, store, result, ct);
        });
        return command;
    }

    private static Task<int> PrintAsync(CliContext context, ParseResult parse, IGatewayStore store, ManagementResult<UserDefinition> result, CancellationToken ct) =>
        CliApp.PrintResultAsync(context, parse, result, async u =>
        {
            var plan = await store.FindPlanAsync(u.PlanId, ct);
            var keys = await store.ListKeysAsync(u.Id, ct);
            var subjects = await store.ListIdentitiesAsync(u.Id, ct);
            var customer = await store.FindBillingCustomerAsync(u.Id, ct);
            return (IEnumerable<(string, string)>)
            [
                ("id", u.Id),
                ("email", u.Email),
                ("name", u.Name),
                ("plan", plan is null ? u.PlanId : $"{plan.Id} ({plan.Name})"),
                ("status", WireNames.Of(u.Status)),
                ("api_keys", keys.Count.ToString(CultureInfo.InvariantCulture)),
                ("jwt_subjects", subjects.Count.ToString(CultureInfo.InvariantCulture)),
                .. BillingFields(plan, customer),
                ("created_at", Time(u.CreatedAt)),
                ("updated_at", Time(u.UpdatedAt)),
            ];
        });

    /// <summary>
    /// The user's billing customer and subscription, when they have one, and whether a plan that bills its overage through
    /// Stripe lets them past the quota: only with a paying subscription while billing is on (docs/billing.md), the
    /// first thing to look at when such a user asks why a request got 402.
    /// </summary>
    private static IEnumerable<(string, string)> BillingFields(PlanDefinition? plan, BillingCustomer? customer)
    {
        if (customer is not null)
        {
            yield return ("billing_customer", customer.CustomerId);
            yield return ("subscription", customer.SubscriptionId.Length == 0 ? "none" : $"{customer.SubscriptionId} ({customer.SubscriptionStatus})");
        }

        switch (SubscriptionOrdering.OverageOf(plan, customer))
        {
            case OverageTerms.Billed:
                yield return ("overage", "billed through Stripe (paying subscription)");
                break;
            case OverageTerms.Refused:
                yield return ("overage", "refused past the quota while billing is on (no paying subscription)");
                break;
        }
    }

    /// <summary>The flags shared by create and update.</summary>
    private sealed class Fields
    {
        private readonly Option<string?> _email = new("--email") { Description = "Email address (unique)" };
        private readonly Option<string?> _name = new("--name") { Description = "Display name" };
        private readonly Option<string?> _plan = new("--plan", "--plan-id");
        private readonly Option<string?> _status = new("--status");

        /// <param name="command">The command the flags are added to.</param>
        /// <param name="creating">Whether a flag left out takes its default (create) or keeps the stored value (update).</param>
        public Fields(Command command, bool creating)
        {
            _plan.Description = creating ? "Plan id (default: the default plan)" : "Plan id (unchanged when left out)";
            _status.Description = creating
                ? "active (default) | pending | suspended | cancelled"
                : "active | pending | suspended | cancelled (unchanged when left out)";
            foreach (var option in new Option[] { _email, _name, _plan, _status })
            {
                command.Options.Add(option);
            }
        }

        public UserInput Read(ParseResult parse) => new()
        {
            Email = parse.GetValue(_email),
            Name = parse.GetValue(_name),
            Plan = parse.GetValue(_plan),
            Status = parse.GetValue(_status),
        };
    }
}
