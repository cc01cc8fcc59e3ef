using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A real <c>apigate serve</c> process (the test output's <c>apigate.dll</c>) on a free loopback port, serving the store
/// at <c>databasePath</c>. Disposing kills it (SIGKILL) and waits for it to exit.
/// </summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private ServeProcess(Process process, int port)
    {
        Process = process;
        Port = port;
        Url = $"http://127.0.0.1:{port}";
    }

    public Process Process { get; }

    public string Url { get; }

    public int Port { get; }

    /// <param name="environment">More settings for the process, like <c>APIGATE_PORTAL_ENABLED=true</c>.</param>
    /// <param name="asServiceUser">Run it as <see cref="ServiceUser"/>, whom file modes bind (as root: <c>nobody</c>).</param>
    /// <param name="workingDirectory">Where it runs (null: the test's own working directory).</param>
    /// <param name="port">The port to listen on (null: a free one); a restarted instance is given the port it had.</param>
    public static ServeProcess Start(
        string databasePath, IReadOnlyDictionary<string, string>? environment = null, bool asServiceUser = false, string? workingDirectory = null,
        int? port = null)
    {
        port ??= FreePort();
        var start = asServiceUser
            ? ServiceUser.StartInfo("dotnet")
            : new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.WorkingDirectory = workingDirectory ?? "";
        start.ArgumentList.Add(Path.Combine(asServiceUser ? ServiceUser.AppDirectory : AppContext.BaseDirectory, "apigate.dll"));
        start.ArgumentList.Add("serve");
        start.Environment["APIGATE_DATABASE_DSN"] = databasePath;
        start.Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        start.Environment["APIGATE_SERVER_PORT"] = port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["APIGATE_LOG_LEVEL"] = "warn";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var serve = new ServeProcess(process, port.Value);
        process.OutputDataReceived += (_, line) => serve.Keep(line.Data);
        process.ErrorDataReceived += (_, line) => serve.Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return serve;
    }

    /// <summary>What the process wrote so far (stdout and stderr, line by line), for a failing test's message.</summary>
    public string Output => string.Join('\n', _output);

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    /// <summary>Waits (bounded: 30 s) until <c>/health/ready</c> answers 200; fails the test if the process exits or never does.</summary>
    public async Task WaitUntilReadyAsync(HttpClient client)
    {
        for (var i = 0; i < 300 && !Process.HasExited; i++)
        {
            try
            {
                using var response = await client.GetAsync(Url + "/health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        Assert.Fail("apigate serve did not become ready");
    }

    /// <summary>Sends <paramref name="signal"/> (<c>-TERM</c>, <c>-INT</c>) to the process by its PID.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [signal, Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Kills the process at once (SIGKILL: no graceful stop, no final flush) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
        }

        await Process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
    }

    private static int FreePort() => Ports.Free();
}
