using System.CommandLine;
using System.Text.Json.Serialization;
using ApiGate.Cli.Output;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate keys create|list|revoke</c>. The full key is printed once, by <c>create</c>; nothing else ever shows it.</summary>
internal static class KeyCommands
{
    /// <summary>Up to this many distinct owners in a key list are read one by one; more, and every user is read once.</summary>
    private const int OwnersReadOneByOne = 200;

    public static Command Create(CliContext context)
    {
        var command = new Command("keys", "Manage API keys");
        command.Aliases.Add("key");

        var user = new Option<string?>("--user") { Description = "Owner: user id or email; the user must be active" };
        var name = new Option<string?>("--name") { Description = "A label for the key" };
        var expires = new Option<string?>("--expires") { Description = "Expiry: 2027-01-31, 2027-01-31T12:00:00Z, or a duration such as 30d or 12h (default: never)" };
        var create = new Command("create", "Create an API key (the key is shown once)") { user, name, expires };
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var (options, _) = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct);
            var keys = new KeyService(store, TimeProvider.System, options.AuthKeyPrefix);
            var changes = new KeyInput { User = parse.GetValue(user), Name = parse.GetValue(name), Expires = parse.GetValue(expires) }.ToChanges(TimeProvider.System);
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await keys.CreateAsync(changes.Value!, ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            var (key, fullKey) = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, KeyJson.Of(key, fullKey));
                return 0;
            }

            // Only the key goes to stdout, so `KEY=$(apigate keys create ...)` captures exactly the key; the
            // details and the warning are for the person at the terminal.
            var owner = await store.FindUserAsync(key.UserId, ct);
            Fields(context.Error, key, owner);
            context.Error.WriteLine("warning: store this key now; it is not saved anywhere and will not be shown again");
            context.Output.WriteLine(fullKey);
            return 0;
        });

        var listUser = new Option<string?>("--user") { Description = "Only this user's keys (id or email)" };
        var list = new Command("list", "List API keys, newest first (prefixes only)") { listUser };
        var paging = new ListPaging(list, "keys");
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var users = new UserService(store, TimeProvider.System);
            string? userId = null;
            if (parse.GetValue(listUser) is { } reference)
            {
                var owner = await users.GetAsync(reference, ct);
                if (owner.Error is { } error)
                {
                    return context.Fail(error.Field.Length == 0 ? error with { Field = "user" } : error); // named by its flag
                }

                userId = owner.Value!.Id;
            }

            var slice = paging.Read(parse);
            if (!slice.Ok)
            {
                return context.Fail(slice.Error!);
            }

            var page = await new KeyService(store, TimeProvider.System).ListPageAsync(userId, slice.Value.Offset, slice.Value.Count, ct, slice.Value.After);
            var keys = page.Items;
            paging.WriteRange(context, slice.Value, page);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, keys.Select(k => KeyJson.Of(k)).ToList());
                return 0;
            }

            // Owners' emails: the listed keys' owners only, unless the list is long enough that reading every user at
            // once is cheaper than one read per owner.
            var owners = keys.Select(k => k.UserId).Distinct(StringComparer.Ordinal).ToList();
            var emails = new Dictionary<string, string>(StringComparer.Ordinal);
            if (owners.Count > OwnersReadOneByOne)
            {
                emails = (await store.ListUsersAsync(ct)).ToDictionary(u => u.Id, u => u.Email, StringComparer.Ordinal);
            }
            else
            {
                foreach (var owner in owners)
                {
                    if (await store.FindUserAsync(owner, ct) is { } found)
                    {
                        emails[owner] = found.Email;
                    }
                }
            }

            TableWriter.Write(context.Output, ["ID", "USER", "NAME", "PREFIX", "EXPIRES", "REVOKED", "LAST USED", "CREATED"],
                keys.Select(k => (IReadOnlyList<string>)
                [
                    k.Id, emails.GetValueOrDefault(k.UserId, k.UserId), k.Name, k.Prefix + "…", k.ExpiresAt is null ? "never" : UserCommands.Time(k.ExpiresAt),
                    k.RevokedAt is null ? "no" : UserCommands.Time(k.RevokedAt), k.LastUsedAt is null ? "never" : UserCommands.Time(k.LastUsedAt),
                    UserCommands.Time(k.CreatedAt),
                ]));
            return 0;
        });

        var id = new Argument<string>("key") { Description = "Key id" };
        var revoke = new Command("revoke", "Revoke an API key (immediate and permanent)") { id };
        CliApp.SetServiceHandler(revoke, context, async (parse, store, ct) =>
        {
            // Revoking twice is not an error (a retried script must not fail), but the operator is told that this call
            // changed nothing and when the key was revoked (the store keeps the first time), as admin tokens do.
            var keyId = parse.GetRequiredValue(id);
            var already = (await store.FindKeyAsync(keyId, ct))?.RevokedAt is not null;
            var result = await new KeyService(store, TimeProvider.System).RevokeAsync(keyId, ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            var key = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, KeyJson.Of(key) with { AlreadyRevoked = already });
            }
            else if (already)
            {
                context.Output.WriteLine($"key {key.Prefix}… ({key.Id}) was already revoked at {UserCommands.Time(key.RevokedAt)}; nothing changed");
            }
            else
            {
                context.Output.WriteLine($"revoked key {key.Prefix}… ({key.Id}) at {UserCommands.Time(key.RevokedAt)}");
            }

            return 0;
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(revoke);
        return command;
    }

    private static void Fields(TextWriter output, ApiKeyDefinition k, UserDefinition? owner) =>
        TableWriter.WriteFields(output,
        [
            ("id", k.Id),
            ("name", k.Name),
            ("user", owner is null ? k.UserId : $"{owner.Email} ({owner.Id})"),
            ("prefix", k.Prefix),
            ("expires_at", k.ExpiresAt is null ? "never" : UserCommands.Time(k.ExpiresAt)),
            ("created_at", UserCommands.Time(k.CreatedAt)),
        ]);

    /// <summary>
    /// A key as JSON: the record's fields without the hash (<see cref="ApiKeyDefinition"/> itself cannot be serialized:
    /// its hash is both <c>required</c> and <c>[JsonIgnore]</c>), plus the full key only in the create response.
    /// </summary>
    private sealed record KeyJson(
        string Id, string Name, string UserId, string Prefix, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, DateTimeOffset CreatedAt,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key)
    {
        /// <summary>Only in the revoke response: whether the key was revoked before this call (which then changed nothing).</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public bool? AlreadyRevoked { get; init; }

        public static KeyJson Of(ApiKeyDefinition k, string? fullKey = null) =>
            new(k.Id, k.Name, k.UserId, k.Prefix, k.ExpiresAt, k.RevokedAt, k.LastUsedAt, k.CreatedAt, fullKey);
    }
}
