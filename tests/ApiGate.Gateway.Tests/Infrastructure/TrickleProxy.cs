using System.Net.Sockets;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback that passes what the client sends at once and what the server answers in small pieces with
/// a pause after each one, so that a reply of more than a few dozen bytes is never whole when the client first reads
/// it: a client that waits for the rest synchronously is caught waiting every time. Disposing stops the listener and
/// closes every connection.
/// </summary>
internal sealed class TrickleProxy : LoopbackTcpProxy
{
    /// <summary>Bytes of the server's reply per piece.</summary>
    public const int PieceBytes = 48;

    private TrickleProxy(int serverPort)
        : base(serverPort) => Listen();

    public static TrickleProxy Start(int serverPort) => new(serverPort);

    protected override void Serve(TcpClient client, TcpClient server)
    {
        _ = CopyAsync(client.GetStream(), server.GetStream());
        var to = client.GetStream();
        _ = CopyAsync(server.GetStream(), to, async data =>
        {
            for (var offset = 0; offset < data.Length; offset += PieceBytes)
            {
                await to.WriteAsync(data.Slice(offset, Math.Min(PieceBytes, data.Length - offset)), Stopping.Token);
                await Task.Delay(2, Stopping.Token);
            }
        });
    }
}
