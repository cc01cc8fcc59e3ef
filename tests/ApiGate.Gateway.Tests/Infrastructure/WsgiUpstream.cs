using System.Diagnostics;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A real WSGI backend (Python's wsgiref) on a loopback port, answering with the CGI <c>HTTP_*</c> variables it saw.
/// Started as a child process and stopped by its PID.
/// </summary>
internal sealed class WsgiUpstream : IAsyncDisposable
{
    private readonly Process _process;

    private WsgiUpstream(Process process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}";
    }

    public string Url { get; }

    public static async Task<WsgiUpstream> StartAsync()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Infrastructure", "wsgi_echo.py");
        var process = Process.Start(new ProcessStartInfo("python3", [script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("python3 could not be started (the tests need python3; .ci/run installs it)");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (!int.TryParse(line, out var port))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("the WSGI backend did not start: " + await process.StandardError.ReadToEndAsync(timeout.Token));
        }

        return new WsgiUpstream(process, port);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
