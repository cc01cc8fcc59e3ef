using System.Globalization;
using System.Text.Json;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate usage summary|history|recent</c> against events written through the store.</summary>
public sealed class UsageCliTests : IAsyncLifetime
{
    // The CLI reads the system clock; events are placed relative to the current UTC month.
    private static readonly DateTimeOffset ThisMonth = QuotaPeriod.StartOf(DateTimeOffset.UtcNow);

    private TempStore _temp = null!;
    private UserDefinition _ann = null!;

    public async Task InitializeAsync()
    {
        _temp = await TempStore.CreateAsync();
        var plans = new PlanService(_temp.Store, TimeProvider.System);
        var users = new UserService(_temp.Store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro", RequestsPerMonth = 1000 }, CancellationToken.None)).Ok);
        _ann = (await users.CreateAsync(new UserChanges { Email = "ann@example.com", Plan = "pro" }, CancellationToken.None)).Value!;
        var bob = (await users.CreateAsync(new UserChanges { Email = "bob@example.com" }, CancellationToken.None)).Value!;

        await _temp.Store.AddUsageEventsAsync(
        [
            Event(_ann.Id, ThisMonth.AddHours(1), "/a", units: 3),
            Event(_ann.Id, ThisMonth.AddHours(2), "/b", units: 4, status: 503),
            Event(_ann.Id, ThisMonth.AddHours(3), "/c", units: 5, status: 404),
            Event(_ann.Id, ThisMonth.AddMonths(-1).AddDays(2), "/last-month", units: 10),
            Event(_ann.Id, ThisMonth.AddMonths(-3), "/three-months-ago", units: 20, status: 500),
            Event(_ann.Id, ThisMonth.AddMonths(-7), "/too-old", units: 1000),
            Event(bob.Id, ThisMonth.AddHours(1), "/bob", units: 500),
        ], CancellationToken.None); // the store adds each event's units to its user's quota counter for that month
    }

    public async Task DisposeAsync() => await _temp.DisposeAsync();

    [Fact]
    public async Task UsageSummary_Json_ThisMonthsTotalsBesideTheQuota()
    {
        // Act
        var result = await _temp.CliAsync("usage", "summary", "--email", "ann@example.com", "--json");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var s = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal(_ann.Id, s.GetProperty("user_id").GetString());
        Assert.Equal("pro", s.GetProperty("plan_id").GetString());
        Assert.Equal(ThisMonth, s.GetProperty("period_start").GetDateTimeOffset());
        Assert.Equal(ThisMonth.AddMonths(1), s.GetProperty("period_end").GetDateTimeOffset());
        Assert.Equal(3, s.GetProperty("requests").GetInt64());
        Assert.Equal(12, s.GetProperty("units").GetInt64());
        Assert.Equal(300, s.GetProperty("request_bytes").GetInt64());
        Assert.Equal(3 * 2048, s.GetProperty("response_bytes").GetInt64());
        Assert.Equal(1, s.GetProperty("errors").GetInt64());
        Assert.Equal(1000, s.GetProperty("quota_limit").GetInt64());
        Assert.Equal(12, s.GetProperty("quota_used").GetInt64());
        Assert.Equal(988, s.GetProperty("quota_remaining").GetInt64());
    }

    [Fact]
    public async Task UsageSummary_Table_ShowsTotalsAndQuota()
    {
        // Act
        var result = await _temp.CliAsync("usage", "summary", "--user", _ann.Id);

        // Assert
        Assert.Equal(0, result.ExitCode);
        var fields = Fields(result.Output);
        Assert.Equal($"ann@example.com ({_ann.Id})", fields["user"]);
        Assert.Equal("pro (Pro)", fields["plan"]);
        Assert.StartsWith(ThisMonth.ToString("yyyy-MM", CultureInfo.InvariantCulture), fields["period"]);
        Assert.Equal("3", fields["requests"]);
        Assert.Equal("12", fields["units"]);
        Assert.StartsWith("1 ", fields["errors"]);
        Assert.Equal("1000 units/month", fields["quota_limit"]);
        Assert.Equal("12 (1.2% of the quota)", fields["quota_used"]);
        Assert.Equal("988", fields["quota_remaining"]);
    }

    [Fact]
    public async Task UsageSummary_UnlimitedPlanWithoutEvents_ReportsZerosAndUnlimited()
    {
        // Arrange
        var plans = new PlanService(_temp.Store, TimeProvider.System);
        var users = new UserService(_temp.Store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Id = "max", Name = "Max", RequestsPerMonth = 0 }, CancellationToken.None)).Ok);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "cy@example.com", Plan = "max" }, CancellationToken.None)).Ok);

        // Act
        var json = await _temp.CliAsync("usage", "summary", "--email", "cy@example.com", "--json");
        var table = await _temp.CliAsync("usage", "summary", "--email", "cy@example.com");

        // Assert
        var s = JsonDocument.Parse(json.Output).RootElement;
        Assert.Equal(0, s.GetProperty("requests").GetInt64());
        Assert.Equal(0, s.GetProperty("quota_limit").GetInt64());
        Assert.Equal(-1, s.GetProperty("quota_remaining").GetInt64());
        Assert.Equal("unlimited", Fields(table.Output)["quota_limit"]);
    }

    [Fact]
    public async Task UsageHistory_Json_MonthsNewestFirstWithEmptyMonths()
    {
        // Act
        var result = await _temp.CliAsync("usage", "history", "--user", _ann.Id, "--months", "4", "--json");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var months = JsonDocument.Parse(result.Output).RootElement.EnumerateArray()
            .Select(m => (m.GetProperty("period_start").GetDateTimeOffset(), m.GetProperty("requests").GetInt64(), m.GetProperty("units").GetInt64(), m.GetProperty("errors").GetInt64()))
            .ToList();
        Assert.Equal(
        [
            (ThisMonth, 3L, 12L, 1L),
            (ThisMonth.AddMonths(-1), 1L, 10L, 0L),
            (ThisMonth.AddMonths(-2), 0L, 0L, 0L),
            (ThisMonth.AddMonths(-3), 1L, 20L, 1L),
        ], months);
    }

    [Fact]
    public async Task UsageHistory_Table_DefaultsToSixMonths()
    {
        // Act
        var result = await _temp.CliAsync("usage", "history", "--email", "ann@example.com");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.TrimEnd().Split('\n');
        Assert.StartsWith("MONTH", lines[0]);
        Assert.Equal(2 + 6, lines.Length);
        Assert.Equal([ThisMonth.ToString("yyyy-MM", CultureInfo.InvariantCulture), "3", "12", "300", "6144", "1"], Cells(lines[2]));
        Assert.Equal([ThisMonth.AddMonths(-5).ToString("yyyy-MM", CultureInfo.InvariantCulture), "0", "0", "0", "0", "0"], Cells(lines[7]));
        Assert.DoesNotContain("1000", result.Output);
    }

    [Fact]
    public async Task UsageRecent_Json_NewestEventsFirst()
    {
        // Act
        var result = await _temp.CliAsync("usage", "recent", "--user", _ann.Id, "--limit", "2", "--json");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var events = JsonDocument.Parse(result.Output).RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["/c", "/b"], events.Select(e => e.GetProperty("path").GetString()));
        var c = events[0];
        Assert.Equal(_ann.Id, c.GetProperty("user_id").GetString());
        Assert.Equal("key_1", c.GetProperty("key_id").GetString());
        Assert.Equal("rte_1", c.GetProperty("route_id").GetString());
        Assert.Equal("ups_1", c.GetProperty("upstream_id").GetString());
        Assert.Equal("GET", c.GetProperty("method").GetString());
        Assert.Equal(404, c.GetProperty("status").GetInt32());
        Assert.Equal(12.5, c.GetProperty("latency_ms").GetDouble());
        Assert.Equal(100, c.GetProperty("request_bytes").GetInt64());
        Assert.Equal(2048, c.GetProperty("response_bytes").GetInt64());
        Assert.Equal(5, c.GetProperty("units").GetInt64());
        Assert.Equal("10.0.0.7", c.GetProperty("client_ip").GetString());
        Assert.Equal("req-/c", c.GetProperty("request_id").GetString());
        Assert.Equal(ThisMonth.AddHours(3), c.GetProperty("timestamp").GetDateTimeOffset());
    }

    [Fact]
    public async Task UsageRecent_TwoPagesReadWithTheCursorTheFirstPrinted_EveryEventSeenOnce()
    {
        // Act: a table page, then the rest as JSON from the cursor its last line gave
        var first = await _temp.CliAsync("usage", "recent", "--email", "ann@example.com", "--limit", "4");
        var cursor = first.Output.TrimEnd().Split('\n')[^1]["next: --after ".Length..];
        var second = await _temp.CliAsync("usage", "recent", "--email", "ann@example.com", "--limit", "4", "--after", cursor, "--json");

        // Assert
        Assert.Equal((0, 0), (first.ExitCode, second.ExitCode));
        var firstLines = first.Output.TrimEnd().Split('\n');
        Assert.StartsWith("next: --after ", firstLines[^1], StringComparison.Ordinal);
        var firstPaths = firstLines[2..^1].Select(l => Cells(l).First(c => c.StartsWith('/'))).ToList();
        var page = JsonDocument.Parse(second.Output).RootElement;
        var secondPaths = page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("path").GetString()!).ToList();
        Assert.Equal(["/c", "/b", "/a", "/last-month", "/three-months-ago", "/too-old"], [.. firstPaths, .. secondPaths]);
        Assert.False(page.GetProperty("meta").TryGetProperty("next_cursor", out _)); // the last page
    }

    [Fact]
    public async Task UsageRecent_CursorOfTheAuditTrail_RefusedNamingTheFlag_ExitCode2()
    {
        // Arrange
        var auditCursor = ListCursors.Encode("audit", new ListCursor("1", "1", 5)); // as GET /admin/audit gives it

        // Act
        var result = await _temp.CliAsync("usage", "recent", "--email", "ann@example.com", "--after", auditCursor);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --after: is not a cursor of 'usage recent': give the one an earlier page printed (next: --after …) or the admin API's meta.next_cursor, unchanged",
            result.Diagnostics.TrimEnd());
    }

    [Fact]
    public async Task UsageRecent_Table_DefaultLimitShowsEveryEventOfTheUser()
    {
        // Act
        var result = await _temp.CliAsync("usage", "recent", "--email", "ann@example.com");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.TrimEnd().Split('\n');
        Assert.StartsWith("TIME", lines[0]);
        Assert.Equal(2 + 6, lines.Length);
        Assert.Contains(" /c ", lines[2]);
        Assert.Contains(" 404 ", lines[2]);
        Assert.Contains("12.5 ms", lines[2]);
        Assert.Contains(" /too-old ", lines[^1]);
        Assert.DoesNotContain("/bob", result.Output);
    }

    [Fact]
    public async Task Usage_DeletedUserById_ReadsTheKeptUsageMarkedDeleted()
    {
        // Arrange: the user goes, its usage (a billing record) stays.
        Assert.True((await new UserService(_temp.Store, TimeProvider.System).DeleteAsync(_ann.Id, CancellationToken.None)).Ok);

        // Act
        var summary = await _temp.CliAsync("usage", "summary", "--user", _ann.Id, "--json");
        var table = await _temp.CliAsync("usage", "summary", "--user", _ann.Id);
        var history = await _temp.CliAsync("usage", "history", "--user", _ann.Id, "--months", "2", "--json");
        var recent = await _temp.CliAsync("usage", "recent", "--user", _ann.Id, "--limit", "1", "--json");
        var byEmail = await _temp.CliAsync("usage", "summary", "--email", "ann@example.com");
        var byOldEmailAsUser = await _temp.CliAsync("usage", "summary", "--user", "ann@example.com");

        // Assert
        Assert.Equal((0, 0, 0, 0), (summary.ExitCode, table.ExitCode, history.ExitCode, recent.ExitCode));
        var s = JsonDocument.Parse(summary.Output).RootElement;
        Assert.Equal(_ann.Id, s.GetProperty("user_id").GetString());
        Assert.True(s.GetProperty("user_deleted").GetBoolean());
        Assert.Equal(("", ""), (s.GetProperty("email").GetString(), s.GetProperty("plan_id").GetString()));
        Assert.Equal((3L, 12L, 12L), (s.GetProperty("requests").GetInt64(), s.GetProperty("units").GetInt64(), s.GetProperty("quota_used").GetInt64()));
        Assert.Equal((0L, 0L), (s.GetProperty("quota_limit").GetInt64(), s.GetProperty("quota_remaining").GetInt64()));
        var fields = Fields(table.Output);
        Assert.Equal($"{_ann.Id} (deleted)", fields["user"]);
        Assert.Equal("none (the user was deleted)", fields["plan"]);
        Assert.Equal("12", fields["units"]);
        Assert.Equal([12L, 10L], JsonDocument.Parse(history.Output).RootElement.EnumerateArray().Select(m => m.GetProperty("units").GetInt64()));
        Assert.Equal(["/c"], JsonDocument.Parse(recent.Output).RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        Assert.Equal((3, 3), (byEmail.ExitCode, byOldEmailAsUser.ExitCode));
        Assert.Equal("error: --email: no user with email 'ann@example.com'", byEmail.Diagnostics.Trim());
    }

    [Fact]
    public async Task UsageSummary_CurrentUser_IsNotMarkedDeleted()
    {
        // Act
        var result = await _temp.CliAsync("usage", "summary", "--user", _ann.Id, "--json");

        // Assert
        Assert.False(JsonDocument.Parse(result.Output).RootElement.GetProperty("user_deleted").GetBoolean());
    }

    [Theory]
    [InlineData("anonymous")]
    [InlineData("usr_never_existed")]
    public async Task UsageSummary_IdWithNoUserAndNoStoredUsage_ExitsWithNotFound(string id)
    {
        // Arrange: a public route's usage is stored under the id 'anonymous', which is no user.
        await _temp.Store.AddUsageEventsAsync([Event(UsageEvent.Anonymous, ThisMonth.AddHours(1), "/pub", units: 1)], CancellationToken.None);

        // Act
        var result = await _temp.CliAsync("usage", "summary", "--user", id);

        // Assert
        Assert.Equal(3, result.ExitCode);
        Assert.Equal($"error: --user: no user with id or email '{id}'", result.Diagnostics.Trim());
    }

    [Theory]
    [InlineData("summary", "--user", "usr_missing", "error: --user: no user with id or email 'usr_missing'")]
    [InlineData("history", "--email", "nobody@example.com", "error: --email: no user with email 'nobody@example.com'")]
    [InlineData("recent", "--user", "nobody@example.com", "error: --user: no user with id or email 'nobody@example.com'")]
    [InlineData("summary", "--email", "usr_missing", "error: --email: no user with email 'usr_missing'")]
    public async Task Usage_UnknownUser_ExitsWithNotFoundNamingTheFlag(string verb, string flag, string value, string expected)
    {
        // Act
        var result = await _temp.CliAsync("usage", verb, flag, value);

        // Assert
        Assert.Equal(3, result.ExitCode);
        Assert.Equal(expected, result.Diagnostics.Trim());
    }

    [Theory]
    [InlineData("summary")]
    [InlineData("history")]
    [InlineData("recent")]
    public async Task Usage_UserFlagWithAnEmail_ShowsThatUsersUsage(string verb)
    {
        // Act: --user takes an email like every other --user.
        var byEmail = await _temp.CliAsync("usage", verb, "--user", "ann@example.com", "--json");
        var byId = await _temp.CliAsync("usage", verb, "--user", _ann.Id, "--json");

        // Assert
        Assert.Equal(0, byEmail.ExitCode);
        Assert.Equal("", byEmail.Diagnostics);
        Assert.Equal(0, byId.ExitCode);
        Assert.Equal(byId.Output, byEmail.Output);
        Assert.DoesNotContain("/bob", byEmail.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("summary")]
    [InlineData("history", "--user", "x", "--email", "ann@example.com")]
    [InlineData("recent", "--limit", "5")]
    [InlineData("history", "--email", "ann@example.com", "--months", "0")]
    [InlineData("recent", "--email", "ann@example.com", "--limit", "-1")]
    public async Task Usage_BadFlags_ExitsWithUsageError(params string[] args)
    {
        // Act
        var result = await _temp.CliAsync(["usage", .. args]);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Diagnostics);
    }

    [Fact]
    public async Task UsageRecent_PathWithBidirectionalOverride_IsPrintedEscaped()
    {
        // Arrange: a caller chooses its request path; U+202E made '/k/<RLO>gnp.exe' print as '/k/exe.png'.
        await _temp.Store.AddUsageEventsAsync([Event(_ann.Id, DateTimeOffset.UtcNow, "/k/\u202egnp.exe\u2066", units: 1)], CancellationToken.None);

        // Act
        var result = await _temp.CliAsync("usage", "recent", "--user", "ann@example.com", "--limit", "1");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain('\u202e', result.Output);
        Assert.DoesNotContain('\u2066', result.Output);
        Assert.Contains(@"/k/\u202egnp.exe\u2066", result.Output, StringComparison.Ordinal);
    }

    private static UsageEvent Event(string userId, DateTimeOffset at, string path, long units, int status = 200) =>
        Storage.UsageStoreTests.Event(userId, at, units, status, path) with { ClientIp = "10.0.0.7", RequestId = "req-" + path };

    private static Dictionary<string, string> Fields(string output) =>
        output.TrimEnd().Split('\n').Select(l => l.Split("  ", 2, StringSplitOptions.None)).ToDictionary(p => p[0].Trim(), p => p[1].Trim());

    private static string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
