using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;
using static ApiGate.Gateway.Tests.Infrastructure.ConfigShow;

namespace ApiGate.Gateway.Tests.Cli;

public sealed class CliTests : CliTestBase
{
    [Fact]
    public async Task UpstreamsAndRoutes_CreateListGetUpdateDelete_RoundTrip()
    {
        var up = await RunAsync("upstreams", "create", "--name", "Users API", "--url", "http://127.0.0.1:9/v2", "--timeout", "5s");
        var route = await RunAsync("routes", "create", "--name", "Users", "--path", "/users/*", "--upstream", "users-api",
            "--methods", "get,post", "--host-pattern", "*.example.com", "--headers", "X-Env=prod", "--protocol", "http_stream", "--priority", "5", "--auth=false");
        var updated = await RunAsync("routes", "update", "users", "--path-rewrite", "/internal/$1", "--enabled", "false");
        var listed = await RunAsync("--json", "routes", "list");
        var got = await RunAsync("routes", "get", "users", "--json");

        Assert.Equal(0, up.ExitCode);
        Assert.Equal(0, route.ExitCode);
        Assert.Equal(0, updated.ExitCode);
        var list = JsonDocument.Parse(listed.Output).RootElement;
        Assert.Equal(1, list.GetArrayLength());
        var r = JsonDocument.Parse(got.Output).RootElement;
        Assert.Equal("users", r.GetProperty("slug").GetString());
        Assert.Equal("/internal/$1", r.GetProperty("path_rewrite").GetString());
        Assert.False(r.GetProperty("enabled").GetBoolean());
        Assert.False(r.GetProperty("auth_required").GetBoolean());
        Assert.Equal("wildcard", r.GetProperty("host_match_type").GetString());
        Assert.Equal("http_stream", r.GetProperty("protocol").GetString());
        Assert.Equal(5, r.GetProperty("priority").GetInt32());
        Assert.Equal(["GET", "POST"], r.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("prod", r.GetProperty("headers").GetProperty("X-Env").GetString());

        // The upstream is in use: deleting it is refused until the route goes.
        var refused = await RunAsync("upstreams", "delete", "users-api");
        Assert.Equal(4, refused.ExitCode);
        Assert.Contains("users", refused.Error);
        Assert.Equal(0, (await RunAsync("routes", "delete", r.GetProperty("id").GetString()!)).ExitCode);
        Assert.Equal(0, (await RunAsync("upstreams", "delete", "users-api")).ExitCode);
        Assert.Contains("(none)", (await RunAsync("upstreams", "list")).Output);
    }

    [Fact]
    public async Task RoutesAndUpstreamsList_LimitAndOffset_PrintOnlyThatSliceInListOrderAndSayWhichOnStderr()
    {
        // Arrange: three upstreams (listed by slug), four routes created out of precedence order
        foreach (var name in new[] { "Gamma", "Alpha", "Beta" })
        {
            Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", name, "--url", "http://127.0.0.1:9")).ExitCode);
        }

        foreach (var (name, priority) in new[] { ("low", "1"), ("top", "9"), ("mid", "5"), ("high", "7") })
        {
            Assert.Equal(0, (await RunAsync("routes", "create", "--name", name, "--path", "/" + name + "/*", "--upstream", "alpha", "--priority", priority)).ExitCode);
        }

        // Act
        var routes = await RunAsync("--json", "routes", "list", "--limit", "2", "--offset", "1");
        var routeTable = await RunAsync("routes", "list", "--limit", "1");
        var allRoutes = await RunAsync("--json", "routes", "list");
        var upstreams = await RunAsync("--json", "upstreams", "list", "--offset", "1");
        var pastTheEnd = await RunAsync("--json", "upstreams", "list", "--offset", "3");
        var badLimit = await RunAsync("routes", "list", "--limit", "0");
        var noCursor = await RunAsync("upstreams", "list", "--after", "abc");

        // Assert
        static string LastLine(string text) => text.Trim().Split('\n')[^1];
        static IEnumerable<string?> Slugs(string json) => JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.GetProperty("slug").GetString());
        Assert.Equal(0, routes.ExitCode);
        Assert.Equal(["high", "mid"], Slugs(routes.Output)); // precedence order: the highest priority first
        Assert.Equal("routes 2–3 of 4", LastLine(routes.Error));
        var tableRows = routeTable.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).ToList(); // header and rule
        Assert.Equal("top", Assert.Single(tableRows).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        Assert.Equal("routes 1–1 of 4", LastLine(routeTable.Error));
        Assert.Equal(["top", "high", "mid", "low"], Slugs(allRoutes.Output));
        Assert.DoesNotContain(" of ", allRoutes.Error, StringComparison.Ordinal);
        Assert.Equal(["beta", "gamma"], Slugs(upstreams.Output));
        Assert.Equal("upstreams 2–3 of 3", LastLine(upstreams.Error));
        Assert.Equal("[]", pastTheEnd.Output.Trim());
        Assert.Equal("upstreams: none past 3 of 3", LastLine(pastTheEnd.Error));
        Assert.Equal(2, badLimit.ExitCode);
        Assert.Equal("error: --limit: must be 1 or more", LastLine(badLimit.Error));
        Assert.Equal(2, noCursor.ExitCode); // a list read whole has no cursor to continue from
        Assert.Equal("error: unknown option --after; see 'apigate upstreams list --help'", LastLine(noCursor.Error));
    }

