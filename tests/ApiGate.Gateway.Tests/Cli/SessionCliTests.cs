using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.AdminUi;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// <c>apigate sessions end</c> and <c>apigate admin audit</c> against a running gateway's store: everybody signed out at
/// the next page; the changes made through the gateway listed.
/// </summary>
public sealed class SessionCliTests : IAsyncLifetime
{
    private TestGateway _gateway = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync(o => o.PortalEnabled = true);
        _token = (await new AdminTokenService(_gateway.Store, TimeProvider.System).CreateAsync("cli-sessions", CancellationToken.None)).Value!.Token;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task SessionsEnd_ConsoleOnly_ConsoleSignedOutPortalUntouched()
    {
        // Arrange: two console browsers and one portal session
        using var first = new ConsoleHttp(_gateway.Url);
        using var second = new ConsoleHttp(_gateway.Url);
        await first.SignInAsync(_token);
        await second.SignInAsync(_token);
        await _gateway.Store.CreateWebSessionAsync(
            new Core.Identity.WebSession("PORTAL", Core.Identity.WebSessionKind.Portal, "usr_1", "F", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow), 20, CancellationToken.None);

        // Act
        var result = await _gateway.CliAsync("sessions", "end", "--console");
        using var page = await first.GetAsync("/ui");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ended 2 console sessions" + Environment.NewLine, result.Output);
        Assert.Equal(HttpStatusCode.Found, page.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui&expired=1", first.PathOf(page));
        Assert.NotNull(await _gateway.Store.FindWebSessionAsync("PORTAL", CancellationToken.None));
    }

    [Fact]
    public async Task SessionsEnd_NoOptionJson_BothApplicationsCounted()
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        // Act
        var result = await _gateway.CliAsync("--json", "sessions", "end");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var ended = JsonDocument.Parse(result.Output).RootElement.GetProperty("ended");
        Assert.Equal(1, ended.GetProperty("console").GetInt32());
        Assert.Equal(0, ended.GetProperty("portal").GetInt32());
    }

    [Fact]
    public async Task AdminAudit_AfterChangesThroughTheApi_ListsThemNewestFirstAndRefusesABadLimit()
    {
        // Arrange: two changes through the admin API
        await CreatePlansAsync("gold", "silver");

        // Act
        var table = await _gateway.CliAsync("admin", "audit");
        var json = await _gateway.CliAsync("--json", "admin", "audit", "--limit", "1");
        var bad = await _gateway.CliAsync("admin", "audit", "--limit", "0");

        // Assert
        Assert.Equal(0, table.ExitCode);
        var changes = table.Output.Split('\n').Where(l => l.Contains("POST /admin/plans", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, changes.Count);
        Assert.All(changes, l => Assert.Contains("cli-sessions", l, StringComparison.Ordinal));
        Assert.StartsWith("TIME", table.Output, StringComparison.Ordinal);
        var newest = Assert.Single(JsonDocument.Parse(json.Output).RootElement.GetProperty("data").EnumerateArray().ToList());
        Assert.Equal(201, newest.GetProperty("status").GetInt32());
        Assert.DoesNotContain(_token, table.Output + json.Output, StringComparison.Ordinal);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("limit", bad.Error, StringComparison.Ordinal);
        Assert.Contains("must be between 1 and 10000", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminAudit_TwoPagesReadWithTheCursorTheFirstPrinted_EveryChangeSeenOnce()
    {
        // Arrange: five changes through the admin API
        await CreatePlansAsync("p1", "p2", "p3", "p4", "p5");

        // Act: a table page, then the rest as JSON from the cursor the table's last line gave
        var first = await _gateway.CliAsync("admin", "audit", "--limit", "3");
        var cursor = first.Output.TrimEnd().Split('\n')[^1]["next: --after ".Length..];
        var second = await _gateway.CliAsync("--json", "admin", "audit", "--limit", "3", "--after", cursor);

        // Assert: the newest three, then the two before them, and nothing after those
        Assert.Equal((0, 0), (first.ExitCode, second.ExitCode));
        var firstLines = first.Output.TrimEnd().Split('\n');
        Assert.Equal(2 + 3 + 1, firstLines.Length); // the header, its rule, three rows and the next line
        Assert.All(firstLines[2..^1], l => Assert.Contains("POST /admin/plans", l, StringComparison.Ordinal));
        Assert.StartsWith("next: --after ", firstLines[^1], StringComparison.Ordinal);
        var stored = await _gateway.Store.ListAdminAuditAsync(100, CancellationToken.None);
        var page = JsonDocument.Parse(second.Output).RootElement;
        Assert.Equal(stored.Skip(3).Select(c => c.Id), page.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetInt64()));
        Assert.Equal(5, page.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.False(page.GetProperty("meta").TryGetProperty("next_cursor", out _));
    }

    private async Task CreatePlansAsync(params string[] plans)
    {
        using var client = TestGateway.CreateClient();
        foreach (var plan in plans)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _gateway.Url + "/admin/plans")
            {
                Content = new StringContent($$"""{"id":"{{plan}}","name":"{{plan}}"}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Authorization", "Bearer " + _token);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
    }
}
