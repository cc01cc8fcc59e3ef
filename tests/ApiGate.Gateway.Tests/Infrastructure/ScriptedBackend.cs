using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A loopback backend that answers every connection with fixed bytes, then holds it open until disposed (or closes it).</summary>
internal sealed class ScriptedBackend : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _held = [];
    private Task _serving = Task.CompletedTask;
    private bool _thenClose;

    private ScriptedBackend(TcpListener listener) => _listener = listener;

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections
    {
        get
        {
            lock (_held)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Starts it; with <paramref name="thenClose"/> each connection is closed once the bytes are sent.</summary>
    public static Task<ScriptedBackend> StartAsync(string response, bool thenClose = false) => StartAsync(_ => response, thenClose);

    /// <summary>Starts it; <paramref name="response"/> gets the backend's own port (for answers that name its address).</summary>
    public static Task<ScriptedBackend> StartAsync(Func<int, string> response, bool thenClose = false) =>
        StartAsync(port => Encoding.UTF8.GetBytes(response(port)), thenClose);

    /// <summary>Starts it, answering with exactly these bytes (for bodies that are not UTF-8).</summary>
    public static Task<ScriptedBackend> StartAsync(Func<int, byte[]> response, bool thenClose = false)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var backend = new ScriptedBackend(listener) { _thenClose = thenClose };
        backend._serving = backend.ServeAsync(response(((IPEndPoint)listener.LocalEndpoint).Port));
        return Task.FromResult(backend);
    }

    private async Task ServeAsync(byte[] response)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_held)
                {
                    _held.Add(socket);
                }

                var buffer = new byte[8192];
                var head = "";
                while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await socket.ReceiveAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    head += Encoding.ASCII.GetString(buffer, 0, read);
                }

                await socket.SendAsync(response, _stop.Token);
                if (_thenClose)
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _serving;
        lock (_held)
        {
            _held.ForEach(s => s.Dispose());
        }

        _stop.Dispose();
    }
}
