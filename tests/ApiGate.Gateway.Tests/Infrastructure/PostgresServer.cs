using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server for tests: <c>initdb</c> + <c>pg_ctl</c> from Debian's <c>postgresql</c> package
/// (<c>/usr/lib/postgresql/*/bin</c>), in a temp directory, on a free loopback port, with <c>fsync=off</c>. PostgreSQL
/// refuses to run as root, so as root (CI) the binaries run as the <c>postgres</c> user through <c>runuser</c> in a
/// directory that user owns. <see cref="Shared"/> is started once per test run and stopped by its PID when the
/// process exits (by a detached shell, so the test host ending does not cut the clean-up short); tests that stop the server (outage tests) start their own with <see cref="StartAsync"/>.
/// Without the binaries the tests that need them are skipped with <see cref="MissingReason"/> — except under
/// <c>CI=true</c>, where they run and fail: CI installs the package (.ci/run).
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>What to install, as the skip line says it.</summary>
    public const string Packages = "apt-get install postgresql (Debian/Ubuntu: provides /usr/lib/postgresql/<version>/bin/initdb and pg_ctl)";

    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(async () =>
    {
        var server = await StartAsync();
        // The test host may be ended soon after its exit event, in the middle of deleting a large data directory: a
        // detached shell stops the server by its PID, waits (bounded) for it to finish, and removes the directory.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.StopDetached();
        // A test host that is killed runs no exit event: a watchdog stops the server once this process is gone.
        server.StartWatchdog(Environment.ProcessId);
        return server;
    });

    private static int _databases;

    private readonly string _bin;
    private readonly string _directory;
    private int _pid;

    private PostgresServer(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The directory of the server's Unix-domain socket (<c>.s.PGSQL.{Port}</c>).</summary>
    public string SocketDirectory => _directory;

    /// <summary>The superuser on the server's maintenance database (trust authentication on loopback).</summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false;Timeout=10";

    /// <summary>Where the binaries are, or null.</summary>
    public static string? BinDirectory { get; } = FindBin();

    /// <summary>Null when PostgreSQL tests can run; otherwise the one line a skipped test shows.</summary>
    public static string? MissingReason =>
        BinDirectory is null && !IsCi ? $"PostgreSQL not installed, PostgreSQL tests skipped: {Packages}" : null;

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The server shared by the whole test run (started on first use).</summary>
    public static Task<PostgresServer> Shared() => SharedServer.Value;

    /// <summary>A server of its own (stopped by disposing it), for tests that stop and start it.</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var bin = BinDirectory ?? throw new InvalidOperationException($"PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: {Packages}");
        var directory = Path.Combine(Path.GetTempPath(), "apigate-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        if (IsRoot)
        {
            await RunAsync("chown", ["postgres:postgres", directory]);
        }

        await RunAsync(Path.Combine(bin, "initdb"), ["-D", Path.Combine(directory, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], asPostgres: true);
        var server = new PostgresServer(bin, directory, FreePort());
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Starts the (stopped) server again on the same port and data.</summary>
    public async Task StartServerAsync()
    {
        var options = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_directory} -c fsync=off -c synchronous_commit=off " +
                      "-c full_page_writes=off -c max_connections=300";
        await RunAsync(Path.Combine(_bin, "pg_ctl"),
            ["-D", Path.Combine(_directory, "data"), "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60", "-o", options, "start"], asPostgres: true);
        var pidFile = await File.ReadAllLinesAsync(Path.Combine(_directory, "data", "postmaster.pid"));
        _pid = int.Parse(pidFile[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Stops the server (fast shutdown: open connections are cut, as when a database host goes away).</summary>
    public async Task StopServerAsync()
    {
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-m", "fast", "-w", "stop"], asPostgres: true);
        _pid = 0;
    }

    /// <summary>
    /// Freezes the server (SIGSTOP to the postmaster, then to every backend): connections stay open and new ones are
    /// accepted by the kernel, but nothing answers — a database host that hangs rather than goes away.
    /// </summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Lets a paused server run again (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    /// <summary>The postmaster first (a stopped postmaster starts no new backend), then its children, by PID.</summary>
    private async Task SignalAsync(string signal)
    {
        var postmaster = _pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await RunAsync("kill", [signal, postmaster]);
        var children = ChildrenOf(_pid);
        if (children.Count > 0)
        {
            await RunAsync("kill", [signal, .. children]);
        }
    }

    /// <summary>The PIDs whose parent is <paramref name="parent"/>, from <c>/proc/PID/stat</c>.</summary>
    private static List<string> ChildrenOf(int parent)
    {
        var children = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (!int.TryParse(name, out _))
            {
                continue;
            }

            try
            {
                // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[1] == parent.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    children.Add(name);
                }
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
        }

        return children;
    }

    /// <summary>A new, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"apigate_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await ExecuteAsync(AdminConnectionString, $"CREATE DATABASE {name}");
        return $"Host=127.0.0.1;Port={Port};Username=postgres;Database={name}";
    }

    /// <summary>Runs one statement on a connection of its own (outside any pool the stores use).</summary>
    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>One number read on a connection of its own (outside any pool the stores use): a count or a sum.</summary>
    public static async Task<long> ScalarAsync(string connectionString, string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, sql, parameters);
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A detached <c>sh</c> that polls <paramref name="parent"/> once a second and, when it is gone without having stopped
    /// the server (its pid file still there), stops the server by its PID and removes its directory, as
    /// <see cref="StopDetached"/> does. After a normal stop the directory is gone and the watchdog just ends.
    /// </summary>
    private void StartWatchdog(int parent)
    {
        var pidFile = Path.Combine(_directory, "data", "postmaster.pid");
        var script = $"exec </dev/null >/dev/null 2>&1; while kill -0 {parent} 2>/dev/null; do sleep 1; done; " +
                     $"[ -f '{pidFile}' ] || exit 0; kill -INT {_pid}; i=0; while [ -f '{pidFile}' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; rm -rf '{_directory}'";
        using var _ = Process.Start(new ProcessStartInfo("setsid", ["sh", "-c", script]) { UseShellExecute = false });
    }

    /// <summary><see cref="Stop"/> in a detached <c>sh</c> that outlives this process.</summary>
    private void StopDetached()
    {
        var pidFile = Path.Combine(_directory, "data", "postmaster.pid");
        var script = $"kill -INT {_pid}; i=0; while [ -f '{pidFile}' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; rm -rf '{_directory}'";
        var start = new ProcessStartInfo("setsid", ["sh", "-c", script]) { UseShellExecute = false };
        using var _ = Process.Start(start);
    }

    /// <summary>Stops the server by its PID (SIGINT: fast shutdown), waits (bounded) for it to finish, deletes its directory.</summary>
    private void Stop()
    {
        if (_pid != 0)
        {
            try
            {
                // A server a test paused and did not resume would never act on SIGINT.
                using (var resume = Process.Start(new ProcessStartInfo("kill", ["-CONT", _pid.ToString(System.Globalization.CultureInfo.InvariantCulture), .. ChildrenOf(_pid)]) { UseShellExecute = false }))
                {
                    resume?.WaitForExit(TimeSpan.FromSeconds(10));
                }

                using var kill = Process.Start(new ProcessStartInfo("kill", ["-INT", _pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
                kill.WaitForExit(TimeSpan.FromSeconds(10));
                // The postmaster is not our child: its pid file disappearing is the sign it has finished (bounded wait).
                var pidFile = Path.Combine(_directory, "data", "postmaster.pid");
                for (var i = 0; i < 200 && File.Exists(pidFile); i++)
                {
                    Thread.Sleep(100);
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // no kill binary: the directory is removed anyway
            }

            _pid = 0;
        }

        // The postmaster may still be closing its log as its pid file goes: a few bounded attempts.
        for (var attempt = 0; attempt < 10 && Directory.Exists(_directory); attempt++)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"PostgresServer: removing {_directory} failed ({ex.Message}); trying again");
                Thread.Sleep(200);
            }
        }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static string? FindBin()
    {
        if (!Directory.Exists("/usr/lib/postgresql"))
        {
            return null;
        }

        return Directory.GetDirectories("/usr/lib/postgresql")
            .Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
            .FirstOrDefault();
    }

    private static int FreePort() => Ports.Free();

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres = false)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres && IsRoot)
        {
            start.FileName = "runuser";
            foreach (var a in (string[])["-u", "postgres", "--", file])
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            start.FileName = file;
        }

        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({process.ExitCode}): {await error}{await output}");
        }
    }
}
