using System.Net;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Npgsql;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// The forgot-password form and the login page's "Send a new confirmation link" answer before anything that depends on
/// the address is done: a real gateway on PostgreSQL where the test holds both the look-up of the address (an ACCESS
/// EXCLUSIVE lock on <c>users</c>, which every read of it waits for) and every link write (a trigger waiting for an
/// advisory lock the test holds) — the account can be neither found nor sent a link until the test lets go, yet the form
/// has answered.
/// </summary>
public sealed class PortalLinkRequestAnswerFirstTests(StoreEngines engines) : PortalTestBase, IClassFixture<StoreEngines>
{
    private const string Email = "held@customer.example";

    /// <summary>The advisory lock the trigger waits for (any number no other test of this database uses).</summary>
    private const long Gate = 4_170_675;

    private string _dsn = "";

    private protected override void ConfigurePortal(GatewayOptions options)
    {
        // No command timeout: the held write waits for the test, however slow the machine, never for a clock
        _dsn = engines.NewDsnAsync(GatewayStores.Postgres).GetAwaiter().GetResult() + ";Command Timeout=0";
        options.DatabaseDriver = GatewayStores.Postgres;
        options.DatabaseDsn = _dsn;
    }

    [PostgresFact]
    public Task Forgot_LinkWritesHeld_AnsweredBeforeTheLinkIsMadeAndMailedOnceReleased() =>
        AnsweredWhileHeldAsync("/portal/forgot", "forgot", "Email",
            $"If {Email} has an account, we sent it a link to reset the password. It works for one hour.", "/portal/reset");

    [PostgresFact]
    public Task LoginResend_LinkWritesHeld_AnsweredBeforeTheLinkIsMadeAndMailedOnceReleased() =>
        AnsweredWhileHeldAsync("/portal/login", "resend", "ResendEmail",
            $"If {Email} has an unconfirmed account, we sent it a new link.", "/portal/verify");

    private async Task AnsweredWhileHeldAsync(string page, string form, string field, string answer, string linkPath)
    {
        // Arrange: an unconfirmed account; every insert of a link waits for the advisory lock, which the test takes
        // (the trigger's own lock_timeout 0: it waits as long as the test holds it, not the store's write-lock timeout)
        await CreateUnconfirmedAccountAsync(Email);
        var user = (await Gateway.Store.FindUserAsync(Email, CancellationToken.None))!;
        await using var holder = new NpgsqlConnection(_dsn);
        await holder.OpenAsync();
        await ScalarAsync(holder, "CREATE FUNCTION wait_for_test() RETURNS trigger LANGUAGE plpgsql SET lock_timeout = 0 AS " +
                                  $"$$ BEGIN PERFORM pg_advisory_xact_lock({Gate}); RETURN NEW; END $$; " +
                                  "CREATE TRIGGER wait_for_test BEFORE INSERT ON portal_tokens FOR EACH ROW EXECUTE FUNCTION wait_for_test(); " +
                                  $"SELECT count(*) FROM (SELECT pg_advisory_lock({Gate})) held", null);
        // The look-up of the address is held too: an open transaction of the test locks users against every access, reads
        // included (the store reads without a lock timeout, so the look-up waits rather than fails). Nothing the answer
        // needs touches users: the page and its antiforgery token need no account, and the per-client mail-request limit
        // is written to a table of its own, with no reference to users.
        await using var lookUps = await holder.BeginTransactionAsync();
        await ScalarAsync(holder, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT 1", null);
        using var client = CookieClient();

        // Act: the form is posted while the address cannot be looked up and links cannot be written
        var posted = PostFormAsync(client, page, form, (field, Email));
        await Poll.UntilAsync(() => posted.IsCompleted, () => "no answer while the look-up was held: the address is looked up before the answer");
        var response = await posted;
        var text = await response.Content.ReadAsStringAsync();
        // (the look-up is under way, waiting for the test's lock on users)
        await Poll.UntilAsync(async () => await ScalarAsync(holder,
            "SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass AND NOT granted AND pid <> pg_backend_pid()", null) >= 1,
            () => "no look-up of the address waiting");
        await lookUps.CommitAsync();
        // (then the link's write is under way, waiting in the trigger: a session of this database waits on the advisory lock)
        await Poll.UntilAsync(async () => await ScalarAsync(holder,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory' AND pid <> pg_backend_pid()", null) == 1,
            () => "no link being written for the account");
        var tokensWhileHeld = await ScalarAsync(holder, "SELECT count(*) FROM portal_tokens WHERE user_id = @id", user.Id);
        await ScalarAsync(holder, $"SELECT count(*) FROM (SELECT pg_advisory_unlock({Gate})) released", null);
        var mail = await Smtp.NextToAsync(Email);

        // Assert: the exact answer while nothing had been looked up or stored for the account; the link mailed once
        // look-ups and writes went on
        Assert.Equal((HttpStatusCode.OK, answer), (response.StatusCode, TextOf(text, "message-ok")));
        Assert.Equal(0, tokensWhileHeld);
        Assert.StartsWith(Gateway.Url + linkPath + "?token=", TestSmtpServer.LinkIn(mail, linkPath), StringComparison.Ordinal);
        Assert.Equal(1, await ScalarAsync(holder, "SELECT count(*) FROM portal_tokens WHERE user_id = @id", user.Id));
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql, string? id)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is not null)
        {
            command.Parameters.AddWithValue("id", id);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
