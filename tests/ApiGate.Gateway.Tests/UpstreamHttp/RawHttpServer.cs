using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ApiGate.Gateway.Tests.UpstreamHttp;

/// <summary>
/// A loopback server for client tests: each connection's request (head, and a body by Content-Length or chunked) is
/// recorded byte for byte, then a script writes whatever response bytes the test wants, however split, and the server
/// waits to see whether the client closes the connection.
/// </summary>
internal sealed class RawHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<Stream, Task> _respond;
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private Task _accepting = Task.CompletedTask;

    private RawHttpServer(Func<Stream, Task> respond, X509Certificate2? certificate)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _respond = respond;
        _certificate = certificate;
    }

    public string Url => $"{(_certificate is null ? "http" : "https")}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Each request received, as raw bytes (head and body).</summary>
    public ConcurrentQueue<byte[]> Requests { get; } = new();

    /// <summary>Completes once a connection has been closed by the client after the response was written.</summary>
    public TaskCompletionSource ClientClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts a server whose every response is <paramref name="response"/>, written in one piece.</summary>
    public static RawHttpServer Start(string response, X509Certificate2? certificate = null) =>
        Start(stream => stream.WriteAsync(Encoding.UTF8.GetBytes(response)).AsTask(), certificate);

    /// <summary>Starts a server whose every response is <paramref name="response"/>, written one byte per write.</summary>
    public static RawHttpServer StartByteByByte(string response) => Start(async stream =>
    {
        foreach (var b in Encoding.UTF8.GetBytes(response))
        {
            await stream.WriteAsync(new[] { b });
            await stream.FlushAsync();
        }
    });

    public static RawHttpServer Start(Func<Stream, Task> respond, X509Certificate2? certificate = null)
    {
        var server = new RawHttpServer(respond, certificate);
        server._listener.Start();
        server._accepting = server.AcceptAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_connections)
                {
                    _connections.Add(ServeAsync(socket));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException || _stop.IsCancellationRequested)
        {
            // Stopped: the listener may have been stopped between two accepts (then the next accept says it is not listening).
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            using (socket)
            {
                Stream stream = new NetworkStream(socket, ownsSocket: false);
                if (_certificate is not null)
                {
                    var tls = new SslStream(stream);
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                    stream = tls;
                }

                await using (stream)
                {
                    var request = await ReadRequestAsync(stream);
                    if (request.Length == 0)
                    {
                        return;
                    }

                    Requests.Enqueue(request);
                    await _respond(stream);
                    var buffer = new byte[1024];
                    while (await stream.ReadAsync(buffer, _stop.Token) > 0)
                    {
                    }

                    ClientClosed.TrySetResult();
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // the client went away, or the test is over
        }
    }

    private async Task<byte[]> ReadRequestAsync(Stream stream)
    {
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            var text = Encoding.Latin1.GetString(received.GetBuffer(), 0, (int)received.Length);
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd >= 0 && IsComplete(text, headEnd + 4))
            {
                return received.ToArray();
            }

            var read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return received.ToArray();
            }

            received.Write(buffer, 0, read);
        }
    }

    private static bool IsComplete(string text, int bodyStart)
    {
        var head = text[..bodyStart];
        var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (length is not null)
        {
            return text.Length - bodyStart >= long.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }

        return !head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) || text.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
    }
}
