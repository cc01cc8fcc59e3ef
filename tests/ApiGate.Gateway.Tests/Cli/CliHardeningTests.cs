using System.Text.Json;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>Issue 10, the CLI as a new user meets it: <c>@file</c> values, settings, parse errors, control characters.</summary>
public sealed class CliHardeningTests : CliTestBase
{
    [Fact]
    public async Task RoutesCreate_ResponseTransformAtFile_StoresTheFileContent()
    {
        // Arrange
        var file = Path.Combine(TestDirectory, "transform.json");
        const string transform = """{"headers":{"add":{"X-From-File":"yes"}}}""";
        await File.WriteAllTextAsync(file, transform + "\n");
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "base", "--url", "http://127.0.0.1:1")).ExitCode);

        // Act
        var created = await RunAsync("routes", "create", "--name", "t", "--path", "/t/*", "--upstream", "base", "--response-transform", "@" + file);
        var got = await RunAsync("routes", "get", "t", "--json");

        // Assert
        Assert.Equal(0, created.ExitCode);
        Assert.Equal(transform, JsonDocument.Parse(got.Output).RootElement.GetProperty("response_transform").GetString());
    }

    [Fact]
    public async Task UpstreamsCreate_AuthValueAtFileWithSecretKey_StoresItEncryptedInTheColumn()
    {
        // Arrange
        const string secret = "credential-from-a-file";
        const string key = "test-secret-key";
        var file = Path.Combine(TestDirectory, "secret.txt");
        await File.WriteAllTextAsync(file, secret + "\n");
        Environment["APIGATE_SECRET_KEY"] = key;

        // Act
        var created = await RunAsync("upstreams", "create", "--name", "enc", "--url", "http://127.0.0.1:1", "--auth-type", "bearer", "--auth-value", "@" + file);
        var raw = await ReadAuthValueColumnAsync("enc");

        // Assert
        Assert.Equal(0, created.ExitCode);
        Assert.StartsWith("enc:v1:", raw, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        Assert.Equal(secret, new SecretProtector(key).Unprotect(raw));
    }

    [Fact]
    public async Task UpstreamsCreate_AuthValueWithoutSecretKey_StoresItInPlaintext()
    {
        // Act
        var created = await RunAsync("upstreams", "create", "--name", "plain", "--url", "http://127.0.0.1:1", "--auth-type", "bearer", "--auth-value", "s3cret");

        // Assert
        Assert.Equal(0, created.ExitCode);
        Assert.Equal("s3cret", await ReadAuthValueColumnAsync("plain"));
    }

    [Fact]
    public async Task UpstreamsCreate_AuthValueAtMissingFile_NamesTheFieldAndWritesNothing()
    {
        // Act
        var result = await RunAsync("upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1", "--auth-type", "bearer", "--auth-value", "@" + Path.Combine(TestDirectory, "missing.txt"));

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --auth-value: file '", result.Diagnostics, StringComparison.Ordinal);
        Assert.Contains("(none)", (await RunAsync("upstreams", "list")).Output);
    }

    [Theory]
    [InlineData("upstreams", "create", "--name", "x", "--url", "http://u:CliPw7788@127.0.0.1:99999")]
    [InlineData("upstreams", "create", "--name", "x", "--target", "http://u:CliPw7788@127.0.0.1:1,weight=abc")]
    [InlineData("webhooks", "create", "--url", "http://u:CliPw7788@127.0.0.1:99999/h", "--events", "key.created")]
    public async Task Create_InvalidUrlWithAPassword_RefusedWithoutRepeatingThePassword(params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Diagnostics, StringComparison.Ordinal);
        Assert.Contains("***@", result.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("CliPw7788", result.Diagnostics + result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--enabled", "upstreams", "create", "--name", "x", "--url", "http://127.0.0.1:1", "--enabled", "maybe")]
    [InlineData("--auth", "routes", "create", "--path", "/c1", "--auth=maybe")]
    [InlineData("--default", "plans", "create", "--id", "c1", "--name", "C1", "--default", "maybe")]
    public async Task Create_FlagWithAValueThatIsNotTrueOrFalse_RefusedNamingTheFlag(string flag, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: {flag}: 'maybe' is not true or false; see 'apigate ", result.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersCreate_EmailWithAZeroWidthSpace_RefusedNamingTheCharacter()
    {
        // Arrange: the address it would pass for.
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "alice@example.test")).ExitCode);

        // Act
        var result = await RunAsync("users", "create", "--email", "alice@example.test\u200b");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --email: contains an invisible character (U+200B at position 19)", result.Diagnostics, StringComparison.Ordinal);
        Assert.Single((await RunAsync("users", "list", "--json")).Output.Split("alice@example.test", StringSplitOptions.None)[1..]);
    }

    [Theory]
    [InlineData("--name", "Ann\u200B", "users", "create", "--email", "ann@example.test")]
    [InlineData("--name", "Pro\uFEFF", "plans", "create", "--id", "pro")]
    public async Task Create_NameWithAnInvisibleCharacter_ExitsTwoNamingTheFlagAndNothingWritten(string flag, string name, params string[] args)
    {
        // Act
        var result = await RunAsync([.. args, flag, name]);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --name: must not contain invisible characters (U+", result.Diagnostics, StringComparison.Ordinal);
        Assert.Contains($"U+{(int)name[^1]:X4} at position 4)", result.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain($"\"{args[^1]}\"", (await RunAsync(args[0], "list", "--json")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersCreateAndUpdate_EmailWithACombiningAccent_RefusedNamingTheCharacterAndNothingWritten()
    {
        // Arrange: "é" typed as "e" followed by U+0301 — a second spelling of the address with the precomposed "é"
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "rene@example.test")).ExitCode);
        const string expected = "error: --email: contains a combining mark (U+0301 at position 5): type each accented letter as one character, so that the address has a single spelling";

        // Act
        var created = await RunAsync("users", "create", "--email", "rene\u0301@example.test");
        var updated = await RunAsync("users", "update", "rene@example.test", "--email", "rene\u0301@example.test");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.StartsWith(expected, created.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(2, updated.ExitCode);
        Assert.StartsWith(expected, updated.Diagnostics, StringComparison.Ordinal);
        var users = (await RunAsync("users", "list", "--json")).Output;
        Assert.Contains("\"rene@example.test\"", users, StringComparison.Ordinal);
        Assert.DoesNotContain("\u0301", users, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u0301", users, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UsersCreate_EmailWithAnIdeographicFullStop_RefusedNamingTheCharacterAndNothingWritten()
    {
        // Arrange: U+3002 reads as '.' in a domain: the address is ann@mail.example.test, which has a user
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@mail.example.test")).ExitCode);

        // Act
        var created = await RunAsync("users", "create", "--email", "ann@mail\u3002example.test");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.StartsWith("error: --email: contains an ideographic full stop (U+3002 at position 9), which mail software reads as '.': write the address with '.'",
            created.Diagnostics, StringComparison.Ordinal);
        var users = (await RunAsync("users", "list", "--json")).Output;
        Assert.DoesNotContain("\u3002", users, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u3002", users, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UsersCreateAndUpdate_EmailEndingInADot_RefusedNamingTheFormWithoutItAndNothingWritten()
    {
        // Arrange: ann@example.test. is the mailbox ann@example.test (an absolute domain), which has a user
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.test")).ExitCode);
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "bea@example.test")).ExitCode);
        const string expected = "error: --email: ends with '.', which names the same domain as without it: write it as 'ann@example.test'";

        // Act
        var created = await RunAsync("users", "create", "--email", "ann@example.test.");
        var updated = await RunAsync("users", "update", "bea@example.test", "--email", "ann@example.test.");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.StartsWith(expected, created.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(2, updated.ExitCode);
        Assert.StartsWith(expected, updated.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("example.test.\"", (await RunAsync("users", "list", "--json")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersCreate_EmailWithItsDomainInPunycode_RefusedNamingTheUnicodeFormAndNothingWritten()
    {
        // Arrange: mail to bob@xn--bcher-kva.example.test goes to bob@bücher.example.test, which has a user
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "bob@b\u00fccher.example.test")).ExitCode);

        // Act
        var created = await RunAsync("users", "create", "--email", "bob@xn--bcher-kva.example.test");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.StartsWith("error: --email: has its domain in punycode ('xn--bcher-kva.example.test'): write it as 'bob@b\u00fccher.example.test', the one spelling an address is kept in",
            created.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("xn--", (await RunAsync("users", "list", "--json")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersCreate_EmailNotInNfkcBesideItsPlainForm_RefusedNamingThePlainFormAndNothingWritten()
    {
        // Arrange: a fullwidth "ａ" (U+FF41) reads as the "a" of an existing address
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "a@x.io")).ExitCode);

        // Act
        var created = await RunAsync("users", "create", "--email", "\uff41@x.io");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.Equal("error: --email: is not in Unicode normalization form NFKC (it has a look-alike character such as a fullwidth letter): write it as 'a@x.io'",
            created.Diagnostics.TrimEnd());
        Assert.Single((await RunAsync("users", "list", "--json")).Output.Split("@x.io", StringSplitOptions.None)[1..]);
    }

    [Fact]
    public async Task UsersCreate_NoPlanWhileNoPlanIsTheDefault_RefusedSayingToMarkOne()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("plans", "update", "free", "--default=false")).ExitCode);

        // Act
        var created = await RunAsync("users", "create", "--email", "ann@example.com");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.Equal("error: --plan: no plan given and no default plan exists: give a plan, or mark a plan as the default", created.Diagnostics.TrimEnd());
    }

    [Fact]
    public async Task RoutesCreate_MethodsPastTheBoundAsSent_RefusedEvenWhenAllTheSame()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "base", "--url", "http://127.0.0.1:1")).ExitCode);

        // Act
        var created = await RunAsync("routes", "create", "--name", "m", "--path", "/m/*", "--upstream", "base", "--methods", string.Join(',', Enumerable.Repeat("GET", 101)));

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.Equal("error: --methods: has 101 entries; at most 100 are allowed", created.Diagnostics.TrimEnd());
        Assert.Equal(3, (await RunAsync("routes", "get", "m")).ExitCode);
    }

    [Theory]
    [InlineData("3000000d")]
    [InlineData("100000000h")]
    public async Task KeysCreate_ExpiryPastTheCalendarsEnd_RefusedSayingSo(string expires)
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.com")).ExitCode);

        // Act
        var created = await RunAsync("keys", "create", "--user", "ann@example.com", "--expires", expires);

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.Equal($"error: --expires: '{expires}' from now would be past the calendar's end (year 9999): give a shorter duration or a date", created.Diagnostics.TrimEnd());
    }

    [Theory]
    [InlineData("0.0001s")]
    [InlineData("0.00001m")]
    [InlineData("1.0000001h")]
    public async Task KeysCreate_ExpiryWithAFractionOfAMillisecond_RefusedAsEveryDurationIs_ExitCode2_NoKeyCreated(string expires)
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.com")).ExitCode);

        // Act
        var created = await RunAsync("keys", "create", "--user", "ann@example.com", "--expires", expires);

        // Assert: the words of --timeout's refusal, with the forms the expiry takes
        Assert.Equal(2, created.ExitCode);
        Assert.Equal($"error: --expires: '{expires}' has a fraction of a millisecond: the expiry must be a whole number of milliseconds "
            + "from now (a duration such as 1.5s, 12h or 30d) or a date", created.Diagnostics.TrimEnd());
        Assert.Equal("[]", (await RunAsync("--json", "keys", "list")).Output.Trim());
    }

    [Theory]
    [InlineData("2030-01-31T12:00:00.0000001Z")]
    [InlineData("2030-01-31T12:00:00.1234+02:00")]
    public async Task KeysCreate_ExpiryDateWithDigitsPastTheMillisecond_RefusedNotCut_ExitCode2_NoKeyCreated(string expires)
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "ann@example.com")).ExitCode);

        // Act
        var created = await RunAsync("keys", "create", "--user", "ann@example.com", "--expires", expires);
        var toTheMillisecond = await RunAsync("keys", "create", "--user", "ann@example.com", "--expires", "2030-01-31T12:00:00.123000Z");

        // Assert: refused (the stored expiry would have been cut); three digits, or more that are zeros, are taken
        Assert.Equal(2, created.ExitCode);
        Assert.Equal($"error: --expires: '{expires}' has a fraction of a millisecond: the expiry is kept to the millisecond, so give at most three digits "
            + "after the seconds' point", created.Diagnostics.TrimEnd());
        Assert.Equal(0, toTheMillisecond.ExitCode);
    }

    [Fact]
    public async Task ConfigValidate_DefaultUpstreamUrlInvalidWithAPassword_RefusedWithoutRepeatingThePassword()
    {
        // Arrange
        Environment["APIGATE_UPSTREAM_URL"] = "http://u:EnvPw5566@127.0.0.1:99999";

        // Act
        var result = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("upstream.url", result.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("EnvPw5566", result.Diagnostics + result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManagementCommand_DatabaseInADirectoryThatDoesNotExist_RefusedAndNothingCreated()
    {
        // Arrange: a typo in the directory
        var missing = Path.Combine(TestDirectory, "no-such-dir", "deeper");

        // Act
        var listed = await RunAsync("--database", Path.Combine(missing, "apigate.db"), "plans", "list");
        var empty = await RunAsync("--database", "", "plans", "list");

        // Assert
        Assert.Equal(2, listed.ExitCode);
        Assert.Contains("database.dsn (APIGATE_DATABASE_DSN / --database): the directory of", listed.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(TestDirectory, "no-such-dir")));
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("database.dsn (from a command-line flag): is empty", empty.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/dev/zero", "is larger than 1 MiB")]
    [InlineData("big", "is larger than 1 MiB")]
    [InlineData("dir", "is a directory, not a file")]
    public async Task RoutesCreate_TransformAtUnreadableFile_NamesTheFieldAndWritesNothing(string file, string problem)
    {
        // Arrange
        var path = file.StartsWith('/') ? file : Path.Combine(TestDirectory, file);
        if (file == "big")
        {
            await File.WriteAllTextAsync(path, new string('x', 1024 * 1024 + 1));
        }
        else if (file == "dir")
        {
            Directory.CreateDirectory(path);
        }

        // Act
        var result = await RunAsync("routes", "create", "--name", "t", "--path", "/t/*", "--response-transform", "@" + path);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --response-transform: ", result.Diagnostics, StringComparison.Ordinal);
        Assert.Contains(problem, result.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Diagnostics, StringComparison.Ordinal);
        Assert.Contains("(none)", (await RunAsync("routes", "list")).Output);
    }

    [Theory]
    [InlineData("APIGATE_UPSTREAM_TIMEOUT", "30", "upstream.timeout (from APIGATE_UPSTREAM_TIMEOUT): '30' has no unit")]
    [InlineData("APIGATE_CONFIG_POLL_INTERVAL", "250", "config.poll_interval (from APIGATE_CONFIG_POLL_INTERVAL): '250' has no unit")]
    [InlineData("APIGATE_DATABASE_BUSY_TIMEOUT", "5", "database.busy_timeout (from APIGATE_DATABASE_BUSY_TIMEOUT): '5' has no unit")]
    public async Task Settings_DurationWithoutUnit_IsRefusedNamingTheVariable(string variable, string value, string expected)
    {
        // Arrange
        Environment[variable] = value;

        // Act
        var result = await RunAsync("config", "show");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: " + expected, result.Error, StringComparison.Ordinal);
        Assert.Contains($"{value}s (seconds) or {value}ms (milliseconds)", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_DurationWithoutUnitInConfigFile_IsRefusedNamingTheSetting()
    {
        // Arrange
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        await File.WriteAllTextAsync(file, "upstream:\n  timeout: 30\n");

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: upstream.timeout (from the config file): '30' has no unit", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("APIGATE_REDIS_TIMEOUT", "0.5ms", "redis.timeout")]
    [InlineData("APIGATE_WEBHOOK_TIMEOUT", "1.0001s", "webhook.timeout")]
    [InlineData("APIGATE_CONFIG_POLL_INTERVAL", "1500.5ms", "config.poll_interval")]
    [InlineData("APIGATE_USAGE_RETENTION", "1.00000001d", "usage.retention")]
    public async Task Settings_DurationWithAFractionOfAMillisecond_IsRefusedNamingTheSetting(string variable, string value, string setting)
    {
        // Arrange
        Environment[variable] = value;

        // Act
        var result = await RunAsync("config", "show");

        // Assert: refused, not rounded to a value that was not written
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"error: {setting} (from {variable}): '{value}' has a fraction of a millisecond; it must be a whole number of milliseconds, e.g. 1ms or 1500ms\n",
            result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("1500ms", 1_500)]
    public async Task Settings_DurationWithUnit_IsAccepted(string value, int expectedMs)
    {
        // Arrange
        Environment["APIGATE_UPSTREAM_TIMEOUT"] = value;

        // Act
        var result = await RunAsync("config", "show", "--json");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(value, JsonDocument.Parse(result.Output).RootElement.GetProperty("upstream.timeout").GetProperty("value").GetString());
        Assert.True(Core.Text.Durations.TryParse(value, out var parsed));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), parsed);
    }

    [Theory]
    [InlineData("APIGATE_UPSTREAM_TIMOUT", "APIGATE_UPSTREAM_TIMEOUT")]
    [InlineData("APIGATE_DATABASE_PATH", "APIGATE_DATABASE_DSN")]
    [InlineData("APIGATE_SERVER_PROT", "APIGATE_SERVER_PORT")]
    public async Task UnknownApigateVariable_IsWarnedAboutWithTheClosestKnownName(string unknown, string closest)
    {
        // Arrange
        Environment[unknown] = "1";
        Environment["HOME_NOT_OURS"] = "ignored";

        // Act
        var result = await RunAsync("config", "show");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            $"warning: unknown environment variable {unknown} is ignored (did you mean {closest}?)\n",
            result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task KnownVariablesOnly_NoWarning()
    {
        // Arrange
        Environment["APIGATE_SERVER_PORT"] = "9000";

        // Act
        var result = await RunAsync("config", "show");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
    }

    [Theory]
    [InlineData("unknown option --foo; see 'apigate routes create --help'", "routes", "create", "--path", "/x", "--foo")]
    [InlineData("unknown option --nope; see 'apigate upstreams list --help'", "upstreams", "list", "--nope")]
    [InlineData("unknown option --verbose; see 'apigate --help'", "--verbose")]
    public async Task UnknownOption_ExitsTwoWithAOneLineHint(string expected, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: " + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task OptionWithBadValue_ExitsTwoWithAOneLineHint()
    {
        // Act
        var result = await RunAsync("routes", "create", "--path", "/x", "--priority", "high");

        // Assert
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("high", line, StringComparison.Ordinal);
        Assert.EndsWith("; see 'apigate routes create --help'", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("error: --limit: 'abc' is not a whole number; see 'apigate admin audit --help'", "admin", "audit", "--limit", "abc")]
    [InlineData("error: --limit: '99999999999' is out of range (at most 2147483647); see 'apigate admin audit --help'", "admin", "audit", "--limit", "99999999999")]
    [InlineData("error: --limit: '1.5' is not a whole number; see 'apigate usage recent --help'", "usage", "recent", "--user", "u@example.com", "--limit", "1.5")]
    [InlineData("error: --priority: 'high' is not a whole number; see 'apigate routes create --help'", "routes", "create", "--path", "/x", "--priority", "high")]
    public async Task NumericOptionWithBadValue_SaysWhatWasExpectedWithoutDotNetTypeNames(string expected, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("System.", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("error: --rate-limit: '99999999999' is out of range (at most 2147483647); see 'apigate plans create --help'", "--rate-limit", "99999999999")]
    [InlineData("error: --rate-limit: '-2147483649' is out of range (at least -2147483648); see 'apigate plans create --help'", "--rate-limit", "-2147483649")]
    [InlineData("error: --price: '9223372036854775808' is out of range (at most 9223372036854775807 cents); see 'apigate plans create --help'", "--price", "9223372036854775808")]
    [InlineData("error: --overage: '99999999999999999999' is out of range (at most 9223372036854775807 cents); see 'apigate plans create --help'", "--overage", "99999999999999999999")]
    [InlineData("error: --price: '29.00' is not a whole number of cents; see 'apigate plans create --help'", "--price", "29.00")]
    public async Task WholeNumberOptionOutOfRange_SaysSoAndGivesTheBound(string expected, string flag, string value)
    {
        // Act
        var result = await RunAsync("plans", "create", "--name", "Gold", flag, value);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected + "\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData(@"error: unknown option --bo\x1b[2J\ngus; see 'apigate plans create --help'", "plans", "create", "--name", "P", "--bo\u001b[2J\ngus")]
    [InlineData(@"error: --enabled: 'ma\x1b]0;owned\x07ybe' is not true or false; see 'apigate plans create --help'", "plans", "create", "--name", "P", "--enabled", "ma\u001b]0;owned\u0007ybe")]
    [InlineData(@"error: unknown command 'no\r\nsuch' (commands: create, list, get, update, enable, disable, delete); see 'apigate plans --help'", "plans", "no\r\nsuch")]
    [InlineData(@"error: --priority: 'high\x1b[31m' is not a whole number; see 'apigate routes create --help'", "routes", "create", "--priority", "high\u001b[31m")]
    public async Task ParseError_TokenWithControlCharacters_PrintedEscapedOnOneLine(string expected, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.DoesNotContain('\u001b', result.Error);
    }

    [Theory]
    [InlineData(
        "error: --name: no value given; '--' ends the options, so '--url' after it is not read as its value (write --name=--url); see 'apigate upstreams create --help'",
        "upstreams", "create", "--name", "--", "--url", "x")]
    [InlineData(
        "error: unexpected argument '--name' after '--' (it ends the options: what follows is a value, and this command takes none there); see 'apigate upstreams create --help'",
        "upstreams", "create", "--url", "http://127.0.0.1:1", "--", "--name", "x")]
    public async Task WordAfterDoubleDash_IsCalledAValueNotAnUnknownOption(string expected, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected + "\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task OptionValueStartingWithADash_GivenWithEquals_IsTaken()
    {
        // Act: what the message about `--name -- --url` advises
        var result = await RunAsync("plans", "create", "--id", "dash", "--name=--url", "--json");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("--url", JsonDocument.Parse(result.Output).RootElement.GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("1001")]
    [InlineData("2147483647")]
    public async Task BillingStatus_LimitOutOfRange_ExitsTwoNamingTheOptionAndTheRange(string limit)
    {
        // Act
        var result = await RunAsync("billing", "status", "--limit", limit);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --limit: must be between 1 and 1000", result.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')[^1]);
        Assert.Equal("", result.Output);
    }

    [Theory]
    [InlineData("error: --limit: must be between 1 and 10000", "usage", "recent", "--user", "nobody@example.com", "--limit", "0")]
    [InlineData("error: --limit: must be between 1 and 1000", "webhooks", "deliveries", "nope", "--limit", "-1")]
    [InlineData("error: --limit: must be between 1 and 10000", "admin", "audit", "--limit", "0")]
    public async Task LimitOutOfRange_ExitsTwoNamingTheOptionBeforeLookingAnythingUp(string expected, params string[] args)
    {
        // Act: the user and the webhook do not exist either, which would exit 3
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected, result.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')[^1]);
        Assert.Equal("", result.Output);
    }

    [Theory]
    [InlineData(
        "unknown command 'nosuch' (commands: serve, demo, upstreams, routes, users, plans, keys, entitlements, plan-entitlements, usage, config, admin, sessions, version, migrate, store, webhooks, billing); see 'apigate --help'",
        "nosuch")]
    [InlineData("unknown command 'nosuch' (commands: create, list, get, update, enable, disable, delete); see 'apigate routes --help'", "routes", "nosuch")]
    public async Task UnknownCommand_ExitsTwoNamingItAndListingTheCommands(string expected, params string[] args)
    {
        // Act
        var result = await RunAsync(args);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: " + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal("", result.Output);
    }

    [Theory]
    [InlineData("billing", "status")]
    [InlineData("webhooks", "deliveries")]
    public async Task Help_OptionWithADefault_ShowsTheDefaultOnce(params string[] command)
    {
        // Act: the parser prints "[default: 20]" after the description itself
        var result = await RunAsync([.. command, "--help"]);

        // Assert
        Assert.Equal(0, result.ExitCode);
        var line = Assert.Single(result.Output.ReplaceLineEndings("\n").Split('\n'), l => l.TrimStart().StartsWith("--limit", StringComparison.Ordinal));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(line, "default"));
        Assert.EndsWith("1 to 1000 [default: 20]", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lists_StoredControlCharacters_AreEscapedInTables()
    {
        // Arrange: a row written before control characters were refused (straight into the store).
        var now = DateTimeOffset.UtcNow;
        await using (var store = new SqliteGatewayStore(Environment["APIGATE_DATABASE_DSN"], new SecretProtector(null)))
        {
            await store.InitializeAsync(CancellationToken.None);
            await store.CreateUpstreamAsync(new UpstreamDefinition
            {
                Id = "up_legacy",
                Name = "evil\u001b[2J\u0007name\u009b",
                Slug = "evil-name",
                Description = "line1\nline2",
                BaseUrl = "http://127.0.0.1:1",
                Targets = [new UpstreamTarget("http://127.0.0.1:1")],
                CreatedAt = now,
                UpdatedAt = now,
            }, CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();

        // Act
        var listed = await RunAsync("upstreams", "list");
        var got = await RunAsync("upstreams", "get", "evil-name");

        // Assert
        Assert.Equal(0, listed.ExitCode);
        Assert.Equal(0, got.ExitCode);
        foreach (var output in new[] { listed.Output, got.Output })
        {
            Assert.DoesNotContain('\u001b', output);
            Assert.DoesNotContain('\u0007', output);
            Assert.DoesNotContain('\u009b', output);
            Assert.Contains(@"evil\x1b[2J\x07name\u009b", output, StringComparison.Ordinal);
        }

        Assert.Contains(@"line1\nline2", got.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersList_NamesInWideAndCombiningCharacters_KeepsTheColumnsAlignedAsTheTerminalDrawsThem()
    {
        // Arrange: 東京 takes two columns a character, e followed by five combining accents one column in all
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "東京@example.com", "--name", "東京東京東京")).ExitCode);
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "e@example.com", "--name", "e\u0301\u0301\u0301\u0301\u0301")).ExitCode);

        // Act
        var listed = await RunAsync("users", "list");

        // Assert: EMAIL is 16 columns wide (東京@example.com) and NAME 12 (東京東京東京), and every row is padded to them
        Assert.Equal(0, listed.ExitCode);
        var lines = listed.Output.ReplaceLineEndings("\n").Split('\n');
        Assert.Contains("EMAIL             NAME          PLAN", lines[0], StringComparison.Ordinal);
        Assert.Contains("  東京@example.com  東京東京東京  free", listed.Output, StringComparison.Ordinal);
        Assert.Contains("  e@example.com     e\u0301\u0301\u0301\u0301\u0301             free", listed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteRevokeAndValidate_StoredTextWithEscapes_PrintedEscapedLikeTables()
    {
        // Arrange: names and a URL holding an OSC title sequence, a colour and a bidirectional override, as a row written
        // before they were refused (straight into the store); tables escaped them, these lines did not.
        const string evil = "\u001b]0;owned\u0007\u001b[31m\u202e";
        const string escaped = @"\x1b]0;owned\x07\x1b[31m\u202e";
        Assert.Equal(0, (await RunAsync("plans", "create", "--id", "legacy", "--name", "Legacy")).ExitCode);
        Assert.Equal(0, (await RunAsync("admin", "tokens", "create", "--name", "ops")).ExitCode);
        Assert.Equal(0, (await RunAsync("webhooks", "create", "--url", "http://127.0.0.1:1/hook", "--events", "key.created")).ExitCode);
        Assert.Equal(0, (await RunAsync("routes", "create", "--name", "r", "--path", "/r/*")).ExitCode);
        await ExecuteAsync(
            $"UPDATE plans SET name = 'Legacy{evil}' WHERE id = 'legacy'; UPDATE admin_tokens SET name = 'ops{evil}'; "
            + $"UPDATE webhook_endpoints SET url = 'http://127.0.0.1:1/hook{evil}'; UPDATE routes SET host_pattern = 'api{evil}.example.com'");
        var webhook = JsonDocument.Parse((await RunAsync("webhooks", "list", "--json")).Output).RootElement[0].GetProperty("id").GetString()!;

        // Act
        var deletedPlan = await RunAsync("plans", "delete", "legacy");
        var revoked = await RunAsync("admin", "tokens", "revoke", $"ops{evil}");
        var deletedWebhook = await RunAsync("webhooks", "delete", webhook);
        var validated = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(0, deletedPlan.ExitCode);
        Assert.Equal(0, revoked.ExitCode);
        Assert.Equal(0, deletedWebhook.ExitCode);
        Assert.Equal(1, validated.ExitCode);
        foreach (var result in new[] { deletedPlan, revoked, deletedWebhook, validated })
        {
            var printed = result.Output + result.Error;
            Assert.DoesNotContain('\u001b', printed);
            Assert.DoesNotContain('\u0007', printed);
            Assert.DoesNotContain('\u202e', printed);
        }

        Assert.Contains($"deleted plan legacy (Legacy{escaped})", deletedPlan.Output, StringComparison.Ordinal);
        Assert.StartsWith($"revoked admin token ops{escaped} (", revoked.Output, StringComparison.Ordinal);
        Assert.Contains($"/hook{escaped})", deletedWebhook.Output, StringComparison.Ordinal);
        Assert.Contains($"problem: route 'r': host_pattern: ", validated.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_OptionValueWithALineBreak_ErrorStaysOneLine()
    {
        // Act: the message quotes the value; printed raw, the CR LF split the error in two.
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1")).ExitCode);
        var result = await RunAsync("upstreams", "update", "u", "--passive-failures", "a\r\nb");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(@"error: --passive-failures: 'a\r\nb' is not a number of failures (0 = off; 'default' or -1 = the default)" + "\n", result.Diagnostics.ReplaceLineEndings("\n"));
    }

    [ServiceUserFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes
    public async Task UpstreamsCreate_AuthValueAtFileTheUserCannotRead_OneLineNamingTheFieldAndNothingWritten()
    {
        // Arrange: the service user's store, and a credential file it may not read (an unhandled
        // UnauthorizedAccessException with a stack trace before).
        var directory = Directory.CreateDirectory(Path.Combine(TestDirectory, "svc")).FullName;
        var secret = Path.Combine(directory, "secret.txt");
        await File.WriteAllTextAsync(secret, "s3cret\n");
        await ServiceUser.OwnAsync(directory);
        File.SetUnixFileMode(secret, UnixFileMode.None);
        var database = Path.Combine(directory, "apigate.db");

        // Act
        var created = await ServiceUser.RunCliAsync(database, "upstreams", "create", "--name", "u", "--url", "http://127.0.0.1:1", "--auth-type", "bearer", "--auth-value", "@" + secret);
        var listed = await ServiceUser.RunCliAsync(database, "upstreams", "list");

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.StartsWith($"error: --auth-value: file '{secret}' cannot be read: ", created.Diagnostics, StringComparison.Ordinal);
        Assert.Single(created.Diagnostics.TrimEnd().Split('\n'));
        Assert.Contains("(none)", listed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlansCreate_IdLongerThan64Characters_RefusedInOneShortLineAndNothingWritten()
    {
        // Arrange: a 100 kB id was stored, and every request of the plan's users carried it upstream in X-Plan-ID (431).
        var id = new string('x', 100_000);
        var name = string.Join(' ', Enumerable.Repeat("Enterprise", 10)); // an id made from it would be 109 characters

        // Act
        var given = await RunAsync("plans", "create", "--id", id, "--name", "Huge");
        var derived = await RunAsync("plans", "create", "--name", name);
        var longest = await RunAsync("plans", "create", "--id", new string('p', 64), "--name", "Longest");
        var listed = await RunAsync("plans", "list", "--json");

        // Assert
        Assert.Equal(2, given.ExitCode);
        Assert.Equal("error: --id: is longer than 64 characters (it is sent upstream in X-Plan-ID)\n", given.Diagnostics.ReplaceLineEndings("\n"));
        Assert.Equal(2, derived.ExitCode);
        Assert.Equal("error: --name: the id made from the name is longer than 64 characters (it is sent upstream in X-Plan-ID): give a shorter id\n",
            derived.Diagnostics.ReplaceLineEndings("\n"));
        Assert.Equal(0, longest.ExitCode);
        Assert.Equal(["free", new string('p', 64)], JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().Select(p => p.GetProperty("id").GetString()).Order(StringComparer.Ordinal));
    }

    private async Task ExecuteAsync(string sql)
    {
        SqliteConnection.ClearAllPools();
        await using (var connection = new SqliteConnection($"Data Source={Environment["APIGATE_DATABASE_DSN"]};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }
    }

    private async Task<string> ReadAuthValueColumnAsync(string slug)
    {
        SqliteConnection.ClearAllPools();
        await using var connection = new SqliteConnection($"Data Source={Environment["APIGATE_DATABASE_DSN"]};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT auth_value FROM upstreams WHERE slug = $slug";
        command.Parameters.AddWithValue("$slug", slug);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
