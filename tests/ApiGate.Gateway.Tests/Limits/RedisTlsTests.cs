using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// <c>rediss://</c> against a real TLS-only redis-server whose certificate a private CA made by the test signed:
/// trusted through <c>APIGATE_REDIS_CA_FILE</c> it shares limits as plain Redis does; without the CA, or with a
/// <c>redis://</c> URL, <c>apigate serve</c> stops with one line naming the setting and the host, never the password.
/// Runs with the process-wide tests: its gateway's Redis gauges would be summed into <see cref="RedisSharedLimitsTests"/>'.
/// </summary>
[Collection(ProcessWideCollection.Name)]
public sealed class RedisTlsTests : IAsyncLifetime
{
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private RedisServer? _redis;

    private RedisServer Redis => _redis!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        if (RedisServer.Binary is not null || RedisServer.Required)
        {
            _redis = await RedisServer.StartTlsAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [RedisFact]
    public async Task Admit_RedissWithCaFile_AdmitsAndCountsTheRequestInRedis()
    {
        // Arrange
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.RedisUrl = Redis.Url();
            o.RedisCaFile = Redis.CaFile!;
            o.RedisPrefix = _prefix;
            o.RedisTimeout = TimeSpan.FromSeconds(2);
        }, _directory);
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var (key, user, _) = await gateway.CreateKeyAsync("tls@example.com", new PlanInput { Id = "small", Name = "Small", RequestsPerMonth = 5 });

        // Act
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/x");
        request.Headers.Add("X-API-Key", key);
        using var response = await gateway.Client.SendAsync(request);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var counter = $"{_prefix}{{{user.Id}}}:q:{QuotaPeriod.StartOf(DateTimeOffset.UtcNow):yyyy-MM}";
        Assert.Equal("$1\r\n1", await Redis.CommandAsync("GET", counter));
    }

    [RedisFact]
    public async Task Serve_RedissSelfSignedWithoutCaFile_ExitsNamingSettingHostAndUntrustedCertificate()
    {
        var url = Redis.Url();

        var result = await ServeAsync(url, caFile: null);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Diagnostics.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("APIGATE_REDIS_URL", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{Redis.Port}", line, StringComparison.Ordinal);
        Assert.Contains("certificate was not trusted", line, StringComparison.Ordinal);
        AssertNoPassword(url, result);
    }

    [RedisFact]
    public async Task Serve_PlainRedisUrlAgainstTlsOnlyPort_ExitsWithOneLineSayingTheServerExpectsTls()
    {
        // Arrange: the TLS-only server's address with a plain redis:// URL
        var url = "redis://" + Redis.Url()["rediss://".Length..];

        // Act
        var result = await ServeAsync(url, caFile: null);

        // Assert: one line, and it says what is wrong, not that Redis could not be reached
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Diagnostics.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            $"error: redis.url (APIGATE_REDIS_URL): Redis at 127.0.0.1:{Redis.Port} expects TLS (it answered with a TLS handshake), but a redis:// URL speaks plain text to it: use a rediss:// URL",
            line);
        AssertNoPassword(url, result);
    }

    [RedisFact]
    public async Task Serve_RedissUrlAgainstAPlainServer_ExitsNamingSettingHostAndThePlainScheme()
    {
        // Arrange: a server without TLS, named by a rediss:// URL
        await using var plain = await RedisServer.StartAsync(password: "plain-pw-1");
        var url = "rediss://" + plain.Url()["redis://".Length..];

        // Act
        var result = await ServeAsync(url, caFile: null);

        // Assert
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Diagnostics.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Equal(
            $"error: redis.url (APIGATE_REDIS_URL): TLS to Redis at 127.0.0.1:{plain.Port} failed: the server took the connection but did not complete a TLS handshake within 10000 ms (a server without TLS needs a redis:// URL)",
            line);
        AssertNoPassword(url, result);
    }

    [RedisFact]
    public async Task Serve_CaFileMissing_ExitsWithOneLineNamingTheSetting()
    {
        var missing = Path.Combine(_directory, "no-such-ca.pem");

        var result = await ServeAsync(Redis.Url(), missing);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("redis.ca_file (from APIGATE_REDIS_CA_FILE)", line, StringComparison.Ordinal);
        Assert.Contains(missing, line, StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task Serve_CaFileWithPlainRedisUrl_ExitsWithOneLineNamingBothSettings()
    {
        // The CA file would be silently ignored on a plain connection: refused instead.
        var url = Redis.Url().Replace("rediss://", "redis://", StringComparison.Ordinal);

        var result = await ServeAsync(url, Redis.CaFile!);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("redis.ca_file (from APIGATE_REDIS_CA_FILE)", line, StringComparison.Ordinal);
        Assert.Contains("is set but redis.url is not a rediss:// (TLS) URL", line, StringComparison.Ordinal);
        AssertNoPassword(url, result);
    }

    private static void AssertNoPassword(string url, CliResult result)
    {
        var password = url[(url.IndexOf("//:", StringComparison.Ordinal) + 3)..url.IndexOf('@', StringComparison.Ordinal)];
        Assert.DoesNotContain(password, result.Output + result.Error, StringComparison.Ordinal);
    }

    private Task<CliResult> ServeAsync(string url, string? caFile)
    {
        var environment = new Dictionary<string, string>
        {
            ["APIGATE_DATABASE_DSN"] = Path.Combine(_directory, "apigate.db"),
            ["APIGATE_REDIS_URL"] = url,
            ["APIGATE_SERVER_HOST"] = "127.0.0.1",
            ["APIGATE_SERVER_PORT"] = "0",
            ["APIGATE_LOG_LEVEL"] = "error",
        };
        if (caFile is not null)
        {
            environment["APIGATE_REDIS_CA_FILE"] = caFile;
        }

        return CliRunner.RunAsync(environment, "serve");
    }
}
