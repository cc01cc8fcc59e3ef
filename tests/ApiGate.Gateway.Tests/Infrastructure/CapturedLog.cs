using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// Text written on other threads while a test reads it — a gateway's log output (<c>options.LogWriter = log.Writer</c>),
/// a running CLI command's output — written and read under one lock, so several instances may share one.
/// </summary>
internal sealed class CapturedLog
{
    private readonly StringWriter _inner = new();

    public CapturedLog() => Writer = TextWriter.Synchronized(_inner);

    public TextWriter Writer { get; }

    /// <summary>Points a gateway's log here as JSON lines at <paramref name="level"/> (the access log is written at information level).</summary>
    public void TakeJsonFrom(ApiGate.Gateway.Configuration.GatewayOptions options, string level = "info")
    {
        options.LogFormat = "json";
        options.LogLevel = level;
        options.LogWriter = Writer;
    }

    public string Text
    {
        get
        {
            lock (Writer) // TextWriter.Synchronized locks on the wrapper
            {
                return _inner.ToString();
            }
        }
    }

    /// <summary>
    /// Logs a marker through <paramref name="gateway"/> and waits until it is written: the logger writes from a queue,
    /// so everything the gateway logged before (a start-up check, a reload) is in the text returned.
    /// </summary>
    public async Task<string> UpToMarkerAsync(TestGateway gateway)
    {
        var marker = "test-marker-" + Guid.NewGuid().ToString("N");
        gateway.Service<ILoggerFactory>().CreateLogger("Test").LogWarning("{Marker}", marker);
        for (var i = 0; i < 250 && !Text.Contains(marker, StringComparison.Ordinal); i++)
        {
            await Task.Delay(20);
        }

        var written = Text;
        Assert.Contains(marker, written, StringComparison.Ordinal);
        return written;
    }
}
