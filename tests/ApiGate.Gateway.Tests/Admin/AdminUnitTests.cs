using ApiGate.Core.Identity;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>The admin API's pure parts: base path rules, settings redaction, token format; and the startup warning.</summary>
public sealed class AdminUnitTests
{
    [Theory]
    [InlineData("/admin", null)]
    [InlineData("/ops/gateway", null)]
    [InlineData("/_admin-v2", null)]
    [InlineData("admin", "must start with '/'")]
    [InlineData("/admin/", "not end with '/'")]
    [InlineData("/", "at least one segment")]
    [InlineData("/a//b", "segments")]
    [InlineData("/ad min", "segments")]
    [InlineData("/health", "reserved path /health")]
    [InlineData("/metrics/admin", "reserved path /metrics")]
    // The console's pages: the admin API served there answered every console page with its JSON 401 (attack run).
    [InlineData("/ui", "reserved path /ui")]
    [InlineData("/UI/admin", "reserved path /ui")]
    [InlineData("/uiadmin", null)]
    public void ValidateBasePath_Paths_AcceptsOrExplains(string path, string? problem)
    {
        var result = AdminApi.ValidateBasePath(path);

        if (problem is null)
        {
            Assert.Null(result);
        }
        else
        {
            Assert.Contains(problem, result);
        }
    }

