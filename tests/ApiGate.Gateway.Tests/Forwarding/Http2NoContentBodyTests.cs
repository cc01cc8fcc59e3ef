using System.Net;
using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// An HTTP/2 upstream that sends DATA with a status that has no content (204, 205, 304): the client gets the status
/// without those bytes, as from an HTTP/1.1 upstream, instead of a connection closed without any answer.
/// </summary>
public sealed class Http2NoContentBodyTests
{
    [Theory]
    [InlineData(204)]
    [InlineData(205)]
    [InlineData(304)]
    public async Task Http2UpstreamSendsABodyWithAStatusThatHasNone_ClientGetsTheStatusWithoutIt(int status)
    {
        // Arrange
        await using var upstream = RawHttp2Upstream.Start(status, "stray");
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput { HttpVersion = "2", Timeout = "5s" });
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend" });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert
        Assert.Equal((status, ""), (response.Status, response.Body));
        var target = Assert.Single(gateway.Service<TargetRegistry>().Statuses());
        Assert.Equal((1, 0), (target.RequestsTotal, target.FailuresTotal));
    }

    /// <summary>
    /// A cleartext HTTP/2 server written frame by frame: answers every request stream with a HEADERS frame carrying only
    /// <c>:status</c> and a DATA frame with the given bytes that ends the stream.
    /// </summary>
    private sealed class RawHttp2Upstream : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _sockets = [];
        private Task _serving = Task.CompletedTask;

        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public static RawHttp2Upstream Start(int status, string body)
        {
            var upstream = new RawHttp2Upstream();
            upstream._listener.Start();
            upstream._serving = upstream.ServeAsync(status, Encoding.ASCII.GetBytes(body));
            return upstream;
        }

        private async Task ServeAsync(int status, byte[] body)
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync();
                    lock (_sockets)
                    {
                        _sockets.Add(socket);
                    }

                    _ = AnswerAsync(new NetworkStream(socket), status, body);
                }
            }
            catch (SocketException)
            {
                // stopped
            }
            catch (ObjectDisposedException)
            {
                // stopped
            }
        }

        private static async Task AnswerAsync(NetworkStream stream, int status, byte[] body)
        {
            try
            {
                await stream.WriteAsync(Frame(0x4, 0, 0, [])); // SETTINGS
                await stream.ReadExactlyAsync(new byte[24]); // the client's preface
                var header = new byte[9];
                while (true)
                {
                    await stream.ReadExactlyAsync(header);
                    var payload = new byte[(header[0] << 16) | (header[1] << 8) | header[2]];
                    await stream.ReadExactlyAsync(payload);
                    var streamId = ((header[5] & 0x7f) << 24) | (header[6] << 16) | (header[7] << 8) | header[8];
                    if (header[3] == 0x4 && (header[4] & 0x1) == 0)
                    {
                        await stream.WriteAsync(Frame(0x4, 0x1, 0, [])); // SETTINGS ACK
                    }
                    else if (header[3] == 0x1)
                    {
                        // HPACK: :status as a literal without indexing, name from static entry 8
                        var value = Encoding.ASCII.GetBytes(status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        await stream.WriteAsync(Frame(0x1, 0x4, streamId, [0x08, (byte)value.Length, .. value])); // HEADERS, END_HEADERS
                        await stream.WriteAsync(Frame(0x0, 0x1, streamId, body)); // DATA, END_STREAM
                    }
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
            {
                // the gateway closed the connection
            }
        }

        private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload) =>
            [(byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, flags,
                (byte)(streamId >> 24), (byte)(streamId >> 16), (byte)(streamId >> 8), (byte)streamId, .. payload];

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _serving;
            lock (_sockets)
            {
                _sockets.ForEach(s => s.Dispose());
            }
        }
    }
}
