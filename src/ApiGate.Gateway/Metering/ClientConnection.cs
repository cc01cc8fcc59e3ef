using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Metering;

/// <summary>What the gateway can tell, at once, about whether a client's connection is gone.</summary>
internal static class ClientConnection
{
    /// <summary>
    /// A test that is true once the client's connection is known to be gone: the server has cancelled
    /// <see cref="HttpContext.RequestAborted"/>, or the connection's socket failed a send or a receive (the peer reset
    /// it). The socket says so on the spot, before the server drops the writes that follow; the server's own signal
    /// comes a moment later from another thread, and a fast copy writes several MB in that moment. For a WebSocket over
    /// HTTP/2 the socket is shared with the connection's other streams, so it tells only of a closed connection (which
    /// ends them all; a client closing its connection was billed for up to 4 MB it never received); a stream the client
    /// reset is known gone from the server's signal alone.
    /// </summary>
    public static Func<bool> Gone(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        return socket is null ? () => aborted.IsCancellationRequested : () => aborted.IsCancellationRequested || !SocketConnected(socket);
    }

    private static bool SocketConnected(Socket socket)
    {
        try
        {
            return socket.Connected;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }
}
