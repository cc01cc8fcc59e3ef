using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// Bad Redis settings stop <c>apigate serve</c> with one line naming the setting and the host, never the password, and
/// a non-zero exit code: a URL with a bad scheme (exit 2, before the store is opened) and a Redis that refuses the
/// gateway at start (a wrong password: exit 1, in both failure modes). A Redis that is not running yet (nothing listens
/// on its port, its socket file does not exist) does not stop the start: it is logged once and taken into use when it
/// answers (docs/scaling.md).
/// </summary>
public sealed class RedisStartupTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private readonly List<ApiGate.Storage.Sql.SqlGatewayStore> _stores = [];

    public RedisStartupTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
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

    [Theory]
    [InlineData("http://:pw-123@cache.example:6379", "scheme 'http' is not redis://, rediss:// or unix://")]
    [InlineData("unix://:pw-123@", "has no socket path")]
    [InlineData("unix://:pw-123@relative/redis.sock", "has no socket path")]
    [InlineData("unix://:pw-123@/run/redis/", "has no socket path")]
    [InlineData("unix:///run/redis/redis.sock?password=pw-123", "takes only ?db=N after the socket path /run/redis/redis.sock")]
    [InlineData("unix://:pw-123@/run/redis/redis.sock?db=x", "takes only ?db=N after the socket path")]
    [InlineData("cache.example:6379", "is not a URL")]
    [InlineData("redis://:pw-123@cache.example:99999", "port '99999' of host cache.example")]
    [InlineData("redis://:pw-123@cache.example/abc", "database 'abc' of host cache.example")]
    [InlineData("redis://cache.example:6379?password=pw-123", "takes no query (?…) or fragment (#…)")]
    [InlineData("redis://cache.example/0?password=pw-123", "takes no query (?…) or fragment (#…)")]
    [InlineData("redis://:pw-123@[::1]6380/0", "host '[::1]6380' is not an IPv6 address in brackets")]
    [InlineData("redis://:pw-123@[cache.example]:6379", "host '[cache.example]:6379' is not an IPv6 address in brackets")]
    public async Task Serve_InvalidRedisUrl_ExitsWithOneLineNamingTheSetting(string url, string problem)
    {
        var result = await ServeAsync(url, "open");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("redis.url (from APIGATE_REDIS_URL)", line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
        Assert.DoesNotContain("pw-123", result.Output + result.Error, StringComparison.Ordinal);
    }

    [RedisTheory]
    [InlineData("open")]
    [InlineData("closed")]
    public async Task Serve_WrongRedisPassword_ExitsAtOnceNamingSettingAndHostNotThePassword(string mode)
    {
        // Arrange: a running Redis that wants another password (it will not heal by waiting, unlike a Redis not running yet)
        var redis = await RedisServer.Shared;

        // Act
        var result = await ServeAsync($"redis://:pw-123@127.0.0.1:{redis.Port}/0", mode);

        // Assert
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Diagnostics.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Equal(
            $"error: redis.url (APIGATE_REDIS_URL): Redis at 127.0.0.1:{redis.Port} refused the user and password in the URL (a wrong password, or none given to a server that requires one): write it as redis://[user]:password@host:port/db",
            line);
        Assert.DoesNotContain("pw-123", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("open", "serving with per-instance limits (open)")]
    [InlineData("closed", "answering 503 limits_unavailable (closed)")]
    public async Task Connect_NothingListeningOnThePort_StartsUnavailableAtOnceNotAfterTheConnectBound(string mode, string behaviour)
    {
        // Arrange: a port nothing listens on
        var port = LoopbackPorts.Closed();

        // Act
        var logged = await StartsUnavailableAtOnceAsync($"redis://:pw-123@127.0.0.1:{port}/0", "a closed port", mode);

        // Assert
        Assert.Equal(
            $"Redis at 127.0.0.1:{port} is unavailable at start; {behaviour} until it answers: redis.url (APIGATE_REDIS_URL): cannot reach Redis at 127.0.0.1:{port}: the connection was refused (nothing listens on that port; is Redis running there?)",
            logged);
    }

    [Fact]
    public async Task Connect_UnixSocketFileMissing_StartsUnavailableAtOnceNamingTheFileNotAfterTheConnectBound()
    {
        // Arrange: the folder exists, the socket file does not (Redis not started yet)
        var missing = Path.Combine(_directory, "redis.sock");

        // Act
        var logged = await StartsUnavailableAtOnceAsync($"unix://:pw-123@{missing}", "a missing socket file");

        // Assert
        Assert.Equal(
            $"Redis at unix:{missing} is unavailable at start; serving with per-instance limits (open) until it answers: redis.url (APIGATE_REDIS_URL): cannot reach Redis at unix:{missing}: the socket file {missing} does not exist (is Redis running, with unixsocket set to that path?)",
            logged);
        Assert.DoesNotContain("pw-123", logged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_UnixSocketPathInAMissingFolder_StartsUnavailableAtOnceNamingTheFile()
    {
        // Arrange: a runtime folder that Redis's service creates when it starts
        var missing = Path.Combine(_directory, "no-such-folder", "redis.sock");

        // Act
        var logged = await StartsUnavailableAtOnceAsync($"unix://{missing}", "a socket in a missing folder");

        // Assert
        Assert.EndsWith(
            $"cannot reach Redis at unix:{missing}: the socket file {missing} does not exist (is Redis running, with unixsocket set to that path?)",
            logged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_UnixSocketPathIsARegularFile_ReportedAtOnceSayingItMayNotBeASocket()
    {
        // Arrange: a plain file where the socket should be
        var file = Path.Combine(_directory, "redis.conf");
        await File.WriteAllTextAsync(file, "unixsocket /run/redis/redis.sock\n");

        // Act
        var error = await ConnectFailsAtOnceAsync($"unix://{file}", "a regular file");

        // Assert
        Assert.Equal(
            $"redis.url (APIGATE_REDIS_URL): cannot reach Redis at unix:{file}: the connection was refused (nothing listens on that socket, or {file} is not a socket; is Redis running there?)",
            error.Message);
    }

    [Fact]
    public async Task Connect_UnixSocketPathIsADirectory_ReportedAtOnceSayingItIsNotASocket()
    {
        // Arrange
        var folder = Path.Combine(_directory, "redis");
        Directory.CreateDirectory(folder);

        // Act
        var error = await ConnectFailsAtOnceAsync($"unix://{folder}", "a directory");

        // Assert
        Assert.Equal(
            $"redis.url (APIGATE_REDIS_URL): cannot reach Redis at unix:{folder}: {folder} is a directory, not a socket (set the path of Redis's unixsocket)",
            error.Message);
    }

    [Fact]
    public async Task Connect_ServerTakesTheConnectionButNeverAnswers_StartsUnavailableNotAfterTheConnectBound()
    {
        // Arrange: the kernel completes the handshake for a listener that never reads: not Redis, or a port proxy
        // published before Redis listens
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;

        // Act
        var message = await StartsUnavailableAtOnceAsync($"redis://:pw-123@127.0.0.1:{port}/0", "a listener that never answers");

        // Assert: a PING was given 2 s (the timeout of ten minutes does not hold the start), and the password was not sent
        Assert.Equal(
            $"Redis at 127.0.0.1:{port} is unavailable at start; serving with per-instance limits (open) until it answers: redis.url (APIGATE_REDIS_URL): cannot reach Redis at 127.0.0.1:{port}: something took the connection but gave no reply to a PING within 2000 ms (not Redis, or a port proxy with no Redis behind it yet); the password was not sent to it",
            message);
    }

    /// <summary>
    /// Connects to <paramref name="url"/> with a bound of ten minutes (the timeout sets it when longer than 10 s), far
    /// past the poll, and returns the failure, which must come at once: the connect to <paramref name="target"/> is not
    /// left waiting for the bound.
    /// </summary>
    private async Task<InvalidOperationException> ConnectFailsAtOnceAsync(string url, string target)
    {
        await using var admission = Create(url, TimeSpan.FromMinutes(10));
        var connecting = admission.ConnectAsync(CancellationToken.None);
        await Poll.UntilAsync(() => connecting.IsCompleted, () => $"the connect to {target} was still waiting: it must be reported at once");
        return await Assert.ThrowsAsync<InvalidOperationException>(() => connecting);
    }

    /// <summary>
    /// Connects to <paramref name="url"/> (a Redis not running yet) with a bound of ten minutes, which must return at
    /// once with Redis unavailable, and returns the one line it logged (event 4202).
    /// </summary>
    private async Task<string> StartsUnavailableAtOnceAsync(string url, string target, string mode = "open")
    {
        var logger = new RecordingLogger<RedisAdmission>();
        await using var admission = Create(url, TimeSpan.FromMinutes(10), logger, mode);
        var connecting = admission.ConnectAsync(CancellationToken.None);
        await Poll.UntilAsync(() => connecting.IsCompleted, () => $"the connect to {target} was still waiting: it must start at once");
        await connecting;
        Assert.False(admission.Available);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(4202, entry.EventId);
        return entry.Message;
    }

    /// <summary>The gateway's Redis admission for <paramref name="url"/>, not yet connected; its store is never reached before a connection.</summary>
    private RedisAdmission Create(string url, TimeSpan timeout, Microsoft.Extensions.Logging.ILogger<RedisAdmission>? logger = null, string mode = "open")
    {
        var store = ApiGate.Storage.GatewayStores.Create(
            ApiGate.Storage.GatewayStores.Sqlite, Path.Combine(_directory, "apigate.db"), new ApiGate.Storage.Secrets.SecretProtector(null));
        _stores.Add(store);
        var options = new Configuration.GatewayOptions { RedisUrl = url, RedisTimeout = timeout, LimitsOnRedisFailure = mode };
        return new RedisAdmission(options, new QuotaSeeds(store, TimeProvider.System), TimeProvider.System,
            logger ?? (Microsoft.Extensions.Logging.ILogger<RedisAdmission>)Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisAdmission>.Instance);
    }

    [Fact]
    public void Validate_RedissWithUserPasswordAndDatabase_ParsesEveryPart()
    {
        var url = RedisUrl.Parse("rediss://app:p%40ss@cache.example:6380/4");

        Assert.Equal(("cache.example", 6380, true, "app", "p@ss", 4), (url.Host, url.Port, url.Tls, url.User, url.Password, url.Database));
        Assert.Equal("cache.example:6380", url.ToString());
    }

    [Fact]
    public void Parse_UnixSocketWithUserPasswordAndDatabase_ParsesEveryPart()
    {
        var url = RedisUrl.Parse("unix://app:p%40ss@/run/redis/redis%20one.sock?db=7");

        Assert.Equal(("/run/redis/redis one.sock", "app", "p@ss", 7, false), (url.SocketPath, url.User, url.Password, url.Database, url.Tls));
        Assert.Equal("unix:/run/redis/redis one.sock", url.ToString());
        Assert.Equal(0, RedisUrl.Parse("unix:///tmp/r.sock").Database);
        Assert.Null(RedisUrl.Parse("unix:///tmp/r.sock").Password);
        Assert.IsType<System.Net.Sockets.UnixDomainSocketEndPoint>(Assert.Single(url.ToOptions(TimeSpan.FromSeconds(1), RedisTlsTrust.Create("")).EndPoints));
    }

    [Theory]
    [InlineData("redis://:s3cret@[::1]:6380/2", 6380)]
    [InlineData("rediss://[fd00::5]", 6379)]
    public void Parse_IPv6AddressInBrackets_ReadsAddressAndPort(string text, int port)
    {
        var url = RedisUrl.Parse(text);

        Assert.Equal(port, url.Port);
        Assert.Equal($"[{url.Host}]:{port}", url.ToString());
    }

    [Fact]
    public void Validate_PasswordOnlyAndDefaults_UsesPort6379AndDatabase0()
    {
        var url = RedisUrl.Parse("redis://:s3cret@10.0.0.5");

        Assert.Equal(("10.0.0.5", 6379, false, (string?)null, "s3cret", 0), (url.Host, url.Port, url.Tls, url.User, url.Password, url.Database));
    }

    [Fact]
    public void Validate_InvalidFailureMode_IsRefusedNamingTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => Hosting.GatewayHost.Build(
            new Configuration.GatewayOptions { LimitsOnRedisFailure = "maybe", DatabaseDsn = Path.Combine(_directory, "x.db") }, null!));

        Assert.Contains("limits.on_redis_failure (APIGATE_LIMITS_ON_REDIS_FAILURE): 'maybe' is not open or closed", error.Message, StringComparison.Ordinal);
    }

    private Task<CliResult> ServeAsync(string url, string mode) => CliRunner.RunAsync(
        new Dictionary<string, string>
        {
            ["APIGATE_DATABASE_DSN"] = Path.Combine(_directory, "apigate.db"),
            ["APIGATE_REDIS_URL"] = url,
            ["APIGATE_LIMITS_ON_REDIS_FAILURE"] = mode,
            ["APIGATE_SERVER_HOST"] = "127.0.0.1",
            ["APIGATE_SERVER_PORT"] = "0",
            ["APIGATE_LOG_LEVEL"] = "error",
        },
        "serve");
}
