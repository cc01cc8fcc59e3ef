using System.Net;
using System.Net.Sockets;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Loopback ports for tests that need nothing listening.</summary>
internal static class LoopbackPorts
{
    /// <summary>A loopback port that was just free and is closed now: connecting to it is refused.</summary>
    public static int Closed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
