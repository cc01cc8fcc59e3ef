using System.Net;
using System.Net.Sockets;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback in front of a server: accepts clients, opens one server connection for each and hands the
/// pair to <see cref="Serve"/>, which pumps the bytes its own way. Disposing stops the listener and closes every
/// connection.
/// </summary>
internal abstract class LoopbackTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _server;
    private readonly List<TcpClient> _sockets = [];
    private Task _accepting = Task.CompletedTask;

    protected LoopbackTcpProxy(int serverPort) => _server = new IPEndPoint(IPAddress.Loopback, serverPort);

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Connections { get; private set; }

    /// <summary>While true, a new client is reset as soon as it connects (the server is gone, as far as it can tell).</summary>
    public bool Refusing
    {
        get => Volatile.Read(ref _refusing);
        set => Volatile.Write(ref _refusing, value);
    }

    private bool _refusing;

    /// <summary>Cancelled when the proxy is disposed.</summary>
    protected CancellationTokenSource Stopping { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await Stopping.CancelAsync();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        await _accepting;
        Stopping.Dispose();
    }

    /// <summary>Starts listening; called once by the derived class when it is ready to serve.</summary>
    protected void Listen()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Starts pumping between a client and its own server connection (both connected, NoDelay).</summary>
    protected abstract void Serve(TcpClient client, TcpClient server);

    /// <summary>Copies until <paramref name="from"/> ends, then ends the sending side of <paramref name="to"/>; a side that went away ends it quietly.</summary>
    protected async Task CopyAsync(NetworkStream from, NetworkStream to, Func<ReadOnlyMemory<byte>, Task>? write = null)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, Stopping.Token)) > 0)
            {
                await (write?.Invoke(buffer.AsMemory(0, read)) ?? to.WriteAsync(buffer.AsMemory(0, read), Stopping.Token).AsTask());
            }

            to.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // one side went away: the other is closed with the proxy
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!Stopping.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(Stopping.Token);
                if (Refusing)
                {
                    client.Client.LingerState = new System.Net.Sockets.LingerOption(true, 0);
                    client.Dispose();
                    continue;
                }

                var server = new TcpClient { NoDelay = true };
                client.NoDelay = true;
                lock (_sockets)
                {
                    _sockets.Add(client);
                    _sockets.Add(server);
                    Connections++;
                }

                await server.ConnectAsync(_server, Stopping.Token);
                Serve(client, server);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }
}
