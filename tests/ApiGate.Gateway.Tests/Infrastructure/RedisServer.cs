using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A throwaway <c>redis-server</c> (Debian's <c>redis-server</c> package) on a free loopback port, in a temp directory,
/// without persistence: <see cref="Shared"/> is started once per test run; outage tests start their own and stop,
/// pause or restart it. Always stopped by its PID. <see cref="StartTlsAsync"/> starts a TLS-only one whose certificate
/// is signed by a private CA made by the test (<see cref="CaFile"/>).
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    /// <summary>Why Redis tests are skipped on a developer machine without the binary (under CI=true they run and fail).</summary>
    public const string MissingMessage = "redis-server not found: install Debian's redis-server package (apt-get install redis-server) to run the Redis limit tests";

    private static readonly Lazy<Task<RedisServer>> SharedServer = new(() => StartSharedAsync());

    private readonly string _directory;
    private readonly string? _password;
    private readonly X509Certificate2? _authority;
    private Process? _process;

    private RedisServer(int port, string directory, string? password, X509Certificate2? authority = null)
    {
        Port = port;
        _directory = directory;
        _password = password;
        _authority = authority;
    }

    /// <summary>The binary, or null when it is not installed.</summary>
    public static string? Binary { get; } = FindBinary();

    /// <summary>True when the tests must run even without the binary (and then fail saying so).</summary>
    public static bool Required => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public int Port { get; }

    /// <summary>The server's PID while it runs (for CPU measurements and tests).</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>The PEM file of the private CA that signed a TLS server's certificate (<see cref="StartTlsAsync"/>); null otherwise.</summary>
    public string? CaFile => _authority is null ? null : Path.Combine(_directory, "ca.pem");

    /// <summary><c>redis://[:password@]127.0.0.1:port</c> (<c>rediss://</c> for a TLS server), optionally with a database number.</summary>
    public string Url(int database = 0) =>
        $"{(_authority is null ? "redis" : "rediss")}://{(_password is null ? "" : ":" + Uri.EscapeDataString(_password) + "@")}127.0.0.1:{Port}/{database}";

    /// <summary>A client connection of the test's own to this server (plain TCP; not for the TLS servers).</summary>
    public Task<StackExchange.Redis.ConnectionMultiplexer> ConnectAsync() =>
        StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(new StackExchange.Redis.ConfigurationOptions { EndPoints = { { "127.0.0.1", Port } }, Password = _password });

    /// <summary>
    /// <c>unix://[:password@]/…/redis.sock?db=N</c>: the same server through the Unix domain socket it also listens on
    /// (every server started here does, beside its TCP or TLS port).
    /// </summary>
    public string SocketUrl(int database = 0) =>
        $"unix://{(_password is null ? "" : ":" + Uri.EscapeDataString(_password) + "@")}{SocketPath}?db={database}";

    /// <summary>The Unix domain socket the server listens on.</summary>
    public string SocketPath => Path.Combine(_directory, "redis.sock");

    /// <summary>One server for the whole run (each test uses its own key prefix or database).</summary>
    public static Task<RedisServer> Shared => SharedServer.Value;

    /// <summary>
    /// A server of one's own (for stopping and restarting it). It always has a password (a random one unless given):
    /// while it is stopped its port is free, and another test's server may take it; the password keeps a gateway
    /// from mistaking that server for this one.
    /// </summary>
    public static async Task<RedisServer> StartAsync(string? password = null)
    {
        password ??= Guid.NewGuid().ToString("N");
        var directory = Path.Combine(Path.GetTempPath(), "apigate-redis", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var server = new RedisServer(FreePort(), directory, password);
        await server.RunAsync();
        return server;
    }

    /// <summary>
    /// A server of one's own that is not running yet: its port is free and nothing listens on it until
    /// <see cref="RestartAsync"/> starts it (a gateway started before its Redis). It has a random password, as
    /// <see cref="StartAsync"/>'s do.
    /// </summary>
    public static RedisServer NotStarted()
    {
        var directory = Path.Combine(Path.GetTempPath(), "apigate-redis", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return new RedisServer(FreePort(), directory, Guid.NewGuid().ToString("N"));
    }

    /// <summary>
    /// A TLS-only server of one's own (<c>--port 0 --tls-port</c>, clients need no certificate) with a password, its
    /// certificate for 127.0.0.1 signed by a private CA whose PEM file is <see cref="CaFile"/>.
    /// </summary>
    public static async Task<RedisServer> StartTlsAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "apigate-redis", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var (authority, certificate) = TestCertificates.CreateAuthorityAndLoopbackServer();
        using (certificate)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "ca.pem"), authority.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(directory, "server.pem"), certificate.ExportCertificatePem());
            using var key = certificate.GetRSAPrivateKey()!;
            await File.WriteAllTextAsync(Path.Combine(directory, "server.key"), key.ExportPkcs8PrivateKeyPem());
        }

        var server = new RedisServer(FreePort(), directory, Guid.NewGuid().ToString("N"), authority);
        await server.RunAsync();
        return server;
    }

    /// <summary>Kills the server (SIGKILL by PID): connections drop at once and its data is gone.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }
    }

    /// <summary>Starts it (again) on its port, empty (it keeps nothing on disk).</summary>
    public Task RestartAsync() => RunAsync();

    /// <summary>Freezes the server (SIGSTOP): connections stay open but nothing answers, as with a hung host.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>Lets a paused server go on (SIGCONT), with its data.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>Sends one command over a fresh connection and returns the raw RESP reply (tests inspect keys with it).</summary>
    public async Task<string> CommandAsync(params string[] args)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        Stream stream = client.GetStream();
        if (_authority is { } authority)
        {
            var tls = new SslStream(stream);
            stream = tls;
            var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            trust.CustomTrustStore.Add(authority);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", CertificateChainPolicy = trust });
        }

        await using var _ = stream;
        var request = new StringBuilder();
        if (_password is not null)
        {
            Append(request, ["AUTH", _password]);
        }

        Append(request, args);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()));
        var buffer = new byte[64 * 1024];
        var text = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var expected = _password is null ? 1 : 2;
        while (Lines(text.ToString()) < expected)
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                break;
            }

            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        var reply = text.ToString();
        return _password is null ? reply.TrimEnd() : reply[(reply.IndexOf('\n', StringComparison.Ordinal) + 1)..].TrimEnd();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _authority?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<RedisServer> StartSharedAsync()
    {
        var server = await StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.StopAsync().GetAwaiter().GetResult();
        return server;
    }

    private async Task RunAsync()
    {
        if (Binary is null)
        {
            throw new InvalidOperationException(MissingMessage);
        }

        var port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] listen = _authority is null
            ? ["--port", port]
            :
            [
                "--port", "0", "--tls-port", port, "--tls-auth-clients", "no",
                "--tls-cert-file", Path.Combine(_directory, "server.pem"), "--tls-key-file", Path.Combine(_directory, "server.key"),
                "--tls-ca-cert-file", Path.Combine(_directory, "ca.pem"),
            ];
        string[] args =
        [
            .. listen, "--bind", "127.0.0.1", "--unixsocket", SocketPath, "--unixsocketperm", "700", "--dir", _directory,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no", "--logfile", Path.Combine(_directory, "redis.log"),
            .. _password is null ? Array.Empty<string>() : ["--requirepass", _password],
        ];
        // Through a small watchdog shell: it prints redis-server's PID (which every stop and signal targets) and kills it
        // should the test process end without stopping it (a killed test host runs no clean-up of its own).
        const string Watchdog = "\"$0\" \"$@\" >/dev/null 2>&1 & child=$!; echo $child; " +
            "while kill -0 \"$APIGATE_TEST_PARENT\" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; kill $child 2>/dev/null; wait $child";
        var start = new ProcessStartInfo("bash", ["-c", Watchdog, Binary, .. args])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["APIGATE_TEST_PARENT"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var watchdog = Process.Start(start) ?? throw new InvalidOperationException("redis-server could not be started");
        using (var read = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            var pidLine = await watchdog.StandardOutput.ReadLineAsync(read.Token);
            _process = Process.GetProcessById(int.Parse(pidLine!, System.Globalization.CultureInfo.InvariantCulture));
        }

        var process = _process;
        for (var attempt = 0; attempt < 200; attempt++) // bounded: 10 s
        {
            if (process.HasExited)
            {
                var log = Path.Combine(_directory, "redis.log");
                throw new InvalidOperationException("redis-server exited at start: " + (File.Exists(log) ? await File.ReadAllTextAsync(log) : ""));
            }

            try
            {
                if ((await CommandAsync("PING")).Contains("PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
            }

            await Task.Delay(50);
        }

        await StopAsync();
        throw new InvalidOperationException($"redis-server did not answer on port {Port} within 10 s");
    }

    private async Task SignalAsync(string signal)
    {
        var pid = Pid ?? throw new InvalidOperationException("redis-server is not running");
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
    }

    private static void Append(StringBuilder request, string[] args)
    {
        request.Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }
    }

    /// <summary>Complete top-level replies in <paramref name="text"/> (simple, integer, bulk and error replies; enough for the commands tests send).</summary>
    private static int Lines(string text)
    {
        var count = 0;
        var i = 0;
        while (i < text.Length)
        {
            var end = text.IndexOf("\r\n", i, StringComparison.Ordinal);
            if (end < 0)
            {
                break;
            }

            if (text[i] == '$' && int.TryParse(text.AsSpan(i + 1, end - i - 1), out var length) && length >= 0)
            {
                end = text.IndexOf("\r\n", end + 2 + length, StringComparison.Ordinal);
                if (end < 0)
                {
                    break;
                }
            }

            count++;
            i = end + 2;
        }

        return count;
    }

    private static int FreePort() => Ports.Free();

    private static string? FindBinary()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/sbin"))
        {
            var path = Path.Combine(dir, "redis-server");
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}

/// <summary>
/// A test that needs <c>redis-server</c>: skipped with <see cref="RedisServer.MissingMessage"/> on a machine without it,
/// run (and failing with that message) under <c>CI=true</c>.
/// </summary>
internal sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.Binary is null && !RedisServer.Required)
        {
            Skip = RedisServer.MissingMessage;
        }
    }
}

/// <summary>A theory that needs redis-server: skipped with one line naming the package when it is missing, outside CI.</summary>
internal sealed class RedisTheoryAttribute : TheoryAttribute
{
    public RedisTheoryAttribute()
    {
        if (RedisServer.Binary is null && !RedisServer.Required)
        {
            Skip = RedisServer.MissingMessage;
        }
    }
}
