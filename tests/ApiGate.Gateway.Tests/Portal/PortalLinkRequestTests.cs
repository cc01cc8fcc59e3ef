using System.Net;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// The forgot-password form and the login page's "Send a new confirmation link" answer first and make the link after
/// (PortalLinkRequestWorker): a real gateway on its SQLite file, mail to the test SMTP server. Mail leaves in the order
/// the requests came, so once a later request's mail has arrived every earlier request is done.
/// </summary>
public sealed class PortalLinkRequestTests : PortalTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void ConfigurePortal(GatewayOptions options) => options.LogWriter = _log.Writer;

    private static string ResetAnswer(string email) => $"If {email} has an account, we sent it a link to reset the password. It works for one hour.";

    [Fact]
    public async Task Forgot_SixRequestsForOneAddressWithinAnHour_FiveMailsAndFiveLinksSameAnswerEveryTime()
    {
        // Arrange: two accounts made without mail (so none of the address's five mails an hour is spent yet)
        await CreateUnconfirmedAccountAsync("flooded@customer.example");
        await CreateUnconfirmedAccountAsync("marker@customer.example");
        using var client = CookieClient();

        // Act: six requests for one address, then one for another
        var answers = new List<(HttpStatusCode, string)>();
        for (var i = 0; i < 6; i++)
        {
            var response = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "flooded@customer.example"));
            answers.Add((response.StatusCode, TextOf(await response.Content.ReadAsStringAsync(), "message-ok")));
        }

        await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "marker@customer.example"));
        for (var i = 0; i < 5; i++)
        {
            await Smtp.NextToAsync("flooded@customer.example");
        }

        await Smtp.NextToAsync("marker@customer.example");

        // Assert: the same answer six times; five mails and five links, the sixth neither mailed nor issued
        Assert.All(answers, a => Assert.Equal((HttpStatusCode.OK, ResetAnswer("flooded@customer.example")), a));
        Assert.Equal(5, Smtp.Messages.Count(m => m.To.Mailboxes.Any(a => a.Address == "flooded@customer.example")));
        Assert.Equal(5, await TokenRowsAsync("flooded@customer.example"));
    }

    [Fact]
    public async Task Forgot_UnknownAddress_SameAnswerNoMailNoLink()
    {
        // Arrange
        await CreateUnconfirmedAccountAsync("marker@customer.example");
        using var client = CookieClient();

        // Act: the unknown address, then a registered one whose mail shows the first request is done
        var unknown = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "nobody@customer.example"));
        var unknownText = TextOf(await unknown.Content.ReadAsStringAsync(), "message-ok");
        await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "marker@customer.example"));
        var markerMail = await Smtp.NextToAsync("marker@customer.example");

        // Assert: the answer any address gets, and no mail nor token for it — the only token is the marker's
        Assert.Equal((HttpStatusCode.OK, ResetAnswer("nobody@customer.example")), (unknown.StatusCode, unknownText));
        Assert.Equal([markerMail], Smtp.Messages);
        Assert.Equal(1, await AllTokenRowsAsync());
        Assert.Equal(1, await TokenRowsAsync("marker@customer.example"));
    }

    [Fact]
    public async Task Forgot_StoreFailsForOneRequest_LoggedWithoutTheAddressAndTheNextRequestIsMailed()
    {
        // Arrange: every token write fails in the database (a trigger naming a table that does not exist)
        await CreateUnconfirmedAccountAsync("failing@customer.example");
        await CreateUnconfirmedAccountAsync("next@customer.example");
        var failing = (await Gateway.Store.FindUserAsync("failing@customer.example", CancellationToken.None))!;
        await ExecuteAsync("CREATE TRIGGER refuse_token BEFORE INSERT ON portal_tokens BEGIN INSERT INTO token_writes_refused_by_the_test VALUES (1); END");
        using var client = CookieClient();

        // Act: one request while the writes fail; once its failure is logged the database works again, and another follows
        var failed = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "failing@customer.example"));
        await Poll.UntilAsync(() => _log.Text.Contains("[8015]", StringComparison.Ordinal), () => "no failure logged: " + _log.Text);
        await ExecuteAsync("DROP TRIGGER refuse_token");
        var next = await PostFormAsync(client, "/portal/forgot", "forgot", ("Email", "next@customer.example"));
        var mail = await Smtp.NextToAsync("next@customer.example");
        var failingTokens = await CountAsync("SELECT count(*) FROM portal_tokens WHERE user_id = $user", failing.Id);
        await Gateway.StopAsync(); // writes the log's last batch

        // Assert: both answered as usual; the failure logged (the domain, not the address), the next request mailed
        Assert.Equal((HttpStatusCode.OK, ResetAnswer("failing@customer.example")), (failed.StatusCode, TextOf(await failed.Content.ReadAsStringAsync(), "message-ok")));
        Assert.Equal((HttpStatusCode.OK, ResetAnswer("next@customer.example")), (next.StatusCode, TextOf(await next.Content.ReadAsStringAsync(), "message-ok")));
        Assert.Equal("Acme API: reset your password", mail.Subject);
        Assert.StartsWith(Gateway.Url + "/portal/reset?token=", TestSmtpServer.LinkIn(mail, "/portal/reset"), StringComparison.Ordinal);
        Assert.Equal([mail], Smtp.Messages);
        Assert.Equal(0, failingTokens);
        var log = _log.Text;
        var line = Assert.Single(log.Split('\n'), l => l.Contains("[8015]", StringComparison.Ordinal));
        Assert.Contains("fail: ApiGate.Gateway.Portal.PortalLinkRequestWorker[8015] Portal password reset link requested for an address at customer.example " +
                        "was not sent: the work after the answer failed; the customer has to ask again", line, StringComparison.Ordinal);
        Assert.Contains("no such table: main.token_writes_refused_by_the_test", line, StringComparison.Ordinal);
        Assert.DoesNotContain("failing@", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoginResend_UnconfirmedAndUnknownAddress_SameAnswerOneLinkMailedAfterTheAnswer()
    {
        // Arrange
        await CreateUnconfirmedAccountAsync("waiting@customer.example");
        using var client = CookieClient();

        // Act: the unknown address first; the unconfirmed account's mail shows both requests are done
        var unknown = await PostFormAsync(client, "/portal/login", "resend", ("ResendEmail", "nobody@customer.example"));
        var pending = await PostFormAsync(client, "/portal/login", "resend", ("ResendEmail", "waiting@customer.example"));
        var mail = await Smtp.NextToAsync("waiting@customer.example");

        // Assert
        Assert.Equal((HttpStatusCode.OK, "If nobody@customer.example has an unconfirmed account, we sent it a new link."),
            (unknown.StatusCode, TextOf(await unknown.Content.ReadAsStringAsync(), "message-ok")));
        Assert.Equal((HttpStatusCode.OK, "If waiting@customer.example has an unconfirmed account, we sent it a new link."),
            (pending.StatusCode, TextOf(await pending.Content.ReadAsStringAsync(), "message-ok")));
        Assert.StartsWith(Gateway.Url + "/portal/verify?token=", TestSmtpServer.LinkIn(mail, "/portal/verify"), StringComparison.Ordinal);
        Assert.Equal([mail], Smtp.Messages);
        Assert.Equal(1, await AllTokenRowsAsync());
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Gateway.DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Tokens (reset or confirmation, used or not) stored for the user with <paramref name="email"/>.</summary>
    private async Task<long> TokenRowsAsync(string email)
    {
        var user = (await Gateway.Store.FindUserAsync(email, CancellationToken.None))!;
        return await CountAsync("SELECT count(*) FROM portal_tokens WHERE user_id = $user", user.Id);
    }

    private Task<long> AllTokenRowsAsync() => CountAsync("SELECT count(*) FROM portal_tokens", null);

    private async Task<long> CountAsync(string sql, string? user)
    {
        await using var connection = new SqliteConnection($"Data Source={Gateway.DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (user is not null)
        {
            command.Parameters.AddWithValue("$user", user);
        }

        return (long)(await command.ExecuteScalarAsync())!;
    }
}