    [Fact]
    public async Task DeleteWithJson_PrintsTheDeletedRecordAsOneJsonObjectOnStdout()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "Doomed API", "--url", "http://127.0.0.1:9")).ExitCode);
        Assert.Equal(0, (await RunAsync("routes", "create", "--name", "doomed", "--path", "/doomed/*", "--upstream", "doomed-api")).ExitCode);
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "gone", "--name", "Gone")).ExitCode);

        // Act
        var route = await RunAsync("--json", "routes", "delete", "doomed");
        var upstream = await RunAsync("upstreams", "delete", "doomed-api", "--json");
        var plan = await RunAsync("plans", "delete", "gone", "--json");

        // Assert: what was deleted, as `get --json` showed it, so `… delete --json | jq` reads it
        Assert.Equal(0, route.ExitCode);
        Assert.Equal("doomed", JsonDocument.Parse(route.Output).RootElement.GetProperty("slug").GetString());
        Assert.Equal(0, upstream.ExitCode);
        Assert.Equal("doomed-api", JsonDocument.Parse(upstream.Output).RootElement.GetProperty("slug").GetString());
        Assert.Equal(0, plan.ExitCode);
        Assert.Equal("Gone", JsonDocument.Parse(plan.Output).RootElement.GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("--path", "routes", "create", "--name", "r", "--path", "/x/(", "--match", "regex", "--upstream", "base")]
    [InlineData("--upstream", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "missing")]
    [InlineData("--protocol", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "base", "--protocol", "grpc")]
    [InlineData("--rewrite", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "base", "--rewrite", "'/a' +")]
    [InlineData("--host-pattern", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "base", "--host-pattern", "(", "--host-match-type", "regex")]
    [InlineData("--match", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "base", "--match", "fuzzy")]
    [InlineData("--url", "upstreams", "create", "--name", "u", "--url", "htp:/nope")]
    [InlineData("--url", "upstreams", "create", "--name", "u", "--url", "/relative")]
    [InlineData("--auth-type", "upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1", "--auth-type", "oauth")]
    [InlineData("--timeout", "upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1", "--timeout", "soon")]
    [InlineData("--path", "routes", "update", "base-route", "--path", "no-slash")]
    [InlineData("--upstream", "routes", "update", "base-route", "--upstream", "missing")]
    [InlineData("--methods", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "base", "--methods", "GET,GETT")]
    [InlineData("--methods", "routes", "update", "base-route", "--methods", "TRACE")]
    [InlineData("--method-override", "routes", "create", "--name", "r", "--path", "/x", "--upstream", "base", "--method-override", "PSOT")]
    [InlineData("--rewrite", "routes", "create", "--name", "r", "--path", "/x/*", "--upstream", "base", "--rewrite", "/internal/../admin/$1")]
    [InlineData("--rewrite", "routes", "create", "--name", "r", "--path", "/x/*", "--upstream", "base", "--rewrite", "/internal/%2E%2e/$1")]
    [InlineData("--rewrite", "routes", "update", "base-route", "--rewrite", "'/a/../' + path")]
    [InlineData("--rewrite", "routes", "create", "--name", "r", "--path", "/x/*", "--upstream", "base", "--rewrite", "$2")]
    [InlineData("--rewrite", "routes", "create", "--name", "r", "--path", "/x/*", "--upstream", "base", "--rewrite", "/q/$9")]
    [InlineData("--rewrite", "routes", "update", "base-route", "--rewrite", "/q/{id}")]
    [InlineData("--metering-expr", "routes", "create", "--name", "r", "--path", "/x/*", "--upstream", "base", "--metering-mode", "custom", "--metering-expr", "units * 2")]
    [InlineData("--metering-expr", "routes", "update", "base-route", "--metering-mode", "response_field", "--metering-expr", "headers['x-units']")]
    [InlineData("--name", "upstreams", "create", "--name", "bad\u001b[31mname", "--url", "http://127.0.0.1:1")]
    [InlineData("--description", "upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1", "--description", "a\u0000b")]
    [InlineData("--name", "routes", "create", "--name", "r\u007f", "--path", "/x", "--upstream", "base")]
    [InlineData("--description", "routes", "update", "base-route", "--description", "next\u0085line")]
    public async Task BadInput_NamesTheField_ExitsNonZero_WritesNothing(string field, params string[] args)
    {
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "base", "--url", "http://127.0.0.1:1")).ExitCode);
        Assert.Equal(0, (await RunAsync("routes", "create", "--name", "base-route", "--path", "/base/*", "--upstream", "base")).ExitCode);
        var before = await SnapshotAsync();

        var result = await RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: " + field + ":", result.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task DuplicateName_IsAConflict()
    {
        var first = await RunAsync("upstreams", "create", "--name", "Dup", "--url", "http://127.0.0.1:1");

        var result = await RunAsync("upstreams", "create", "--name", "dup", "--url", "http://127.0.0.1:2");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("already exists", result.Error);
    }

    [Fact]
    public async Task UpstreamSecret_IsNeverPrinted()
    {
        const string secret = "very-secret-token-123";
        var outputs = new List<CliResult>
        {
            await RunAsync("upstreams", "create", "--name", "s", "--url", "http://127.0.0.1:1", "--auth-type", "bearer", "--auth-value", secret),
            await RunAsync("upstreams", "get", "s"),
            await RunAsync("upstreams", "get", "s", "--json"),
            await RunAsync("upstreams", "list", "--json"),
            await RunAsync("upstreams", "list"),
        };

        Assert.All(outputs, o => Assert.Equal(0, o.ExitCode));
        Assert.All(outputs, o => Assert.DoesNotContain(secret, o.Output + o.Error));
        Assert.Contains("\"auth_configured\": true", outputs[2].Output);
    }

    [Fact]
    public async Task SecretKey_EncryptsCredentialAtRest()
    {
        const string secret = "plaintext-credential";
        Environment["APIGATE_SECRET_KEY"] = "k3y";
        var created = await RunAsync("upstreams", "create", "--name", "enc", "--url", "http://127.0.0.1:1", "--auth-type", "header", "--auth-header", "X-S", "--auth-value", secret);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var bytes = await File.ReadAllBytesAsync(Environment["APIGATE_DATABASE_DSN"]);
        var wal = Environment["APIGATE_DATABASE_DSN"] + "-wal";
        var walBytes = File.Exists(wal) ? await File.ReadAllBytesAsync(wal) : [];

        Assert.Equal(0, created.ExitCode);
        Assert.Contains("auth_configured", (await RunAsync("upstreams", "get", "enc", "--json")).Output); // the row was written
        Assert.DoesNotContain(secret, System.Text.Encoding.UTF8.GetString(bytes) + System.Text.Encoding.UTF8.GetString(walBytes));
    }

    [Fact]
    public async Task Settings_FlagBeatsEnvironmentBeatsFileBeatsDefault()
    {
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        await File.WriteAllTextAsync(file, "server:\n  port: 7001\n  host: 127.0.0.2\nupstream:\n  timeout: 12s\nlog:\n  level: debug\n");
        Environment["APIGATE_SERVER_PORT"] = "7002";

        var shown = await RunAsync("config", "show", "--json", "--config", file, "--database", Path.Combine(TestDirectory, "flag.db"));

        Assert.Equal(0, shown.ExitCode);
        var settings = JsonDocument.Parse(shown.Output).RootElement;
        Assert.Equal(("7002", "environment"), Setting(settings, "server.port"));
        Assert.Equal(("127.0.0.2", "file"), Setting(settings, "server.host"));
        Assert.Equal(("12s", "file"), Setting(settings, "upstream.timeout"));
        Assert.Equal(("flag", Path.Combine(TestDirectory, "flag.db")), (Setting(settings, "database.dsn").Source, Setting(settings, "database.dsn").Value));
        Assert.Equal(("ak_", "default"), Setting(settings, "auth.key_prefix"));
    }

    [Theory]
    [InlineData("APIGATE_SERVER_PORT", "eighty", "server.port (from APIGATE_SERVER_PORT): 'eighty' is not a whole number")]
    [InlineData("APIGATE_UPSTREAM_TIMEOUT", "forever", "upstream.timeout")]
    [InlineData("APIGATE_UPSTREAM_URL", "not a url", "upstream.url (from APIGATE_UPSTREAM_URL)")]
    [InlineData("APIGATE_LOG_FORMAT", "xml", "log.format (from APIGATE_LOG_FORMAT): 'xml' is not json or console")]
    public async Task Settings_BadValue_IsRejectedWithItsName(string variable, string value, string expected)
    {
        Environment[variable] = value;

        var result = await RunAsync("config", "show");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.Error);
    }

    [Fact]
    public async Task Settings_TwoValuesThatDoNotParse_BothReportedOnOneLine()
    {
        Environment["APIGATE_SERVER_PORT"] = "eighty";
        Environment["APIGATE_UPSTREAM_TIMEOUT"] = "30";

        var result = await RunAsync("config", "show");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
        Assert.Contains("server.port (from APIGATE_SERVER_PORT): 'eighty' is not a whole number; ", line, StringComparison.Ordinal);
        Assert.Contains("upstream.timeout (from APIGATE_UPSTREAM_TIMEOUT): '30' has no unit", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_ReportsStoredProblems()
    {
        Assert.Equal(0, (await RunAsync("config", "validate")).ExitCode);
    }

    [Fact]
    public async Task ConfigValidate_JwtRouteWithoutAnIssuer_IsAProblem_ValidOnceTheIssuerIsSet()
    {
        // Arrange: a route that takes only JWTs, and no jwt.issuer: the gateway would refuse every request on it
        await RunAsync("upstreams", "create", "--name", "orders", "--url", "http://127.0.0.1:9");
        Assert.Equal(0, (await RunAsync("routes", "create", "--name", "orders", "--path", "/orders/*", "--upstream", "orders", "--auth-scheme", "jwt")).ExitCode);
        await RunAsync("routes", "create", "--name", "public", "--path", "/public/*", "--upstream", "orders", "--auth-scheme", "jwt", "--auth=false");

        // Act
        var withoutIssuer = await RunAsync("config", "validate");
        Environment["APIGATE_JWT_ISSUER"] = "https://login.example.com";
        Environment["APIGATE_JWT_AUDIENCE"] = "orders-api";
        var withIssuer = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(1, withoutIssuer.ExitCode);
        var problem = Assert.Single(withoutIssuer.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'), l => l.StartsWith("problem:", StringComparison.Ordinal));
        Assert.Contains("route 'orders': auth_scheme: 'jwt' needs jwt.issuer (APIGATE_JWT_ISSUER)", problem, StringComparison.Ordinal);
        Assert.Equal(0, withIssuer.ExitCode); // and the public route was never a problem
    }

    [Fact]
    public async Task Version_PrintsVersion()
    {
        var result = await RunAsync("version");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("apigate ", result.Output);
    }


    private async Task<string> SnapshotAsync()
    {
        var upstreams = await RunAsync("upstreams", "list", "--json");
        var routes = await RunAsync("routes", "list", "--json");
        return upstreams.Output + routes.Output;
    }
}
