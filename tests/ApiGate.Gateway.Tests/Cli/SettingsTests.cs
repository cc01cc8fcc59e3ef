using System.Text.Json;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;
using static ApiGate.Gateway.Tests.Infrastructure.ConfigShow;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// Settings through Microsoft.Extensions.Configuration (issue 11): one list of settings, file &lt; environment &lt; flags
/// as configuration providers, the options pattern with validation before <c>serve</c> opens the store or a port.
/// </summary>
public sealed class SettingsTests : CliTestBase
{
    [Fact]
    public async Task ConfigShow_OneSettingInEverySource_FlagBeatsEnvironmentBeatsFileBeatsDefault()
    {
        // Arrange: database.dsn in the file, the environment and as --database; then take them away one by one.
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        var fromFile = Path.Combine(TestDirectory, "file.db");
        var fromEnvironment = Path.Combine(TestDirectory, "env.db");
        var fromFlag = Path.Combine(TestDirectory, "flag.db");
        await File.WriteAllTextAsync(file, $"database:\n  dsn: {fromFile}\n");
        Environment["APIGATE_DATABASE_DSN"] = fromEnvironment;

        // Act
        var all = await ShowAsync("--config", file, "--database", fromFlag);
        var noFlag = await ShowAsync("--config", file);
        Environment.Remove("APIGATE_DATABASE_DSN");
        var fileOnly = await ShowAsync("--config", file);
        var nothing = await ShowAsync();

        // Assert
        Assert.Equal((fromFlag, "flag"), Setting(all, "database.dsn"));
        Assert.Equal((fromEnvironment, "environment"), Setting(noFlag, "database.dsn"));
        Assert.Equal((fromFile, "file"), Setting(fileOnly, "database.dsn"));
        Assert.Equal(("apigate.db", "default"), Setting(nothing, "database.dsn"));
    }

    [Fact]
    public async Task ConfigShow_ConfigFileFromApigateConfigVariable_IsReadAsTheFileSource()
    {
        // Arrange
        var file = Path.Combine(TestDirectory, "elsewhere.yaml");
        await File.WriteAllTextAsync(file, "ratelimit:\n  burst: 9\nlog:\n  access: off\n");
        Environment["APIGATE_CONFIG"] = file;

        // Act
        var shown = await ShowAsync();
        Environment.Remove("APIGATE_CONFIG");
        var withoutFile = await ShowAsync();

        // Assert
        Assert.Equal(("9", "file"), Setting(shown, "ratelimit.burst"));
        Assert.Equal(("off", "file"), Setting(shown, "log.access"));
        Assert.Equal(("5", "default"), Setting(withoutFile, "ratelimit.burst"));
    }

    [Theory]
    [InlineData("APIGATE_TLS_CERT_FILE", "tls.cert_file", "~/certs/gateway.pem", "certs/gateway.pem")]
    [InlineData("APIGATE_TLS_KEY_FILE", "tls.key_file", " ~/certs/gateway.key ", "certs/gateway.key")]
    [InlineData("APIGATE_TLS_CERT_DIR", "tls.cert_dir", "~", "")]
    [InlineData("APIGATE_REDIS_CA_FILE", "redis.ca_file", "~/ca.pem", "ca.pem")]
    [InlineData("APIGATE_USAGE_EXPORT", "usage.export", "~/usage/events.jsonl", "usage/events.jsonl")]
    public void FilePathSetting_StartingWithTilde_IsInTheHomeDirectory(string variable, string key, string value, string underHome)
    {
        // Arrange: no shell expanded it (a config file, a quoted value); it named a directory called ~ in the working directory
        var options = new GatewayOptions();
        var home = System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);

        // Act
        GatewaySettings.Get(key).Apply(options, value);

