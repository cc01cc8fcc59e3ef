using System.Net;
using System.Net.Sockets;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback that passes what the client sends at once and what the server answers in small pieces with
/// a pause after each one, so that a reply of more than a few dozen bytes is never whole when the client first reads
/// it: a client that waits for the rest synchronously is caught waiting every time. Disposing stops the listener and
/// closes every connection.
/// </summary>
internal sealed class TrickleProxy : IAsyncDisposable
{
    /// <summary>Bytes of the server's reply per piece.</summary>
    public const int PieceBytes = 48;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _sockets = [];
    private readonly Task _accepting;

    private TrickleProxy(IPEndPoint server)
    {
        _server = server;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Connections { get; private set; }

    public static TrickleProxy Start(int serverPort) => new(new IPEndPoint(IPAddress.Loopback, serverPort));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var server = new TcpClient { NoDelay = true };
                client.NoDelay = true;
                lock (_sockets)
                {
                    _sockets.Add(client);
                    _sockets.Add(server);
                    Connections++;
                }

                await server.ConnectAsync(_server, _stop.Token);
                _ = PumpAsync(client.GetStream(), server.GetStream(), trickle: false);
                _ = PumpAsync(server.GetStream(), client.GetStream(), trickle: true);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool trickle)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (!trickle)
                {
                    await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                    continue;
                }

                for (var offset = 0; offset < read; offset += PieceBytes)
                {
                    await to.WriteAsync(buffer.AsMemory(offset, Math.Min(PieceBytes, read - offset)), _stop.Token);
                    await Task.Delay(2, _stop.Token);
                }
            }

            to.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // one side went away: the other is closed with the proxy
        }
    }
}
