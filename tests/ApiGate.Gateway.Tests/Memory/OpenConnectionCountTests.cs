using System.Net.Sockets;
using System.Text;
using ApiGate.Gateway.Memory;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Memory;

/// <summary>
/// The idle trimmer's "connections closed" rule reads Kestrel's own count of open connections: real keep-alive
/// connections to a running gateway raise it and closing them brings it back down.
/// </summary>
public sealed class OpenConnectionCountTests : GatewayTestBase
{
    private protected override Task SetUpAsync() => Task.CompletedTask;

    [Fact]
    public async Task OpenConnections_KeepAliveConnectionsOpenedThenClosed_CountedUpAndBackDown()
    {
        // Arrange
        var trimmer = Gateway.Service<IdleMemoryTrimmer>();
        var before = trimmer.OpenConnections;
        var uri = new Uri(Gateway.Url);
        var sockets = new List<TcpClient>();

        try
        {
            // Act: five connections, each kept open after one answered request
            for (var i = 0; i < 5; i++)
            {
                var client = new TcpClient();
                sockets.Add(client);
                await client.ConnectAsync(uri.Host, uri.Port);
                var stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /health HTTP/1.1\r\nHost: {uri.Authority}\r\n\r\n"));
                var buffer = new byte[1024];
                var read = await stream.ReadAsync(buffer);
                Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
            }

            var whileOpen = trimmer.OpenConnections;

            foreach (var client in sockets)
            {
                client.Dispose();
            }

            var afterClose = await WaitForAsync(() => trimmer.OpenConnections, value => value <= before);

            // Assert
            Assert.Equal(before + 5, whileOpen);
            Assert.Equal(before, afterClose);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>Reads <paramref name="read"/> until <paramref name="done"/> holds (at most 10 s); returns the last value.</summary>
    private static async Task<long> WaitForAsync(Func<long> read, Func<long, bool> done)
    {
        var value = read();
        for (var i = 0; i < 200 && !done(value); i++)
        {
            await Task.Delay(50);
            value = read();
        }

        return value;
    }
}