        // Assert
        Assert.Equal(variable, GatewaySettings.Get(key).EnvironmentVariable);
        Assert.Equal(underHome.Length == 0 ? home : Path.Join(home, underHome), GatewaySettings.Get(key).Get(options));
    }

    [Theory]
    [InlineData("~user/certs/gateway.pem")]
    [InlineData("certs/~/gateway.pem")]
    public void FilePathSetting_TildeNotLeadingOrNamingAUser_KeptAsWritten(string value)
    {
        // Arrange
        var options = new GatewayOptions();

        // Act
        GatewaySettings.Get("tls.cert_file").Apply(options, value);

        // Assert
        Assert.Equal(value, options.TlsCertFile);
    }

    [Fact]
    public async Task ConfigShow_EverySettingOfTheList_IsShownWithItsVariableAndDefault()
    {
        // Act
        var shown = await ShowAsync();

        // Assert: the list drives config show; defaults are written as a setting would be (durations with their unit).
        Assert.Equal(GatewaySettings.All.Select(s => s.Key), shown.EnumerateObject().Select(p => p.Name));
        Assert.All(GatewaySettings.All, s => Assert.Equal(s.EnvironmentVariable, shown.GetProperty(s.Key).GetProperty("env").GetString()));
        Assert.Equal(("2s", "default"), Setting(shown, "database.busy_timeout"));
        Assert.Equal(("30s", "default"), Setting(shown, "upstream.timeout"));
        Assert.Equal(("250ms", "default"), Setting(shown, "config.poll_interval"));
        Assert.Equal(("false", "default"), Setting(shown, "server.inline_scheduling"));
        Assert.Equal(("", "default"), Setting(shown, "server.h2c_port"));
    }

    [Fact]
    public async Task ConfigShow_SecretsAndRedisPassword_AreRedacted()
    {
        // Arrange
        Environment["APIGATE_SECRET_KEY"] = "top-secret-key";
        Environment["APIGATE_SECRET_KEY_PREVIOUS"] = "previous-secret-key";
        Environment["APIGATE_REDIS_URL"] = "redis://default:redis-pass@127.0.0.1:6379";

        // Act
        var json = await RunAsync("config", "show", "--json");
        var table = await RunAsync("config", "show");

        // Assert
        var shown = JsonDocument.Parse(json.Output).RootElement;
        Assert.Equal(("(set)", "environment"), Setting(shown, "secret_key"));
        Assert.Equal(("(set)", "environment"), Setting(shown, "secret_key_previous"));
        Assert.Equal(("redis://***@127.0.0.1:6379", "environment"), Setting(shown, "redis.url"));
        var redisLine = table.Output.Split('\n').Single(l => l.StartsWith("redis.url", StringComparison.Ordinal));
        Assert.Contains("redis://***@127.0.0.1:6379", redisLine, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret-key", json.Output + table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("previous-secret-key", json.Output + table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("redis-pass", json.Output + table.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("APIGATE_PORTAL_BASE_URL", "portal.base_url (from APIGATE_PORTAL_BASE_URL): 'ftp://***@portal.example.com' is not an http:// or https:// address")]
    [InlineData("APIGATE_ADMIN_UI_BASE_URL", "admin.ui_base_url (from APIGATE_ADMIN_UI_BASE_URL): 'ftp://***@portal.example.com' is not an http:// or https:// address")]
    [InlineData("APIGATE_STRIPE_API_BASE", "stripe.api_base (from APIGATE_STRIPE_API_BASE): 'ftp://***@portal.example.com' is not an absolute http(s) URL")]
    [InlineData("APIGATE_UPSTREAM_URL", "upstream.url (from APIGATE_UPSTREAM_URL): 'ftp://***@portal.example.com' is not an absolute http:// or https:// URL")]
    public async Task ConfigShow_InvalidUrlSettingWithAPassword_RefusedWithThePasswordMasked(string variable, string expected)
    {
        // Arrange: config show masks user info; the refusal of portal.base_url quoted it whole.
        Environment[variable] = "ftp://ops:UrlPw5521@portal.example.com";

        // Act
        var result = await RunAsync("config", "show");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: " + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("UrlPw5521", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--port", "0", "server.port (from a command-line flag)")]
    [InlineData("--port", "47290", "server.h2c_port (from APIGATE_SERVER_H2C_PORT)")]
    public async Task Serve_LocalhostWithAFreePort_RefusedNamingTheSettingBeforeOpeningTheStore(string flag, string port, string setting)
    {
        // Arrange: Kestrel cannot pick one free port for both loopback addresses; it said so in its own words, exit 1
        var database = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_H2C_PORT"] = setting.StartsWith("server.h2c_port", StringComparison.Ordinal) ? "0" : "47291";

        // Act
        var result = await RunAsync("serve", "--host", "localhost", flag, port);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"error: invalid configuration: {setting}: 0 (a free port) cannot be used with server.host localhost, which is two addresses: give a fixed port, or set server.host to 127.0.0.1 or ::1\n",
            result.Error.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(database));
    }

    [Theory]
    [InlineData("APIGATE_RATELIMIT_BURST", "-1", "ratelimit.burst (from APIGATE_RATELIMIT_BURST): must be 0 or more")]
    [InlineData("APIGATE_AUTH_KEY_PREFIX", "agt_", "auth.key_prefix (from APIGATE_AUTH_KEY_PREFIX): 'agt_' is reserved for admin tokens")]
    [InlineData("APIGATE_SERVER_HOST", "gateway.internal", "server.host (from APIGATE_SERVER_HOST): 'gateway.internal' is not an IP address, localhost or 0.0.0.0")]
    // Read as the addresses 0.0.31.144 and 127.0.0.1, then refused by the bind as if the port were at fault.
    [InlineData("APIGATE_SERVER_HOST", "8080", "server.host (from APIGATE_SERVER_HOST): '8080' is not an IP address, localhost or 0.0.0.0")]
    [InlineData("APIGATE_SERVER_HOST", "127.1", "server.host (from APIGATE_SERVER_HOST): '127.1' is not an IP address, localhost or 0.0.0.0")]
    [InlineData("APIGATE_SERVER_HOST", "[127.0.0.1", "server.host (from APIGATE_SERVER_HOST): '[127.0.0.1' is not an IP address, localhost or 0.0.0.0")]
    [InlineData("APIGATE_LOG_LEVEL", "loud", "log.level (from APIGATE_LOG_LEVEL): 'loud' is not one of trace, debug, info, warn, error")]
    [InlineData("APIGATE_SERVER_SHUTDOWN_TIMEOUT", "500ms", "server.shutdown_timeout (from APIGATE_SERVER_SHUTDOWN_TIMEOUT): must be between 1s and 1h")]
    [InlineData("APIGATE_SERVER_SHUTDOWN_TIMEOUT", "2h", "server.shutdown_timeout (from APIGATE_SERVER_SHUTDOWN_TIMEOUT): must be between 1s and 1h")]
    [InlineData("APIGATE_SERVER_STOP_DELAY", "11m", "server.stop_delay (from APIGATE_SERVER_STOP_DELAY): must be between 0s (off) and 10m")]
    [InlineData("APIGATE_SERVER_MAX_CONNECTIONS", "0", "server.max_connections (from APIGATE_SERVER_MAX_CONNECTIONS): 0 is out of range (1-1000000)")]
    [InlineData("APIGATE_SERVER_MAX_CONNECTIONS", "1000001", "server.max_connections (from APIGATE_SERVER_MAX_CONNECTIONS): 1000001 is out of range (1-1000000)")]
    // A 1 ms poll would query the store a thousand times a second.
    [InlineData("APIGATE_CONFIG_POLL_INTERVAL", "1ms", "config.poll_interval (from APIGATE_CONFIG_POLL_INTERVAL): must be at least 100ms")]
    [InlineData("APIGATE_WEBHOOK_POLL_INTERVAL", "1ms", "webhook.poll_interval (from APIGATE_WEBHOOK_POLL_INTERVAL): must be at least 100ms")]
    public async Task Serve_InvalidSettingFromEnvironment_FailsAtStartNamingSettingAndVariable_BeforeOpeningTheStore(string variable, string value, string expected)
    {
        // Arrange
        var database = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1"; // loopback, should the check ever let it start
        Environment[variable] = value;

        // Act
        var result = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: " + expected + "\n", result.Error.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(database)); // refused before the store was opened (or created)
    }

    [Theory]
    [InlineData("ten")]
    [InlineData("1e4")]
    [InlineData("")]
    public async Task Serve_MaxConnectionsNotAWholeNumber_Exit2NamingTheSetting(string value)
    {
        // Arrange
        Environment["APIGATE_DATABASE_DSN"] = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_SERVER_MAX_CONNECTIONS"] = value;

        // Act
        var result = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: server.max_connections (from APIGATE_SERVER_MAX_CONNECTIONS): '{value}' is not a whole number\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("0", "invalid configuration: tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): 0 is out of range (1-65535)")]
    [InlineData("65536", "invalid configuration: tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): 65536 is out of range (1-65535)")]
    [InlineData("https", "tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): 'https' is not a whole number")]
    [InlineData("-1", "invalid configuration: tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): -1 is out of range (1-65535)")]
    [InlineData("443.0", "tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): '443.0' is not a whole number")]
    [InlineData("0x1bb", "tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): '0x1bb' is not a whole number")]
    [InlineData("4_43", "tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): '4_43' is not a whole number")]
    [InlineData("", "tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): '' is not a whole number")]
    [InlineData("99999999999999999999", "tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): '99999999999999999999' is not a whole number")]
    public async Task ConfigValidate_RedirectPortOutOfRangeOrNotAWholeNumber_Exit2NamingTheSetting(string value, string expected)
    {
        // Arrange
        Environment["APIGATE_TLS_REDIRECT_PORT"] = value;

        // Act
        var validate = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, validate.ExitCode);
        Assert.Equal("", validate.Output);
        Assert.Equal("error: " + expected, validate.Error.ReplaceLineEndings("\n").TrimEnd('\n'));
    }

    [Fact]
    public async Task ConfigValidate_RedirectPortInTheFileAsAnIntegerAndInTheEnvironment_TheVariableWinsAndIsNamed()
    {
        // Arrange: a YAML integer in the file (valid on its own, with its listener), and a variable above it out of range
        var file = Path.Combine(TestDirectory, "redirect.yaml");
        await File.WriteAllTextAsync(file, "tls:\n  redirect_port: 443\n");
        Environment["APIGATE_CONFIG"] = file;
        Environment["APIGATE_TLS_REDIRECT_PORT"] = "0";

        // Act
        var validate = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, validate.ExitCode);
        Assert.Equal(
            "error: invalid configuration: tls.redirect_port (from APIGATE_TLS_REDIRECT_PORT): 0 is out of range (1-65535)",
            validate.Error.ReplaceLineEndings("\n").TrimEnd('\n'));
    }

    [Fact]
    public async Task ServeAndConfigValidate_UsageExportIsADirectory_RefusedNamingTheSetting()
    {
        // Arrange
        var directory = Directory.CreateDirectory(Path.Combine(TestDirectory, "exports")).FullName;
        Environment["APIGATE_DATABASE_DSN"] = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_USAGE_EXPORT"] = directory;

        // Act
        var serve = await RunAsync("serve", "--port", "0");
        var validate = await RunAsync("config", "validate");

        // Assert
        var expected = $"usage.export (from APIGATE_USAGE_EXPORT): '{directory}' is a directory: name a file in it";
        Assert.Equal(2, serve.ExitCode);
        Assert.StartsWith("error: invalid configuration: " + expected, serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", serve.Error, StringComparison.Ordinal); // no stack trace
        Assert.NotEqual(0, validate.ExitCode);
        Assert.Contains(expected, validate.Output + validate.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("apigate.db", "apigate.db", "is a file of the store (database.dsn)")]
    [InlineData("apigate.db-wal", "apigate.db", "is a file of the store (database.dsn)")]
    [InlineData("usage", "usage.1", "rotates into {0}.1, a file of the store (database.dsn)")]
    public async Task ServeAndConfigValidate_UsageExportNamesAFileOfTheStore_RefusedAndTheStoreKept(string exportName, string databaseName, string problem)
    {
        // Arrange: a store with data, and an export a typo away from it: it appended JSON lines into the database and,
        // rotating, renamed the database away under the running gateway ("file is not a database")
        var database = Path.Combine(TestDirectory, databaseName);
        var export = Path.Combine(TestDirectory, exportName);
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);
        // Everything written moved into the database file first: a write-ahead log left behind would be checkpointed by
        // the next reader's close, changing the file's header (its change counter) though nothing new was written.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            await checkpoint.ExecuteNonQueryAsync();
        }

        var before = await File.ReadAllBytesAsync(database);
        Environment["APIGATE_USAGE_EXPORT"] = export;

        // Act
        var serve = await RunAsync("serve", "--port", "0");
        var validate = await RunAsync("config", "validate");

        // Assert
        var expected = $"usage.export (from APIGATE_USAGE_EXPORT): '{export}' {string.Format(System.Globalization.CultureInfo.InvariantCulture, problem, export)}";
        Assert.Equal(2, serve.ExitCode);
        Assert.StartsWith("error: invalid configuration: " + expected, serve.Error, StringComparison.Ordinal);
        Assert.NotEqual(0, validate.ExitCode);
        Assert.Contains(expected, validate.Output + validate.Error, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(database));
        Environment.Remove("APIGATE_USAGE_EXPORT");
        Assert.Contains("kept@example.com", (await RunAsync("users", "list")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServeAndConfigValidate_UsageExportIsALinkToTheStore_Refused()
    {
        // Arrange: another name of the database: a symbolic link to it
        var database = Path.Combine(TestDirectory, "apigate.db");
        var link = Path.Combine(TestDirectory, "usage.jsonl");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);
        File.CreateSymbolicLink(link, database);
        Environment["APIGATE_USAGE_EXPORT"] = link;

        // Act
        var validate = await RunAsync("config", "validate");

        // Assert
        Assert.NotEqual(0, validate.ExitCode);
        Assert.Contains($"usage.export (from APIGATE_USAGE_EXPORT): '{link}' is a file of the store (database.dsn, {database})", validate.Output + validate.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_UsageExportCannotBeCreated_OneLineNamingTheSetting()
    {
        // Arrange: its directory would have to be made inside a file.
        var file = Path.Combine(TestDirectory, "plain-file");
        await File.WriteAllTextAsync(file, "x");
        Environment["APIGATE_DATABASE_DSN"] = Path.Combine(TestDirectory, "export.db");
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_USAGE_EXPORT"] = Path.Combine(file, "usage.jsonl");

        // Act
        var serve = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(1, serve.ExitCode);
        var line = Assert.Single(serve.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.StartsWith($"error: usage.export (APIGATE_USAGE_EXPORT): cannot append to '{Path.Combine(file, "usage.jsonl")}'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", serve.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_UsageExportCannotBeCreated_ReportsWhatServeRefusesToStartWith()
    {
        // Arrange: a valid setting, but its directory would have to be made inside a file; validate said "valid".
        var file = Path.Combine(TestDirectory, "plain-file");
        await File.WriteAllTextAsync(file, "x");
        var export = Path.Combine(file, "logs", "usage.jsonl");
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_USAGE_EXPORT"] = export;

        // Act
        var validate = await RunAsync("config", "validate");
        var serve = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(1, validate.ExitCode);
        Assert.Equal($"problem: usage.export (from APIGATE_USAGE_EXPORT): cannot append to '{export}': '{file}' is a file, so the directory cannot be made\n",
            validate.Diagnostics.ReplaceLineEndings("\n"));
        Assert.Equal(1, serve.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(TestDirectory, "logs"))); // validate made nothing
    }

    [ServiceUserFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes
    public async Task ConfigValidate_UsageExportTheServiceUserCannotWrite_ReportedNamingTheUser()
    {
        // Arrange: a store and an export file the service user owns and may write, and one beside it that it may not.
        var directory = Directory.CreateDirectory(Path.Combine(TestDirectory, "svc")).FullName;
        var writable = Path.Combine(directory, "usage.jsonl");
        var readOnly = Path.Combine(directory, "read-only.jsonl");
        await File.WriteAllTextAsync(writable, "");
        await File.WriteAllTextAsync(readOnly, "");
        await ServiceUser.OwnAsync(directory);
        File.SetUnixFileMode(readOnly, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var database = Path.Combine(directory, "apigate.db");
        var good = Path.Combine(directory, "good.yaml");
        var bad = Path.Combine(directory, "bad.yaml");
        await File.WriteAllTextAsync(good, $"usage:\n  export: {writable}\n");
        await File.WriteAllTextAsync(bad, $"usage:\n  export: {readOnly}\n");

        // Act
        var accepted = await ServiceUser.RunCliAsync(database, "config", "validate", "--config", good);
        var refused = await ServiceUser.RunCliAsync(database, "config", "validate", "--config", bad);

        // Assert
        Assert.True(accepted.ExitCode == 0, accepted.Error);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"problem: usage.export (from the config file): cannot append to '{readOnly}': it cannot be written by {ServiceUser.Name}, the user this process runs as",
            refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_InvalidSettingInConfigFile_FailsAtStartNamingSettingAndTheFile()
    {
        // Arrange
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        await File.WriteAllTextAsync(file, "usage:\n  queue_capacity: 0\n");

        // Act
        var result = await RunAsync("serve", "--config", file, "--host", "127.0.0.1", "--port", "0");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: invalid configuration: usage.queue_capacity (from the config file): must be at least 1", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2147483647")] // Array dimensions exceeded supported range
    [InlineData("200000000")] // 40 GB: OutOfMemoryException
    public async Task ServeAndConfigValidate_UsageQueueCapacityPastTheLargestRing_RefusedBeforeAnythingIsAllocated(string capacity)
    {
        // Arrange: validate said "valid" and serve died in an unhandled OutOfMemoryException allocating the ring.
        var database = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_USAGE_QUEUE_CAPACITY"] = capacity;

        // Act
        var serve = await RunAsync("serve", "--port", "0");
        var validate = await RunAsync("config", "validate");

        // Assert
        const string expected = "error: invalid configuration: usage.queue_capacity (from APIGATE_USAGE_QUEUE_CAPACITY): must be at most 10000000 "
            + "(every slot is allocated at start, about 200 bytes each: 2 GB)\n";
        Assert.Equal(2, serve.ExitCode);
        Assert.Equal(expected, serve.Error.ReplaceLineEndings("\n"));
        Assert.Equal(2, validate.ExitCode);
        Assert.Equal(expected, validate.Error.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(database));
    }

    [Fact]
    public async Task Serve_BufferedBodiesBudgetSmallerThanOneBody_FailsAtStartNamingBothSettings()
    {
        // Arrange: a budget that could never hold one body of the largest size would refuse every such body
        var database = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        Environment["APIGATE_TRANSFORM_MAX_BUFFERED_BYTES"] = "1000";

        // Act
        var serve = await RunAsync("serve", "--port", "0");

        // Assert
        Assert.Equal(2, serve.ExitCode);
        Assert.StartsWith("error: invalid configuration: transform.max_buffered_bytes (from APIGATE_TRANSFORM_MAX_BUFFERED_BYTES): must be at least transform.max_body_bytes (1048576",
            serve.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(database));
    }

    [Fact]
    public async Task Serve_InvalidFlag_FailsAtStartNamingSettingAndTheFlag()
    {
        // Act
        var result = await RunAsync("serve", "--host", "127.0.0.1", "--port", "70000");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: invalid configuration: server.port (from a command-line flag): 70000 is out of range (0-65535)", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigShow_SeveralInvalidSettings_NamesEachWithItsSource()
    {
        // Arrange
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        await File.WriteAllTextAsync(file, "log:\n  format: xml\n");
        Environment["APIGATE_RATELIMIT_BURST"] = "-2";

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            "error: invalid configuration: ratelimit.burst (from APIGATE_RATELIMIT_BURST): must be 0 or more; "
            + "log.format (from the config file): 'xml' is not json or console\n",
            result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("off", false)]
    [InlineData("1", true)]
    public async Task ConfigShow_BooleanSpellings_AreAccepted(string value, bool expected)
    {
        // Arrange
        Environment["APIGATE_AUTH_ALLOW_QUERY_KEY"] = value;

        // Act
        var settings = new ApiGate.Cli.Settings.SettingsLoader(name => Environment.GetValueOrDefault(name)).LoadWith(null, new Dictionary<string, string?>(), []);
        var shown = await ShowAsync();

        // Assert
        Assert.Equal(expected, settings.Options.AuthAllowQueryKey);
        Assert.Equal((value, "environment"), Setting(shown, "auth.allow_query_key"));
    }

    [Theory]
    [InlineData("0s")]
    [InlineData("0ms")]
    [InlineData("10m")]
    public async Task ConfigValidate_JwtClockSkewFromZeroToTenMinutes_Accepted(string value)
    {
        // Arrange: the documented range is 0–10m; zero means no tolerance on exp and nbf
        Environment["APIGATE_JWT_ISSUER"] = "https://login.example.com";
        Environment["APIGATE_JWT_AUDIENCE"] = "orders-api";
        Environment["APIGATE_JWT_CLOCK_SKEW"] = value;

        // Act
        var validate = await RunAsync("config", "validate");
        var settings = await ShowAsync();

        // Assert
        Assert.True(validate.ExitCode == 0, validate.Error);
        Assert.Equal((value, "environment"), Setting(settings, "jwt.clock_skew"));
    }

    [Theory]
    [InlineData("0", "'0' has no unit; write it with one, e.g. 0s")]
    [InlineData("-1s", "jwt.clock_skew (from APIGATE_JWT_CLOCK_SKEW): '-1s' is negative; it must be zero or more")]
    [InlineData("601s", "jwt.clock_skew (from APIGATE_JWT_CLOCK_SKEW): must be between 0 and 10m")]
    public async Task ConfigValidate_JwtClockSkewOutsideTheRangeOrWithoutUnit_Refused(string value, string expected)
    {
        // Arrange
        Environment["APIGATE_JWT_ISSUER"] = "https://login.example.com";
        Environment["APIGATE_JWT_AUDIENCE"] = "orders-api";
        Environment["APIGATE_JWT_CLOCK_SKEW"] = value;

        // Act
        var validate = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, validate.ExitCode);
        Assert.Contains(expected, validate.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("APIGATE_UPSTREAM_TIMEOUT", "0s", "upstream.timeout (from APIGATE_UPSTREAM_TIMEOUT): '0s' is zero; it must be more than zero")]
    [InlineData("APIGATE_WEBHOOK_TIMEOUT", "-2m", "webhook.timeout (from APIGATE_WEBHOOK_TIMEOUT): '-2m' is negative; it must be more than zero")]
    [InlineData("APIGATE_REDIS_TIMEOUT", "1d", "redis.timeout (from APIGATE_REDIS_TIMEOUT): '1d' is in days, which this setting does not take (it is at most about 24 days); use ms, s, m or h")]
    [InlineData("APIGATE_USAGE_RETENTION", "2w", "usage.retention (from APIGATE_USAGE_RETENTION): '2w' has the unit 'w', which is not one of ms, s, m, h or d")]
    [InlineData("APIGATE_CONFIG_POLL_INTERVAL", "600h", "config.poll_interval (from APIGATE_CONFIG_POLL_INTERVAL): '600h' is longer than the longest accepted, 2147483647ms (about 24 days)")]
    [InlineData("APIGATE_WEBHOOK_MAX_AGE", "36501d", "webhook.max_age (from APIGATE_WEBHOOK_MAX_AGE): '36501d' is longer than the longest accepted, 36500d")]
    [InlineData("APIGATE_UPSTREAM_TIMEOUT", "0.00000001s", "upstream.timeout (from APIGATE_UPSTREAM_TIMEOUT): '0.00000001s' is less than the shortest duration, 0.0001ms, so it is zero; it must be more than zero")] // said "longer than the longest accepted"
    [InlineData("APIGATE_USAGE_RETENTION", "0.000000000001d", "usage.retention (from APIGATE_USAGE_RETENTION): '0.000000000001d' is less than the shortest duration, 0.0001ms, so it is zero; it must be more than zero")]
    public async Task ConfigValidate_DurationOutOfReach_SaysWhyAndNamesTheSetting(string variable, string value, string expected)
    {
        // Arrange
        Environment[variable] = value;

        // Act
        var validate = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, validate.ExitCode);
        Assert.Contains(expected, validate.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.5ms")]
    [InlineData("1.0005s")]
    public async Task ConfigValidate_UpstreamTimeoutWithAFractionOfAMillisecond_RefusedAsAnUpstreamsOwnTimeoutIs(string value)
    {
        // Arrange: an upstream's own timeout refuses these; the default it falls back to took them
        Environment["APIGATE_UPSTREAM_TIMEOUT"] = value;

        // Act
        var validate = await RunAsync("config", "validate");

        // Assert
        Assert.Equal(2, validate.ExitCode);
        Assert.Equal(
            $"error: upstream.timeout (from APIGATE_UPSTREAM_TIMEOUT): '{value}' has a fraction of a millisecond; it must be a whole number of milliseconds, e.g. 1ms or 1500ms\n",
            validate.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConfigShow_UnknownKeyInConfigFile_IsRefusedListingTheKnownOnes()
    {
        // Arrange
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        await File.WriteAllTextAsync(file, "server:\n  prot: 80\n");

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: config file '{file}': unknown setting 'server.prot' (known: server.host, server.port, ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void AdminSettings_Members_AreExactlyTheListsSettingsByOptionName()
    {
        // Act
        var settings = AdminSettings.Of(new GatewayOptions { LogWriter = TextWriter.Null });

        // Assert: the list is the source (no log_writer, which is no setting); names stay the options' snake_case names.
        Assert.Equal(GatewaySettings.All.Select(s => s.AdminName).Order(StringComparer.Ordinal), settings.Keys);
        Assert.Equal(8080, settings["port"]);
        Assert.Equal("2s", settings["store_busy_timeout"]);
        Assert.Null(settings["h2c_port"]);
    }

    private async Task<JsonElement> ShowAsync(params string[] args)
    {
        var result = await RunAsync(["config", "show", "--json", .. args]);
        Assert.Equal(0, result.ExitCode);
        return JsonDocument.Parse(result.Output).RootElement.Clone();
    }
}
