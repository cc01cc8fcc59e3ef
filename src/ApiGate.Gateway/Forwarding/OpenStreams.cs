using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// The exchanges of <c>sse</c> and <c>websocket</c> routes, and WebSockets tunnelled by any other route, which have no
/// end of their own: a graceful stop ends them when it begins (their clients reconnect, to another instance behind a
/// load balancer) instead of letting them hold the stop for the whole <c>server.shutdown_timeout</c> and then be cut
/// anyway. Ordinary requests (<c>http_stream</c> responses among them) still drain as before.
/// Ended streams are recorded like any other (their status, the bytes and units they carried) and are not held against
/// the target; a stream that would start after the stop began is refused with <c>503 stopping</c>.
/// </summary>
internal sealed partial class OpenStreams : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger<OpenStreams> _logger;
    private readonly CancellationTokenRegistration _registration;
    private int _open;

    public OpenStreams(IHostApplicationLifetime lifetime, ILogger<OpenStreams> logger)
    {
        _logger = logger;
        _registration = lifetime.ApplicationStopping.Register(End);
    }

    /// <summary>Cancelled when the stop begins: passed to the forwarder for each stream's exchange.</summary>
    public CancellationToken Token => _stopping.Token;

    /// <summary>True once the stop has begun.</summary>
    public bool Ending => _stopping.IsCancellationRequested;

    /// <summary>Streams open now (their exchange not yet decided and recorded).</summary>
    public int Open => Volatile.Read(ref _open);

    public void Opened() => Interlocked.Increment(ref _open);

    public void Closed() => Interlocked.Decrement(ref _open);

    public void Dispose()
    {
        _registration.Dispose();
        _stopping.Dispose();
    }

    private void End()
    {
        LogEnding(Volatile.Read(ref _open));
        _stopping.Cancel();
    }

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Stopping: ending {Count} open SSE streams and WebSockets; their clients reconnect elsewhere")]
    private partial void LogEnding(int count);
}