    [Fact]
    public void GatewayOptions_AdminTokenPrefixAsKeyPrefix_IsRefused()
    {
        var options = new GatewayOptions { AuthKeyPrefix = AdminTokens.TokenPrefix };

        var error = Assert.Throws<ArgumentException>(() => new GatewayOptionsValidator().ThrowIfInvalid(options));
        Assert.Contains("auth.key_prefix (APIGATE_AUTH_KEY_PREFIX): 'agt_' is reserved for admin tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SettingsOf_Secrets_AreRedacted()
    {
        var options = new GatewayOptions
        {
            SecretKey = "top-secret",
            SecretKeyPrevious = "old-secret",
            RedisUrl = "redis://user:redis-pass@cache:6379",
            DatabaseDsn = "Data Source=/var/lib/apigate.db;Password=db-pass",
            UpstreamUrl = "http://127.0.0.1:8081",
        };

        var settings = AdminSettings.Of(options);
        var text = string.Join(";", settings.Select(s => $"{s.Key}={s.Value}"));

        Assert.Equal("(set)", settings["secret_key"]);
        Assert.Equal("(set)", settings["secret_key_previous"]);
        Assert.Equal("redis://***@cache:6379", settings["redis_url"]);
        Assert.Equal("Data Source=/var/lib/apigate.db;Password=***", settings["database_dsn"]);
        Assert.Equal("http://127.0.0.1:8081", settings["upstream_url"]);
        Assert.Equal("30s", settings["upstream_timeout"]);
        Assert.Equal(8080, settings["port"]);
        Assert.DoesNotContain("top-secret", text);
        Assert.DoesNotContain("old-secret", text);
        Assert.DoesNotContain("redis-pass", text);
        Assert.DoesNotContain("db-pass", text);
    }

    [Theory]
    [InlineData("upstream.timeout", "30s", "30s")]
    [InlineData("upstream.timeout", "1500ms", "1500ms")]
    [InlineData("upstream.timeout", "5400s", "90m")]
    [InlineData("usage.retention", "7d", "7d")]
    [InlineData("usage.retention", "36h", "36h")]
    [InlineData("config.poll_interval", "250ms", "250ms")]
    public void SettingsOf_Duration_ShownAsTheSettingIsWrittenAndAsConfigShowShowsIt(string key, string written, string expected)
    {
        // Arrange: it read in milliseconds ("30000ms", "604800000ms" for 7d), a form no one writes it in
        var setting = GatewaySettings.Get(key);
        var options = new GatewayOptions();
        setting.Apply(options, written);

        // Act
        var shown = AdminSettings.Of(options)[setting.AdminName];

        // Assert
        Assert.Equal(expected, shown);
        Assert.Equal(setting.Format(options), shown);
    }

    [Fact]
    public void SettingsOf_EveryDuration_TakenBackByItsSettingAsTheSameValue()
    {
        // Arrange
        var options = new GatewayOptions();
        var settings = AdminSettings.Of(options);
        var durations = GatewaySettings.All.Where(s => s.Get(options) is TimeSpan).ToList();

        // Act
        var again = new GatewayOptions();
        foreach (var setting in durations)
        {
            setting.Apply(again, (string)settings[setting.AdminName]!);
        }

        // Assert
        Assert.NotEmpty(durations);
        Assert.All(durations, setting => Assert.Equal(setting.Get(options), setting.Get(again)));
    }

    [Theory]
    [InlineData("postgres://app@db:5432/apigate?password=s3cretpw", "postgres://***@db:5432/apigate?password=***")]
    [InlineData("postgres://db/apigate?sslmode=require&PASSWORD=s3cretpw&application_name=gw", "postgres://db/apigate?sslmode=require&PASSWORD=***&application_name=gw")]
    [InlineData("Host=db;Username=app;Password=s3cretpw;Database=apigate", "Host=db;Username=app;Password=***;Database=apigate")]
    [InlineData("postgres://app:s3cret/pw@db:5432/apigate", "postgres://***@db:5432/apigate")] // refused at start (not percent-encoded), still never shown
    public void SettingsOf_DatabaseDsnPassword_MaskedInEveryForm(string dsn, string shown)
    {
        var settings = AdminSettings.Of(new GatewayOptions { DatabaseDsn = dsn });

        Assert.Equal(shown, settings["database_dsn"]);
    }

    [Fact]
    public void SettingsOf_SqliteDsnStartingWithTilde_ShownAsTheFileInTheHomeDirectoryAsTheFileSettingsAre()
    {
        // Arrange: as the gateway holds them, a file setting expanded when read, the DSN as written
        var home = System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
        var options = new GatewayOptions { DatabaseDsn = "~/apigate.db", UsageExport = Path.Join(home, "usage.jsonl") };

        // Act
        var settings = AdminSettings.Of(options);

        // Assert
        Assert.Equal((Path.Join(home, "apigate.db"), Path.Join(home, "usage.jsonl")), (settings["database_dsn"], settings["usage_export"]));
    }

    [Theory]
    [InlineData("redis://:s3cretpw@cache:6379", "redis://***@cache:6379")]
    [InlineData("redis://default:p@ss@cache:6379/0", "redis://***@cache:6379/0")]
    [InlineData("rediss://s3cretpw@cache", "rediss://***@cache")]
    [InlineData("redis://:k9/Zx+Qa==@cache:6379/0", "redis://***@cache:6379/0")] // a base64 password: the URL's parser reads it whole
    [InlineData("redis://app:a/b@c@cache", "redis://***@cache")]
    [InlineData("redis://cache:6379", "redis://cache:6379")]
    [InlineData("unix://:s3cret/pw@/run/redis/redis.sock?db=1", "unix://***@/run/redis/redis.sock?db=1")]
    [InlineData("unix:///run/redis/redis.sock?password=s3cretpw", "unix:///run/redis/redis.sock?password=***")] // refused at start, still never shown
    public void SettingsOf_RedisUrlUserInfo_IsMaskedWhole(string url, string shown)
    {
        var settings = AdminSettings.Of(new GatewayOptions { RedisUrl = url });

        Assert.Equal(shown, settings["redis_url"]);
    }

    [Theory]
    [InlineData("Host=db; Password = pgpw2 ;Database=d", "Host=db;Password=***;Database=d")]
    [InlineData("Host=db;PASSWORD=\"pg;pw3\";Database=d", "Host=db;PASSWORD=***;Database=d")]
    [InlineData("Host=db;Pwd='it''s;here';Database=d", "Host=db;Pwd=***;Database=d")]
    [InlineData("Host=db;psw=plain", "Host=db;psw=***")]
    [InlineData("Password=first;Host=db", "Password=***;Host=db")]
    [InlineData("Host=db;Passfile=/etc/pgpass", "Host=db;Passfile=/etc/pgpass")]
    // The passphrase of the client certificate's key (SSL Key) is a password too: shown in clear it was (attack run).
    [InlineData("Host=db;SSL Key=/etc/pg/client.key;SSL Password=keypass1;Database=d", "Host=db;SSL Key=/etc/pg/client.key;SSL Password=***;Database=d")]
    [InlineData("Host=db;sslpassword = \"key;pass2\"", "Host=db;sslpassword=***")]
    [InlineData("Password=p;SslPassword=keypass3", "Password=***;SslPassword=***")]
    [InlineData("postgres://db/apigate?ssl%20key=/k.pem&ssl%20password=keypass4&sslmode=require", "postgres://db/apigate?ssl%20key=/k.pem&ssl%20password=***&sslmode=require")]
    [InlineData("postgres://db/apigate?SslPassword=keypass5", "postgres://db/apigate?SslPassword=***")]
    // A parameter name is percent-decoded before the store reads it, so an encoded letter still names the password.
    [InlineData("postgres://db/apigate?pass%77ord=pgpw6&sslmode=require", "postgres://db/apigate?pass%77ord=***&sslmode=require")]
    [InlineData("postgres://db/apigate?%50WD=pgpw7", "postgres://db/apigate?%50WD=***")]
    [InlineData("postgres://db/apigate?ssl%50assword=keypass8#x", "postgres://db/apigate?ssl%50assword=***#x")]
    public void SettingsOf_DsnPasswordInAnyNpgsqlSpelling_IsMaskedWhole(string dsn, string shown)
    {
        var settings = AdminSettings.Of(new GatewayOptions { DatabaseDsn = dsn });

        Assert.Equal(shown, settings["database_dsn"]);
    }

    [Fact]
    public void AdminTokens_Format_IsDistinctFromApiKeys()
    {
        var token = AdminTokens.Generate();
        var key = ApiKeys.Generate("ak_");

        Assert.True(AdminTokens.IsWellFormed(token));
        Assert.False(AdminTokens.IsWellFormed(key));
        Assert.Equal(68, token.Length);
        Assert.Equal("agt_", AdminTokens.PrefixOf(token)[..4]);
        Assert.NotEqual(AdminTokens.Generate(), token);
    }

    [Fact]
    public async Task StartupCheck_NoToken_LogsAWarningWithTheCommand()
    {
        await using var temp = await TempStore.CreateAsync();
        var logger = new RecordingLogger<AdminTokenStartupCheck>();

        await new AdminTokenStartupCheck(temp.Store, new GatewayOptions(), logger).StartAsync(CancellationToken.None);

        var (_, level, message) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("apigate admin tokens create --name <name>", message);
    }

    [Fact]
    public async Task StartupCheck_WithToken_LogsNoWarning()
    {
        await using var temp = await TempStore.CreateAsync();
        await new Core.Management.AdminTokenService(temp.Store, TimeProvider.System).CreateAsync("ops", CancellationToken.None);
        var logger = new RecordingLogger<AdminTokenStartupCheck>();

        await new AdminTokenStartupCheck(temp.Store, new GatewayOptions(), logger).StartAsync(CancellationToken.None);

        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
    }
}
