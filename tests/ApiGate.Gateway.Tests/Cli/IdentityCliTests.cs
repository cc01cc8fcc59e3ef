using System.Text.Json;
using System.Text.RegularExpressions;
using ApiGate.Core.Billing;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate plans|users|keys|entitlements|plan-entitlements</c> against a real store in a temp directory.</summary>
public sealed partial class IdentityCliTests : CliTestBase
{
    [Fact]
    public async Task KeysCreate_UserSuspended_ExitsFourNamingTheStatusAndCreatesNoKey()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.com")).ExitCode);
        Assert.Equal(0, (await RunAsync("users", "deactivate", "ann@example.com")).ExitCode);

        // Act
        var created = await RunAsync("keys", "create", "--user", "ann@example.com");
        var listed = await RunAsync("keys", "list", "--json");

        // Assert: nothing on stdout, where `KEY=$(apigate keys create …)` would take it for a key
        Assert.Equal(4, created.ExitCode);
        Assert.Equal("", created.Output);
        Assert.Equal("error: --user: user 'ann@example.com' is suspended; the gateway refuses its keys, so activate the user first\n",
            created.Diagnostics.ReplaceLineEndings("\n"));
        Assert.Equal(0, JsonDocument.Parse(listed.Output).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task PlansGet_Prices_ShownInCentsWithTheUnit()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "pro", "--name", "Pro", "--price", "2900", "--overage", "1")).ExitCode);

        // Act
        var got = await RunAsync("plans", "get", "pro");
        var help = await RunAsync("plans", "create", "--help");

        // Assert: the stored value (what --price takes) with its unit, not 29.00 alone under price_monthly
        Assert.Equal(0, got.ExitCode);
        Assert.Matches(@"(?m)^price_monthly +2900 cents \(29\.00\)$", got.Output.ReplaceLineEndings("\n"));
        Assert.Matches(@"(?m)^overage_price +1 cent \(0\.01\) per unit$", got.Output.ReplaceLineEndings("\n"));
        Assert.Matches(@"--price, --price-monthly <price>\s+Monthly price in cents, e\.g\. 2900 = 29\.00", help.Output);
        Assert.Matches(@"--overage, --overage-price <overage>\s+Overage price in cents per unit", help.Output);
    }

    [Theory]
    [InlineData("error: --price: must be a whole number of cents from 0 to 9223372036854775807: the monthly price (2900 = 29.00)", "plans", "create", "--name", "Gold", "--price", "-5")]
    [InlineData("error: --price-monthly: must be a whole number of cents from 0 to 9223372036854775807: the monthly price (2900 = 29.00)", "plans", "update", "pro", "--price-monthly", "-5")]
    [InlineData("error: --overage: must be a whole number of cents from 0 to 9223372036854775807: the price per unit past the quota (1 = 0.01; 0 = none)", "plans", "update", "pro", "--overage", "-1")]
    [InlineData("error: --rate-limit: must be 0 (unlimited) or more", "plans", "update", "pro", "--rate-limit", "-1")]
    [InlineData("error: --health-timeout: '150.5' has a fraction of a millisecond", "upstreams", "update", "u", "--health-path", "/h", "--health-timeout", "150.5")]
    [InlineData("error: --plan: unknown plan 'gold'", "users", "update", "ann@example.com", "--plan", "gold")]
    public async Task RefusedValue_NamesTheFlagTyped_NotTheApiField(string expected, params string[] args)
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "pro", "--name", "Pro")).ExitCode);
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.com", "--plan", "pro")).ExitCode);
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1")).ExitCode);

        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith(expected, result.Diagnostics, StringComparison.Ordinal);
        Assert.Single(result.Diagnostics.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task UsersUpdateHelp_PlanAndStatus_SayALeftOutFlagKeepsTheStoredValue()
    {
        // Act: update keeps the user's plan and status when the flags are left out; only create takes the defaults
        var update = await RunAsync("users", "update", "--help");
        var create = await RunAsync("users", "create", "--help");

        // Assert
        Assert.Equal(0, update.ExitCode);
        Assert.Matches(@"--plan, --plan-id <plan>\s+Plan id \(unchanged when left out\)", update.Output);
        Assert.Matches(@"--status <status>\s+active \| pending \| suspended \| cancelled \(unchanged when left out\)", update.Output);
        Assert.DoesNotContain("the default plan", update.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("active (default)", update.Output, StringComparison.Ordinal);
        Assert.Equal(0, create.ExitCode);
        Assert.Matches(@"--plan, --plan-id <plan>\s+Plan id \(default: the default plan\)", create.Output);
    }

    [Fact]
    public async Task UsersList_FollowingTheAfterEachPagePrintsWhileDeletingItsUsers_PrintsEveryUserOnce()
    {
        // Arrange
        foreach (var email in new[] { "d@example.com", "b@example.com", "e@example.com", "a@example.com", "c@example.com" })
        {
            Assert.Equal(0, (await RunAsync("users", "create", "--email", email)).ExitCode);
        }

        // Act: a script deleting the users of each page before reading the next
        var seen = new List<string>();
        var lines = new List<string>();
        string? after = null;
        for (var page = 0; page < 10; page++)
        {
            var listed = await RunAsync(["users", "list", "--json", "--limit", "2", .. after is null ? Array.Empty<string>() : ["--after", after]]);
            Assert.Equal(0, listed.ExitCode);
            var line = listed.Error.Trim().Split('\n')[^1];
            lines.Add(Regex.Replace(line, "--after [A-Za-z0-9_-]+$", "--after …"));
            foreach (var user in JsonDocument.Parse(listed.Output).RootElement.EnumerateArray())
            {
                seen.Add(user.GetProperty("email").GetString()!);
                Assert.Equal(0, (await RunAsync("users", "delete", user.GetProperty("id").GetString()!)).ExitCode);
            }

            var next = Regex.Match(line, "; next: --after ([A-Za-z0-9_-]+)$");
            if (!next.Success)
            {
                break;
            }

            after = next.Groups[1].Value;
        }

        // Assert: by --offset the second page would have skipped two users
        Assert.Equal(["a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"], seen);
        Assert.Equal(["users 1–2 of 5; next: --after …", "users: 2 of 3 after the cursor; next: --after …", "users: 1 of 1 after the cursor"], lines);
    }

    [Theory]
    [InlineData("users", "--after", "bm9wZQ", "error: --after: is not a cursor of the users list: give the --after an earlier 'users list' printed on stderr, unchanged")]
    [InlineData("users", "--after", "a2V5cwoyMDI2CmtleV8x", "error: --after: is not a cursor of the users list: give the --after an earlier 'users list' printed on stderr, unchanged")]
    [InlineData("keys", "--after", "dXNlcnMKYUBleGFtcGxlLmNvbQp1c3JfMQ", "error: --after: is not a cursor of the keys list: give the --after an earlier 'keys list' printed on stderr, unchanged")]
    [InlineData("keys", "--offset=1 --after", "a2V5cwoyMDI2CmtleV8x", "error: --after: cannot be given with --offset: a page starts after a cursor or after a number of rows")]
    public async Task List_BadAfter_Exits2NamingIt(string list, string flags, string cursor, string expected)
    {
        // Act
        var result = await RunAsync([list, "list", .. flags.Split(' '), cursor]);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected, result.Error.Trim().Split('\n')[^1]);
    }

    [Fact]
    public async Task UsersAndKeysList_LimitOffsetAndSearch_PrintOnlyThatSliceAndSayWhichOnStderr()
    {
        // Arrange: five users (created out of email order), a key each, one second apart
        foreach (var email in new[] { "d@example.com", "b@example.com", "e@example.com", "a@example.com", "c@example.com" })
        {
            Assert.Equal(0, (await RunAsync("users", "create", "--email", email)).ExitCode);
            Assert.Equal(0, (await RunAsync("keys", "create", "--user", email, "--name", "key-" + email[0])).ExitCode);
        }

        // Act
        var users = await RunAsync("users", "list", "--json", "--limit", "2", "--offset", "2");
        var searched = await RunAsync("users", "list", "--search", "B@EX");
        var keys = await RunAsync("keys", "list", "--limit", "2");
        var pastTheEnd = await RunAsync("keys", "list", "--json", "--offset", "9");
        var all = await RunAsync("users", "list");
        var badLimit = await RunAsync("users", "list", "--limit", "0");
        var badOffset = await RunAsync("keys", "list", "--offset", "-1");

        // Assert (stderr's first line names the store)
        static string LastLine(string text) => text.Trim().Split('\n')[^1];
        Assert.Equal(0, users.ExitCode);
        Assert.Equal(["c@example.com", "d@example.com"], JsonDocument.Parse(users.Output).RootElement.EnumerateArray().Select(u => u.GetProperty("email").GetString()));
        Assert.Matches("^users 3–4 of 5; next: --after [A-Za-z0-9_-]+$", LastLine(users.Error));
        Assert.Contains("b@example.com", searched.Output);
        Assert.DoesNotContain("a@example.com", searched.Output);
        Assert.DoesNotContain(" of ", searched.Error, StringComparison.Ordinal); // the whole (filtered) list
        var keyRows = keys.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).ToList(); // header and rule
        Assert.Equal(2, keyRows.Count);
        Assert.Contains("c@example.com", keyRows[0]); // newest first, with the owner's email
        Assert.Contains("key-c", keyRows[0]);
        Assert.Contains("a@example.com", keyRows[1]);
        Assert.Matches("^keys 1–2 of 5; next: --after [A-Za-z0-9_-]+$", LastLine(keys.Error));
        Assert.Equal("[]", pastTheEnd.Output.Trim());
        Assert.Equal("keys: none past 9 of 5", LastLine(pastTheEnd.Error));
        Assert.Equal(7, all.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header, rule, five users
        Assert.DoesNotContain(" of ", all.Error, StringComparison.Ordinal);
        Assert.Equal(2, badLimit.ExitCode);
        Assert.Equal("error: --limit: must be 1 or more", LastLine(badLimit.Error));
        Assert.Equal(2, badOffset.ExitCode);
        Assert.Equal("error: --offset: must be 0 or more", LastLine(badOffset.Error));
    }

    [Fact]
    public async Task Plans_CreateListGetUpdateDelete_RoundTrip()
    {
        var created = await RunAsync("plans", "create", "--id", "pro", "--name", "Pro", "--description", "For teams",
            "--rate-limit", "600", "--requests", "100000", "--price", "2900", "--overage", "1");
        var updated = await RunAsync("plans", "update", "pro", "--name", "Pro Plus", "--requests", "-1", "--enabled", "false");
        var listed = await RunAsync("plans", "list", "--json");
        var table = await RunAsync("plans", "list");
        var got = await RunAsync("--json", "plans", "get", "pro");

        Assert.Equal(0, created.ExitCode);
        Assert.Equal(0, updated.ExitCode);
        Assert.Equal(["free", "pro"], JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        Assert.Contains("unlimited", table.Output);
        var p = JsonDocument.Parse(got.Output).RootElement;
        Assert.Equal("Pro Plus", p.GetProperty("name").GetString());
        Assert.Equal("For teams", p.GetProperty("description").GetString());
        Assert.Equal(600, p.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(0, p.GetProperty("requests_per_month").GetInt64());
        Assert.Equal(2900, p.GetProperty("price_monthly").GetInt64());
        Assert.Equal(1, p.GetProperty("overage_price").GetInt64());
        Assert.False(p.GetProperty("is_default").GetBoolean());
        Assert.False(p.GetProperty("enabled").GetBoolean());

        var deleted = await RunAsync("plans", "delete", "pro");
        Assert.Equal(0, deleted.ExitCode);
        Assert.Contains("deleted plan pro", deleted.Output);
        Assert.Equal(3, (await RunAsync("plans", "get", "pro")).ExitCode);
    }

    [Fact]
    public async Task PlansEnableDisable_TogglesEnabled()
    {
        await RunAsync("plans", "create", "--id", "pro", "--name", "Pro");

        var disabled = await RunAsync("plans", "disable", "pro", "--json");
        var enabled = await RunAsync("plans", "enable", "pro", "--json");

        Assert.False(JsonDocument.Parse(disabled.Output).RootElement.GetProperty("enabled").GetBoolean());
        Assert.True(JsonDocument.Parse(enabled.Output).RootElement.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task PlansCreate_SecondDefault_ClearsTheFirstOnesFlag()
    {
        var pro = await RunAsync("plans", "create", "--id", "pro", "--name", "Pro", "--default");
        var afterPro = await DefaultPlansAsync();
        var team = await RunAsync("plans", "update", "free", "--default=true");
        var afterFree = await DefaultPlansAsync();
        var unset = await RunAsync("plans", "update", "free", "--default=false");

        Assert.Equal(0, pro.ExitCode);
        Assert.Equal(["pro"], afterPro);
        Assert.Equal(0, team.ExitCode);
        Assert.Equal(["free"], afterFree);
        Assert.Equal(0, unset.ExitCode);
        Assert.Empty(await DefaultPlansAsync());
    }

    [Fact]
    public async Task PlansDelete_WhileUsersAreOnIt_IsRefusedAndThePlanRemains()
    {
        await RunAsync("plans", "create", "--id", "pro", "--name", "Pro");
        await RunAsync("users", "create", "--email", "ann@example.com", "--plan", "pro");

        var refused = await RunAsync("plans", "delete", "pro");

        Assert.Equal(4, refused.ExitCode);
        Assert.Contains("ann@example.com", refused.Error);
        Assert.Equal(0, (await RunAsync("plans", "get", "pro")).ExitCode);
    }

    [Fact]
    public async Task Users_CreateListGetUpdateDelete_RoundTrip()
    {
        await RunAsync("plans", "create", "--id", "pro", "--name", "Pro");

        var created = await RunAsync("users", "create", "--email", "ann@example.com", "--name", "Ann", "--plan", "pro", "--json");
        var id = JsonDocument.Parse(created.Output).RootElement.GetProperty("id").GetString()!;
        var updated = await RunAsync("users", "update", "ann@example.com", "--email", "ann@corp.example", "--name", "Ann B", "--plan", "free", "--status", "pending");
        var listed = await RunAsync("users", "list", "--json");
        var byId = await RunAsync("users", "get", id, "--json");
        var byEmail = await RunAsync("users", "get", "ANN@corp.example");

        Assert.Equal(0, created.ExitCode);
        Assert.Equal(0, updated.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(listed.Output).RootElement.GetArrayLength());
        var u = JsonDocument.Parse(byId.Output).RootElement;
        Assert.Equal("ann@corp.example", u.GetProperty("email").GetString());
        Assert.Equal("Ann B", u.GetProperty("name").GetString());
        Assert.Equal("free", u.GetProperty("plan_id").GetString());
        Assert.Equal("pending", u.GetProperty("status").GetString());
        Assert.Equal(0, byEmail.ExitCode);
        Assert.Contains(id, byEmail.Output);

        var deleted = await RunAsync("users", "delete", "ann@corp.example");
        Assert.Equal(0, deleted.ExitCode);
        Assert.Contains("deleted user ann@corp.example", deleted.Output);
        Assert.Equal(3, (await RunAsync("users", "get", id)).ExitCode);
        Assert.Contains("(none)", (await RunAsync("users", "list")).Output);
    }

    [Fact]
    public async Task UsersGet_OnAPlanBillingOverageThroughStripe_ShowsSubscriptionAndWhetherOverageIsLetThrough()
    {
        // Arrange: payg bills its overage through a Stripe metered price; ann has no subscription, bob an active one,
        // cy a past-due one; dee is on a plan without overage and not a billing customer
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "payg", "--name", "Pay as you go", "--requests", "1000", "--overage", "1",
            "--stripe-overage-price-id", "price_metered", "--stripe-meter-event", "api_overage")).ExitCode);
        foreach (var (email, plan) in new[] { ("ann@example.com", "payg"), ("bob@example.com", "payg"), ("cy@example.com", "payg"), ("dee@example.com", "free") })
        {
            Assert.Equal(0, (await RunAsync("users", "create", "--email", email, "--plan", plan)).ExitCode);
        }

        await using (var store = new SqliteGatewayStore(Environment["APIGATE_DATABASE_DSN"], new SecretProtector(null)))
        {
            foreach (var (email, customer, subscription, status) in new[] { ("bob@example.com", "cus_bob", "sub_bob", "active"), ("cy@example.com", "cus_cy", "sub_cy", "past_due") })
            {
                var user = (await store.FindUserAsync(email, CancellationToken.None))!;
                await store.AddBillingCustomerAsync(new BillingCustomer(user.Id, "stripe", customer, subscription, status, 1, 1, false, DateTimeOffset.UtcNow), CancellationToken.None);
            }
        }

        // Act
        var ann = (await RunAsync("users", "get", "ann@example.com")).Output;
        var bob = (await RunAsync("users", "get", "bob@example.com")).Output;
        var cy = (await RunAsync("users", "get", "cy@example.com")).Output;
        var dee = (await RunAsync("users", "get", "dee@example.com")).Output;

        // Assert
        Assert.Matches(@"(?m)^overage\s+refused past the quota while billing is on \(no paying subscription\)$", ann);
        Assert.DoesNotContain("billing_customer", ann, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^billing_customer\s+cus_bob$", bob);
        Assert.Matches(@"(?m)^subscription\s+sub_bob \(active\)$", bob);
        Assert.Matches(@"(?m)^overage\s+billed through Stripe \(paying subscription\)$", bob);
        Assert.Matches(@"(?m)^subscription\s+sub_cy \(past_due\)$", cy);
        Assert.Matches(@"(?m)^overage\s+refused past the quota while billing is on \(no paying subscription\)$", cy);
        Assert.DoesNotContain("overage", dee, StringComparison.Ordinal);
        Assert.DoesNotContain("subscription", dee, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersActivateDeactivate_SetActiveAndSuspended()
    {
        await RunAsync("users", "create", "--email", "ann@example.com");

        var deactivated = await RunAsync("users", "deactivate", "ann@example.com", "--json");
        var activated = await RunAsync("users", "activate", "ann@example.com", "--json");

        Assert.Equal("suspended", JsonDocument.Parse(deactivated.Output).RootElement.GetProperty("status").GetString());
        Assert.Equal("active", JsonDocument.Parse(activated.Output).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task UsersCreateAndUpdate_UnknownStatus_RefusedNamingTheFieldAndNothingChanges()
    {
        var created = await RunAsync("users", "create", "--email", "ann@example.com", "--status", "sleeping");
        await RunAsync("users", "create", "--email", "bob@example.com");
        var updated = await RunAsync("users", "update", "bob@example.com", "--status", "sleeping");
        var listed = await RunAsync("users", "list", "--json");

        Assert.Equal(2, created.ExitCode);
        Assert.Contains("status: 'sleeping' is not one of active, cancelled, pending, suspended", created.Error);
        Assert.Equal(2, updated.ExitCode);
        Assert.Contains("status: 'sleeping' is not one of active, cancelled, pending, suspended", updated.Error);
        var user = Assert.Single(JsonDocument.Parse(listed.Output).RootElement.EnumerateArray());
        Assert.Equal("bob@example.com", user.GetProperty("email").GetString());
        Assert.Equal("active", user.GetProperty("status").GetString());
    }

    [Fact]
    public async Task UsersCreate_WithoutPlan_GetsTheMigrationsDefaultFreePlan()
    {
        var created = await RunAsync("users", "create", "--email", "ann@example.com", "--json");

        Assert.Equal(0, created.ExitCode);
        Assert.Equal("free", JsonDocument.Parse(created.Output).RootElement.GetProperty("plan_id").GetString());
        Assert.Equal("active", JsonDocument.Parse(created.Output).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task UsersDeleteJson_PrintsTheUserWithTheCountsOfKeysAndJwtLinksDeletedWithIt()
    {
        // Arrange
        await RunAsync("users", "create", "--email", "ann@example.com");
        await RunAsync("keys", "create", "--user", "ann@example.com");
        await RunAsync("keys", "create", "--user", "ann@example.com");
        await RunAsync("users", "link-identity", "ann@example.com", "--subject", "s-1", "--issuer", "https://login.example.com");

        // Act
        var deleted = await RunAsync("users", "delete", "ann@example.com", "--json");

        // Assert
        Assert.Equal(0, deleted.ExitCode);
        var user = JsonDocument.Parse(deleted.Output).RootElement;
        Assert.Equal("ann@example.com", user.GetProperty("email").GetString());
        Assert.Equal(2, user.GetProperty("deleted_api_keys").GetInt32());
        Assert.Equal(1, user.GetProperty("deleted_jwt_subject_links").GetInt32());
    }

    [Fact]
    public async Task UsersDelete_AlsoDeletesTheirKeys_AndSaysSo()
    {
        await RunAsync("users", "create", "--email", "ann@example.com");
        await RunAsync("users", "create", "--email", "bob@example.com");
        await RunAsync("keys", "create", "--user", "ann@example.com");
        await RunAsync("keys", "create", "--user", "ann@example.com");
        await RunAsync("keys", "create", "--user", "bob@example.com");
        await RunAsync("users", "link-identity", "ann@example.com", "--subject", "s-1", "--issuer", "https://login.example.com");

        var deleted = await RunAsync("users", "delete", "ann@example.com");

        Assert.Equal(0, deleted.ExitCode);
        Assert.Contains("2 API keys and 1 JWT subject link", deleted.Output);
        var keys = JsonDocument.Parse((await RunAsync("keys", "list", "--json")).Output).RootElement;
        Assert.Equal(1, keys.GetArrayLength());
    }

    [Fact]
    public async Task UsersLinkIdentity_IssuerFromTheSetting_ListedRefusedTwiceThenUnlinked()
    {
        // Arrange: the gateway's issuer spelled with a trailing slash; the operator types it without one
        Environment["APIGATE_JWT_ISSUER"] = "https://login.example.com/";
        Environment["APIGATE_JWT_AUDIENCE"] = "api";
        await RunAsync("users", "create", "--email", "ann@example.com");
        await RunAsync("users", "create", "--email", "bob@example.com");

        // Act
        var linked = await RunAsync("users", "link-identity", "ann@example.com", "--subject", "auth0|123", "--issuer", "https://login.example.com");
        var again = await RunAsync("users", "link-identity", "bob@example.com", "--subject", "auth0|123");
        var listed = await RunAsync("users", "identities", "ann@example.com", "--json");
        var table = await RunAsync("users", "identities", "ann@example.com");
        var shown = await RunAsync("users", "get", "ann@example.com");
        var unlinked = await RunAsync("users", "unlink-identity", "ann@example.com", "--subject", "auth0|123");
        var afterUnlink = await RunAsync("users", "identities", "ann@example.com", "--json");

        // Assert
        Assert.True(linked.ExitCode == 0, linked.Error);
        Assert.Contains("https://login.example.com/", linked.Output); // stored under the setting's spelling, which tokens are matched under
        Assert.Equal(4, again.ExitCode); // linked to another user: a conflict naming them
        Assert.Contains("ann@example.com", again.Error);
        var identity = Assert.Single(JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().ToList());
        Assert.Equal("https://login.example.com/", identity.GetProperty("issuer").GetString());
        Assert.Equal("auth0|123", identity.GetProperty("subject").GetString());
        Assert.Contains("ISSUER", table.Output);
        Assert.Matches(@"jwt_subjects\s+1", shown.Output);
        Assert.Equal(0, unlinked.ExitCode);
        Assert.Contains("deleted link of subject 'auth0|123'", unlinked.Output);
        Assert.Equal(0, JsonDocument.Parse(afterUnlink.Output).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task UsersLinkIdentity_IssuerNotTheOneThisCommandSees_LinksButWarnsThatOnlyThatSpellingIsUsed()
    {
        // Arrange: the CLI runs without the gateway's environment; the operator types the issuer with a trailing slash
        await RunAsync("users", "create", "--email", "ann@example.com");

        // Act
        var unconfigured = await RunAsync("users", "link-identity", "ann@example.com", "--subject", "s-1", "--issuer", "https://login.example.com/");
        Environment["APIGATE_JWT_ISSUER"] = "https://login.example.com";
        Environment["APIGATE_JWT_AUDIENCE"] = "api";
        var otherIssuer = await RunAsync("users", "link-identity", "ann@example.com", "--subject", "s-2", "--issuer", "https://other.example.com");
        var configured = await RunAsync("users", "link-identity", "ann@example.com", "--subject", "s-3", "--issuer", "https://login.example.com/");

        // Assert: each is linked as given; only the links a gateway with this jwt.issuer would never use carry a warning
        Assert.True(unconfigured.ExitCode == 0, unconfigured.Error);
        Assert.Contains("warning: a gateway uses this link only when its jwt.issuer is 'https://login.example.com/' (a trailing slash aside)", unconfigured.Error);
        Assert.Contains("sees no jwt.issuer", unconfigured.Error);
        Assert.Equal(0, otherIssuer.ExitCode);
        Assert.Contains("this command sees jwt.issuer 'https://login.example.com'", otherIssuer.Error);
        Assert.Equal(0, configured.ExitCode);
        Assert.DoesNotContain("warning", configured.Error); // the setting's own issuer, slash or not, is stored as the setting spells it
        Assert.Equal(3, JsonDocument.Parse((await RunAsync("users", "identities", "ann@example.com", "--json")).Output).RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("--issuer", "users", "link-identity", "ann@example.com", "--subject", "s-1")] // no --issuer and no jwt.issuer set
    [InlineData("--issuer", "users", "link-identity", "ann@example.com", "--subject", "s-1", "--issuer", "ftp://login.example.com")]
    [InlineData("--subject", "users", "link-identity", "ann@example.com", "--subject", " s-1", "--issuer", "https://login.example.com")]
    [InlineData("--subject", "users", "link-identity", "ann@example.com", "--subject", "", "--issuer", "https://login.example.com")]
    public async Task UsersLinkIdentity_BadInput_NamesTheField_ExitsTwo_LinksNothing(string field, params string[] args)
    {
        // Arrange
        await RunAsync("users", "create", "--email", "ann@example.com");

        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: " + field + ":", result.Error);
        Assert.Equal(0, JsonDocument.Parse((await RunAsync("users", "identities", "ann@example.com", "--json")).Output).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task KeysCreate_PrintsTheFullKeyOnce_AndNothingElseEverShowsIt()
    {
        await RunAsync("users", "create", "--email", "ann@example.com");

        var created = await RunAsync("keys", "create", "--user", "ann@example.com", "--name", "ci", "--expires", "30d");

        Assert.Equal(0, created.ExitCode);
        var matches = AnyKey().Matches(created.Output);
        var key = Assert.Single(matches).Value;
        Assert.Matches("^ak_[0-9a-f]{64}$", key);
        Assert.Equal(key + "\n", created.Output.ReplaceLineEndings("\n")); // only the key: KEY=$(apigate keys create ...)
        Assert.Contains("not be shown again", created.Error);
        Assert.Contains("ann@example.com", created.Error);
        var later = new List<CliResult>
        {
            await RunAsync("keys", "list"),
            await RunAsync("keys", "list", "--json"),
            await RunAsync("keys", "list", "--user", "ann@example.com", "--json"),
            await RunAsync("users", "get", "ann@example.com"),
            await RunAsync("users", "get", "ann@example.com", "--json"),
            await RunAsync("users", "list", "--json"),
        };
        Assert.All(later, o => Assert.Equal(0, o.ExitCode));
        Assert.All(later, o => Assert.DoesNotContain(key, o.Output + o.Error));
        Assert.All(later, o => Assert.DoesNotContain(key[..20], o.Output + o.Error));
        Assert.Contains(key[..12], later[0].Output);
        Assert.DoesNotContain("hash", later[1].Output);
    }

    [Fact]
    public async Task KeysCreate_Json_HasTheRecordFieldsAndTheKeyButNoHash()
    {
        await RunAsync("users", "create", "--email", "ann@example.com");

        var created = await RunAsync("keys", "create", "--user", "ann@example.com", "--name", "ci", "--expires", "2099-01-31", "--json");

        Assert.Equal(0, created.ExitCode);
        var k = JsonDocument.Parse(created.Output).RootElement;
        var key = k.GetProperty("key").GetString()!;
        Assert.Matches("^ak_[0-9a-f]{64}$", key);
        Assert.Single(AnyKey().Matches(created.Output));
        Assert.Equal(key[..12], k.GetProperty("prefix").GetString());
        Assert.Equal("ci", k.GetProperty("name").GetString());
        Assert.StartsWith("usr_", k.GetProperty("user_id").GetString());
        Assert.Equal(new DateTimeOffset(2099, 1, 31, 0, 0, 0, TimeSpan.Zero), k.GetProperty("expires_at").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, k.GetProperty("revoked_at").ValueKind);
        Assert.False(k.TryGetProperty("hash", out _));
    }

    [Fact]
    public async Task KeysCreate_ConfiguredPrefix_StartsTheKey()
    {
        Environment["APIGATE_AUTH_KEY_PREFIX"] = "sk_";
        await RunAsync("users", "create", "--email", "ann@example.com");

        var created = await RunAsync("keys", "create", "--user", "ann@example.com", "--json");

        Assert.Equal(0, created.ExitCode);
        var k = JsonDocument.Parse(created.Output).RootElement;
        Assert.Matches("^sk_[0-9a-f]{64}$", k.GetProperty("key").GetString());
        Assert.StartsWith("sk_", k.GetProperty("prefix").GetString());
    }

    [Fact]
    public async Task KeysList_ByUser_ShowsOnlyTheirKeys()
    {
        await RunAsync("users", "create", "--email", "ann@example.com");
        await RunAsync("users", "create", "--email", "bob@example.com");
        await RunAsync("keys", "create", "--user", "ann@example.com", "--name", "a1");
        await RunAsync("keys", "create", "--user", "bob@example.com", "--name", "b1");

        var ann = await RunAsync("keys", "list", "--user", "ann@example.com", "--json");
        var all = await RunAsync("keys", "list");
        var unknown = await RunAsync("keys", "list", "--user", "nobody@example.com");

        Assert.Equal(["a1"], JsonDocument.Parse(ann.Output).RootElement.EnumerateArray().Select(k => k.GetProperty("name").GetString()));
        Assert.Contains("bob@example.com", all.Output);
        Assert.Equal(3, unknown.ExitCode);
    }

    [Fact]
    public async Task KeysList_UnknownUser_RefusedNamingTheUserFlag_ExitCode3()
    {
        // Act
        var result = await RunAsync("keys", "list", "--user", "nobody@example.com");

        // Assert
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("error: --user: no user with id or email 'nobody@example.com'", result.Error.Trim().Split('\n')[^1]);
    }

    [Fact]
    public async Task KeysRevoke_SetsRevokedAt()
    {
        await RunAsync("users", "create", "--email", "ann@example.com");
        var id = JsonDocument.Parse((await RunAsync("keys", "create", "--user", "ann@example.com", "--json")).Output).RootElement.GetProperty("id").GetString()!;

        var revoked = await RunAsync("keys", "revoke", id);
        var missing = await RunAsync("keys", "revoke", "key_missing");

        Assert.Equal(0, revoked.ExitCode);
        Assert.Contains("revoked key", revoked.Output);
        var k = Assert.Single(JsonDocument.Parse((await RunAsync("keys", "list", "--json")).Output).RootElement.EnumerateArray());
        Assert.Equal(JsonValueKind.String, k.GetProperty("revoked_at").ValueKind);
        Assert.Equal(3, missing.ExitCode);
    }

    [Fact]
    public async Task KeysRevoke_KeyRevokedAlready_ExitsZeroSayingWhenItWasRevokedAndKeepsThatTime()
    {
        // Arrange: a key revoked once
        await RunAsync("users", "create", "--email", "ann@example.com");
        var id = JsonDocument.Parse((await RunAsync("keys", "create", "--user", "ann@example.com", "--json")).Output).RootElement.GetProperty("id").GetString()!;
        using var first = JsonDocument.Parse((await RunAsync("keys", "revoke", id, "--json")).Output);
        var revokedAt = first.RootElement.GetProperty("revoked_at").GetDateTimeOffset();
        var prefix = first.RootElement.GetProperty("prefix").GetString();

        // Act: revoked again, as text and as JSON
        var again = await RunAsync("keys", "revoke", id);
        var againJson = await RunAsync("keys", "revoke", id, "--json");

        // Assert: exit 0 both times, the first revocation's time kept and named, and the JSON says so
        Assert.False(first.RootElement.GetProperty("already_revoked").GetBoolean());
        Assert.Equal((0, 0), (again.ExitCode, againJson.ExitCode));
        Assert.Equal($"key {prefix}… ({id}) was already revoked at {revokedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)}; nothing changed", again.Output.TrimEnd());
        using var json = JsonDocument.Parse(againJson.Output);
        Assert.True(json.RootElement.GetProperty("already_revoked").GetBoolean());
        Assert.Equal(revokedAt, json.RootElement.GetProperty("revoked_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Entitlements_CreateListGetUpdateDelete_RoundTrip()
    {
        var created = await RunAsync("entitlements", "create", "--name", "max_api_keys", "--value-type", "number", "--default-value", "3",
            "--display-name", "Max API keys", "--description", "Keys per user", "--category", "limits");
        var updated = await RunAsync("entitlements", "update", "max_api_keys", "--default-value", "5", "--header-name", "X-Max-Keys", "--enabled", "false");
        var listed = await RunAsync("entitlements", "list", "--json");
        var got = await RunAsync("entitlements", "get", "max_api_keys", "--json");
        var table = await RunAsync("entitlements", "list");

        Assert.Equal(0, created.ExitCode);
        Assert.Equal(0, updated.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(listed.Output).RootElement.GetArrayLength());
        var e = JsonDocument.Parse(got.Output).RootElement;
        Assert.Equal("Max API keys", e.GetProperty("display_name").GetString());
        Assert.Equal("Keys per user", e.GetProperty("description").GetString());
        Assert.Equal("limits", e.GetProperty("category").GetString());
        Assert.Equal("number", e.GetProperty("value_type").GetString());
        Assert.Equal("5", e.GetProperty("default_value").GetString());
        Assert.Equal("X-Max-Keys", e.GetProperty("header_name").GetString());
        Assert.False(e.GetProperty("enabled").GetBoolean());
        Assert.Contains("X-Max-Keys", table.Output);

        var id = e.GetProperty("id").GetString()!;
        Assert.Equal(0, (await RunAsync("entitlements", "delete", id)).ExitCode);
        Assert.Equal(3, (await RunAsync("entitlements", "get", "max_api_keys")).ExitCode);
    }

    [Fact]
    public async Task PlanEntitlements_CreateListByPlanDelete_RoundTrip()
    {
        await RunAsync("plans", "create", "--id", "pro", "--name", "Pro");
        await RunAsync("entitlements", "create", "--name", "webhooks", "--value-type", "boolean", "--default-value", "false");
        await RunAsync("entitlements", "create", "--name", "max_api_keys", "--value-type", "number", "--default-value", "1");

        var first = await RunAsync("plan-entitlements", "create", "--plan-id", "pro", "--entitlement-id", "webhooks", "--value", "true", "--json");
        var second = await RunAsync("plan-entitlements", "create", "--plan", "pro", "--entitlement", "max_api_keys", "--value", "10", "--enabled", "false");
        var table = await RunAsync("plan-entitlements", "list-by-plan", "pro");
        var listed = await RunAsync("plan-entitlements", "list-by-plan", "pro", "--json");
        var unknownPlan = await RunAsync("plan-entitlements", "list-by-plan", "gold");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        var a = JsonDocument.Parse(first.Output).RootElement;
        Assert.Equal("pro", a.GetProperty("plan_id").GetString());
        Assert.StartsWith("ent_", a.GetProperty("entitlement_id").GetString());
        Assert.Equal("true", a.GetProperty("value").GetString());
        Assert.True(a.GetProperty("enabled").GetBoolean());
        Assert.Contains("webhooks", table.Output);
        Assert.Contains("max_api_keys", table.Output);
        var values = JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().ToDictionary(x => x.GetProperty("value").GetString()!, x => x.GetProperty("enabled").GetBoolean());
        Assert.Equal(new Dictionary<string, bool> { ["true"] = true, ["10"] = false }, values);
        Assert.Equal(3, unknownPlan.ExitCode);

        Assert.Equal(0, (await RunAsync("plan-entitlements", "delete", a.GetProperty("id").GetString()!)).ExitCode);
        Assert.Equal(1, JsonDocument.Parse((await RunAsync("plan-entitlements", "list-by-plan", "pro", "--json")).Output).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task PlanEntitlementsCreate_PlanHasAValueAlready_NamesItToUpdateAndKeepsIt()
    {
        // Arrange
        await RunAsync("plans", "create", "--id", "pro", "--name", "Pro");
        await RunAsync("entitlements", "create", "--name", "webhooks", "--value-type", "boolean", "--default-value", "false");
        var first = await RunAsync("plan-entitlements", "create", "--plan-id", "pro", "--entitlement-id", "webhooks", "--value", "true", "--json");
        var id = JsonDocument.Parse(first.Output).RootElement.GetProperty("id").GetString()!;

        // Act
        var second = await RunAsync("plan-entitlements", "create", "--plan-id", "pro", "--entitlement-id", "webhooks", "--value", "false");
        var listed = await RunAsync("plan-entitlements", "list-by-plan", "pro", "--json");

        // Assert
        Assert.Equal(4, second.ExitCode);
        Assert.Equal(
            $"error: --entitlement-id: plan 'pro' already has a value for entitlement 'webhooks' ({id}); update that one instead\n",
            second.Diagnostics.ReplaceLineEndings("\n"));
        var value = Assert.Single(JsonDocument.Parse(listed.Output).RootElement.EnumerateArray());
        Assert.Equal(id, value.GetProperty("id").GetString());
        Assert.Equal("true", value.GetProperty("value").GetString());
    }

    [Theory]
    [InlineData("no upstream with id or slug 'billing-api'", "upstreams", "get", "billing-api")]
    [InlineData("no route with id or slug 'orders'", "routes", "delete", "orders")]
    [InlineData("no user with id or email 'ghost@example.com'", "users", "get", "ghost@example.com")]
    [InlineData("no plan with id 'gold'", "plans", "get", "gold")]
    [InlineData("no entitlement with id or name 'max_seats'", "entitlements", "get", "max_seats")]
    [InlineData("no plan entitlement with id 'pe_missing'", "plan-entitlements", "delete", "pe_missing")]
    [InlineData("no key with id 'key_missing'", "keys", "revoke", "key_missing")]
    public async Task Get_UnknownReference_SaysWhatTheKindIsLookedUpBy(string message, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("error: " + message, result.Error);
    }

    [Fact]
    public async Task PlanEntitlementsUpdate_ValueThenEnabled_ChangesTheSameAssignmentAndRefusesAValueOfTheWrongType()
    {
        // Arrange
        await RunAsync("plans", "create", "--id", "pro", "--name", "Pro");
        await RunAsync("entitlements", "create", "--name", "max_api_keys", "--value-type", "number", "--default-value", "1");
        var id = JsonDocument.Parse((await RunAsync("plan-entitlements", "create", "--plan", "pro", "--entitlement", "max_api_keys", "--value", "10", "--json")).Output)
            .RootElement.GetProperty("id").GetString()!;

        // Act
        var value = await RunAsync("plan-entitlements", "update", id, "--value", "25");
        var enabled = await RunAsync("plan-entitlements", "update", id, "--enabled", "false", "--json");
        var wrongType = await RunAsync("plan-entitlements", "update", id, "--value", "lots");
        var nothing = await RunAsync("plan-entitlements", "update", id);
        var missing = await RunAsync("plan-entitlements", "update", "pe_missing", "--value", "3");
        var listed = JsonDocument.Parse((await RunAsync("plan-entitlements", "list-by-plan", "pro", "--json")).Output).RootElement;

        // Assert
        Assert.Equal(0, value.ExitCode);
        Assert.Contains("max_api_keys", value.Output);
        Assert.Matches(@"value\s+25", value.Output);
        Assert.Equal(0, enabled.ExitCode);
        var after = JsonDocument.Parse(enabled.Output).RootElement;
        Assert.Equal((id, "25", false), (after.GetProperty("id").GetString(), after.GetProperty("value").GetString(), after.GetProperty("enabled").GetBoolean()));
        Assert.Equal(2, wrongType.ExitCode);
        Assert.Contains("value", wrongType.Error);
        Assert.Contains("is number", wrongType.Error);
        Assert.Equal(2, nothing.ExitCode);
        Assert.Contains("nothing to change", nothing.Error);
        Assert.Equal(3, missing.ExitCode);
        var only = Assert.Single(listed.EnumerateArray().ToList());
        Assert.Equal((id, "25", false), (only.GetProperty("id").GetString(), only.GetProperty("value").GetString(), only.GetProperty("enabled").GetBoolean()));
    }

    [Theory]
    [InlineData("--email", "users", "create", "--email", "ann@example.com")]
    [InlineData("--email", "users", "create", "--email", "ANN@example.com")]
    [InlineData("--email", "users", "create", "--email", "not-an-email")]
    [InlineData("--email", "users", "create")]
    [InlineData("--plan", "users", "create", "--email", "bob@example.com", "--plan", "gold")]
    [InlineData("--status", "users", "create", "--email", "bob@example.com", "--status", "banned")]
    [InlineData("--plan", "users", "update", "ann@example.com", "--plan", "gold")]
    [InlineData("--status", "users", "update", "ann@example.com", "--status", "banned")]
    [InlineData("--user", "keys", "create", "--user", "nobody@example.com")]
    [InlineData("--user", "keys", "create")]
    [InlineData("--expires", "keys", "create", "--user", "ann@example.com", "--expires", "soon")]
    [InlineData("--expires", "keys", "create", "--user", "ann@example.com", "--expires", "2001-01-01")]
    [InlineData("--id", "plans", "create", "--id", "pro", "--name", "Again")]
    [InlineData("--id", "plans", "create", "--id", "Not Valid", "--name", "X")]
    [InlineData("--name", "plans", "create", "--id", "gold")]
    [InlineData("--rate-limit", "plans", "create", "--id", "gold", "--name", "Gold", "--rate-limit", "-5")]
    [InlineData("--price", "plans", "update", "pro", "--price", "-1")]
    [InlineData("--name", "entitlements", "create", "--name", "Bad-Name")]
    [InlineData("--name", "entitlements", "create", "--name", "webhooks")]
    [InlineData("--value-type", "entitlements", "create", "--name", "sla", "--value-type", "list")]
    [InlineData("--default-value", "entitlements", "create", "--name", "sla", "--value-type", "boolean", "--default-value", "maybe")]
    [InlineData("--default-value", "entitlements", "update", "max_api_keys", "--default-value", "lots")]
    [InlineData("--value-type", "entitlements", "update", "webhooks", "--value-type", "number", "--default-value", "0")]
    [InlineData("--plan-id", "plan-entitlements", "create", "--plan-id", "gold", "--entitlement-id", "sso", "--value", "true")]
    [InlineData("--entitlement-id", "plan-entitlements", "create", "--plan-id", "pro", "--entitlement-id", "missing", "--value", "true")]
    [InlineData("--entitlement-id", "plan-entitlements", "create", "--plan-id", "pro", "--entitlement-id", "webhooks", "--value", "false")]
    [InlineData("--value", "plan-entitlements", "create", "--plan", "pro", "--entitlement", "sso", "--value", "maybe")]
    [InlineData("--value", "plan-entitlements", "create", "--plan", "pro", "--entitlement", "max_api_keys", "--value", "12x")]
    public async Task BadInput_NamesTheField_ExitsNonZero_WritesNothing(string field, params string[] args)
    {
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "pro", "--name", "Pro")).ExitCode);
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.com", "--plan", "pro")).ExitCode);
        Assert.Equal(0, (await RunAsync("keys", "create", "--user", "ann@example.com")).ExitCode);
        Assert.Equal(0, (await RunAsync("entitlements", "create", "--name", "webhooks", "--value-type", "boolean")).ExitCode);
        Assert.Equal(0, (await RunAsync("entitlements", "create", "--name", "sso", "--value-type", "boolean")).ExitCode);
        Assert.Equal(0, (await RunAsync("entitlements", "create", "--name", "max_api_keys", "--value-type", "number", "--default-value", "2")).ExitCode);
        Assert.Equal(0, (await RunAsync("plan-entitlements", "create", "--plan", "pro", "--entitlement", "webhooks", "--value", "true")).ExitCode);
        var before = await SnapshotAsync();

        var result = await RunAsync(args);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(field + ":", result.Error);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("users", "get", "nobody@example.com")]
    [InlineData("users", "update", "nobody@example.com", "--name", "X")]
    [InlineData("users", "delete", "nobody@example.com")]
    [InlineData("plans", "get", "gold")]
    [InlineData("plans", "enable", "gold")]
    [InlineData("plans", "delete", "gold")]
    [InlineData("entitlements", "get", "nothing")]
    [InlineData("entitlements", "delete", "nothing")]
    [InlineData("plan-entitlements", "delete", "pe_missing")]
    public async Task UnknownReference_ExitsWithNotFound(params string[] args)
    {
        var result = await RunAsync(args);

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("error: ", result.Diagnostics);
    }

    [GeneratedRegex("[a-z]{2}_[0-9a-f]{64}")]
    private static partial Regex AnyKey();

    private async Task<IReadOnlyList<string?>> DefaultPlansAsync() =>
        JsonDocument.Parse((await RunAsync("plans", "list", "--json")).Output).RootElement.EnumerateArray()
            .Where(p => p.GetProperty("is_default").GetBoolean()).Select(p => p.GetProperty("id").GetString()).ToList();

    private async Task<string> SnapshotAsync()
    {
        var outputs = new[]
        {
            await RunAsync("plans", "list", "--json"),
            await RunAsync("users", "list", "--json"),
            await RunAsync("keys", "list", "--json"),
            await RunAsync("entitlements", "list", "--json"),
            await RunAsync("plan-entitlements", "list-by-plan", "pro", "--json"),
        };
        Assert.All(outputs, o => Assert.Equal(0, o.ExitCode));
        return string.Concat(outputs.Select(o => o.Output));
    }

}
