using System.Net;
using System.Net.Sockets;
using System.Text;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Listeners;

/// <summary><c>server.max_connections</c>: the most connections a listener keeps open at once, against a real Kestrel.</summary>
public sealed class ConnectionLimitTests
{
    private static readonly byte[] HealthRequest = "GET /health HTTP/1.1\r\nHost: gateway.test\r\n\r\n"u8.ToArray();

    [Fact]
    public async Task MaxConnections_TwoIdleConnectionsOpen_ThirdClosedWithoutAByteUntilOneCloses()
    {
        // Arrange: two keep-alive connections, each served once and then left idle
        await using var gateway = await TestGateway.StartAsync(options => options.MaxConnections = 2);
        var port = new Uri(gateway.Url).Port;
        using var first = await OpenServedAsync(port);
        using var second = await OpenServedAsync(port);

        // Act
        using var third = new TcpClient();
        await third.ConnectAsync(IPAddress.Loopback, port);
        var refused = await ReadAsync(third.GetStream());
        first.Dispose();
        var served = await ServedAfterRetriesAsync(gateway.Url);

        // Assert: Kestrel accepts the connection over the limit and closes it at once, without a byte
        Assert.Equal(0, refused);
        Assert.Equal(200, served);
        Assert.True(second.Connected);
    }

    /// <summary>A connection that got an answer to one request and stays open (keep-alive).</summary>
    private static async Task<TcpClient> OpenServedAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await client.GetStream().WriteAsync(HealthRequest);
        var buffer = new byte[4096];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = await client.GetStream().ReadAsync(buffer, bound.Token);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        return client;
    }

    /// <summary>How many bytes the first read gets (0: the server closed the connection).</summary>
    private static async Task<int> ReadAsync(NetworkStream stream)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await stream.ReadAsync(new byte[1024], bound.Token);
    }

    /// <summary>
    /// The status a new connection's request gets, trying again while the closed connection is not yet counted out
    /// (the server sees the close after the client made it): a bound for a stuck test, not a timing assertion.
    /// </summary>
    private static async Task<int> ServedAfterRetriesAsync(string url)
    {
        var request = "GET /health HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n"u8.ToArray();
        var status = 0;
        for (var attempt = 0; attempt < 300 && status == 0; attempt++)
        {
            status = (await RawHttp.SendAsync(url, request)).Status;
            if (status == 0)
            {
                await Task.Delay(100);
            }
        }

        return status;
    }
}
