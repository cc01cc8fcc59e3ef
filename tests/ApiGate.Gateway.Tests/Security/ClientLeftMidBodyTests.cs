using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using static ApiGate.Gateway.Tests.Observability.AccessLogTests;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// docs/forwarding.md "Client faults": an HTTP/1.1 request body can end early only by the client closing its connection
/// (short of its Content-Length, or before its last chunk). The server answers nothing on such a connection, so the
/// exchange is the client going away: recorded 499 with no error, on a plain route and on one whose body transform reads
/// the body first. It was recorded as <c>400 invalid_request_body</c> whenever the server's refusal of the body was seen
/// before it cancelled RequestAborted: most of the time on the route that reads the body first; now and then on a plain
/// route, where the forwarder's read usually lost that race (its decision is pinned down by <c>ClientWentAwayTests</c>).
/// </summary>
public sealed class ClientLeftMidBodyTests : GatewayTestBase
{
    private const int Rounds = 6;

    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options);
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "edited", Path = "/edited/*", Upstream = "backend", RequestTransform = """{"body":{"json":{"inject":{"x":"1"}}}}""" });
    }

    [Theory]
    [InlineData("plain", "Content-Length: 1000\r\n\r\n{\"a\":1234")]
    [InlineData("plain", "Transfer-Encoding: chunked\r\n\r\n9\r\n{\"a\":")]
    [InlineData("plain", "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")]
    [InlineData("edited", "Content-Length: 1000\r\n\r\n{\"a\":1234")]
    [InlineData("edited", "Transfer-Encoding: chunked\r\n\r\n9\r\n{\"a\":")]
    [InlineData("edited", "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")]
    public async Task BodyCutShortByClosingTheSendingSide_NothingAnswered_Recorded499WithNoError(string route, string framingAndBody)
    {
        // Act: each client sends part of its body and closes its sending side, then waits for an answer — at once, or
        // after a pause so the gateway has begun forwarding or reading.
        var received = new List<string>();
        for (var round = 0; round < Rounds; round++)
        {
            using var client = new TcpClient();
            var uri = new Uri(Gateway.Url);
            await client.ConnectAsync(uri.Host, uri.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /{route}/echo-body HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nX-Request-ID: left-{round}\r\n{framingAndBody}"));
            if (round % 2 == 1)
            {
                await Task.Delay(100);
            }

            client.Client.Shutdown(SocketShutdown.Send);
            received.Add(await ReadUntilClosedAsync(stream));
        }

        // Assert: no client got an answer (the server aborts a connection whose input ended, whatever the gateway
        // would have written), and each exchange is recorded as the client leaving, not as its malformed body.
        Assert.All(received, r => Assert.Equal("", r));
        Assert.True(await Balancing.BalancingTestBase.EventuallyAsync(() => Lines().Count == Rounds, TimeSpan.FromSeconds(20)),
            $"access lines for {Lines().Count} of {Rounds} requests");
        await Gateway.StopAsync();
        var lines = Lines();
        Assert.Equal(Rounds, lines.Count);
        Assert.All(lines, line =>
        {
            var id = line.GetProperty("RequestId").GetString();
            Assert.True(line.GetProperty("Status").GetInt32() == 499, $"{id}: status {line.GetProperty("Status")}");
            Assert.True(string.IsNullOrEmpty(line.GetProperty("Error").GetString()), $"{id}: error {line.GetProperty("Error")}");
        });
        Assert.DoesNotContain("refused the request body", _log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("unhandled exception", _log.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("ffffffffffffffffff")] // past 64 bits: the server reports the overflow as an I/O error, not as a refusal
    public async Task MalformedChunk_ClientStillListening_AnsweredAndRecordedAsItsMalformedBody400(string chunkSize)
    {
        // Act: a chunk size that is not hexadecimal or does not fit, the connection left open: the server refuses the
        // framing, and the client's error is answered as before. (A client that also closes its sending side races the
        // refusal with the connection's end, and is recorded either way, 400 or 499: nobody hears the answer then.)
        using var client = new TcpClient();
        var uri = new Uri(Gateway.Url);
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /plain/echo-body HTTP/1.1\r\nHost: gw\r\nX-Request-ID: malformed\r\nTransfer-Encoding: chunked\r\n\r\n{chunkSize}\r\nhello\r\n"));
        var answer = await ReadUntilClosedAsync(stream);

        // Assert
        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
        Assert.Contains("invalid_request_body", answer, StringComparison.Ordinal);
        await Gateway.StopAsync();
        var line = Assert.Single(AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == "malformed");
        Assert.Equal(400, line.GetProperty("Status").GetInt32());
        Assert.Equal("invalid_request_body", line.GetProperty("Error").GetString());
    }

    private List<System.Text.Json.JsonElement> Lines() =>
        AccessLines(_log.Text).Where(a => a.GetProperty("RequestId").GetString()!.StartsWith("left-", StringComparison.Ordinal)).ToList();

    /// <summary>Everything the gateway sends until it closes or resets the connection (a reset after no bytes reads as nothing).</summary>
    private static async Task<string> ReadUntilClosedAsync(NetworkStream stream)
    {
        var got = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                got.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // reset by the server: what came before it is what was answered
        }

        return Encoding.ASCII.GetString(got.ToArray());
    }
}
