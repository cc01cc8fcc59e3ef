using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// docs/forwarding.md "Client faults": what a client does wrong is answered as its own error, never retried and never
/// counted against a target — so no client can take healthy targets out of rotation for everyone.
/// </summary>
public sealed class ClientFaultTests : BalancingTestBase
{
    private Task CreateStrictAsync() =>
        CreateAsync("strict", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1 } });

    private void AssertAllTargetsHealthy()
    {
        var states = States("strict");
        Assert.Equal(3, states.Length);
        Assert.All(states, s => Assert.Equal(TargetHealth.Healthy, s.Health));
        Assert.All(states, s => Assert.Equal(0, s.FailuresTotal));
    }

    /// <summary>Every exchange over, every target healthy and never failed, and ordinary traffic reaching each of them.</summary>
    private async Task AssertTargetsUnharmedAsync()
    {
        Assert.True(await EventuallyAsync(() => States("strict").All(s => s.InFlight == 0), TimeSpan.FromSeconds(10)));
        AssertAllTargetsHealthy();
        Assert.All(await SendManyAsync("/strict/x", 3), s => Assert.Equal(200, s));
    }

    [Theory]
    [InlineData("a\u001b[2Jb")]
    [InlineData("a\u0007b")]
    [InlineData("a\u007fb")]
    [InlineData("a\u0085b")]
    [InlineData("a\u009bb")]
    public async Task HeaderValueWithAControlCharacter_Refused400NamingTheHeaderAndNotForwarded(string value)
    {
        // Arrange
        await CreateStrictAsync();

        // Act: the value written as UTF-8 on the wire, as a client would send it.
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.UTF8.GetBytes(
            $"GET /strict/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Log-Me: {value}\r\n\r\n"));

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_header", response.ErrorCode);
        Assert.Contains("X-Log-Me", response.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(value, response.Body, StringComparison.Ordinal);
        Assert.Empty(Enumerable.Range(0, 3).SelectMany(i => Backend(i).Received));
    }

    [Fact]
    public async Task HeaderValueWithATab_IsForwarded()
    {
        // Arrange
        await CreateStrictAsync();

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes("GET /strict/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-A: a\tb\r\n\r\n"));

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal("a\tb", Assert.Single(Enumerable.Range(0, 3).SelectMany(i => Backend(i).Received)).Headers["X-A"][0]);
    }

    [Fact]
    public async Task NonAsciiHeaderValue_IsForwardedAsSentAndNoTargetIsEjected()
    {
        // Arrange
        await CreateStrictAsync();

        // Act: more requests than targets, each with raw UTF-8 in a header value.
        var statuses = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            var response = await RawHttp.SendAsync(Gateway.Url, Encoding.UTF8.GetBytes(
                $"GET /strict/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-A: café {i}\r\n\r\n"));
            statuses.Add(response.Status);
        }

        // Assert
        Assert.All(statuses, s => Assert.Equal(200, s));
        var received = Enumerable.Range(0, 3).SelectMany(i => Backend(i).Received).ToList();
        Assert.Equal(6, received.Count);
        Assert.All(received, r => Assert.StartsWith("café ", r.Headers["X-A"][0], StringComparison.Ordinal));
        AssertAllTargetsHealthy();
    }

    [Fact]
    public async Task MalformedChunkedBody_Returns400InvalidRequestBodyAndNoTargetIsEjected()
    {
        // Arrange
        await CreateStrictAsync();

        // Act: a chunk size that is not hex, for every target in turn.
        var responses = new List<RawResponse>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes(
                "POST /strict/upload HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")));
        }

        // Assert
        Assert.All(responses, r => Assert.Equal(400, r.Status));
        Assert.All(responses, r => Assert.Equal("invalid_request_body", r.ErrorCode));
        AssertAllTargetsHealthy();
        Assert.All(await SendManyAsync("/strict/x", 3), s => Assert.Equal(200, s));
    }

    [Fact]
    public async Task BodyShorterThanContentLength_ClientGivesUp_NoTargetIsEjected()
    {
        // Arrange
        await CreateStrictAsync();

        // Act: promise 1,000 bytes, send 10, then close the sending side.
        for (var i = 0; i < 3; i++)
        {
            using var client = new System.Net.Sockets.TcpClient();
            var uri = new Uri(Gateway.Url);
            await client.ConnectAsync(uri.Host, uri.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /strict/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n0123456789"));
            client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                while (await stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
        }

        // Assert: the upstream side was not blamed, and ordinary traffic still reaches every target.
        await AssertTargetsUnharmedAsync();
    }

    private Task CreateStrictWithTimeoutAsync() => CreateAsync("strict", "round_robin", new UpstreamInput
    {
        Timeout = "1s",
        HealthCheck = new HealthCheckInput { PassiveFailures = 1 },
    });

    [Fact]
    public async Task SlowUploadPastTheUpstreamTimeout_Returns408AndNoTargetIsEjected()
    {
        // Arrange: a 1 s bound on the whole exchange, and targets ejected on their first failure.
        await CreateStrictWithTimeoutAsync();

        // Act: for every target in turn, a body trickled in above Kestrel's minimum data rate but slower than the
        // exchange bound allows, so the bound fires while the gateway waits on the client.
        var responses = new List<RawResponse>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await TrickleUploadAsync(chunks: 15, interval: TimeSpan.FromMilliseconds(200)));
        }

        // Assert: the client's error, and no target blamed for it.
        Assert.All(responses, r => Assert.Equal(408, r.Status));
        Assert.All(responses, r => Assert.Equal("request_timeout", r.ErrorCode));
        await AssertTargetsUnharmedAsync();
    }

    [Fact]
    public async Task SlowDownloadPastTheUpstreamTimeout_NoTargetIsEjected()
    {
        // Arrange
        await CreateStrictWithTimeoutAsync();

        // Act: for every target in turn, a large download the client stops reading after the headers, so the bound
        // fires while the gateway waits to write to the client.
        for (var i = 0; i < 3; i++)
        {
            using var client = new System.Net.Sockets.TcpClient { ReceiveBufferSize = 4096 };
            var uri = new Uri(Gateway.Url);
            await client.ConnectAsync(uri.Host, uri.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /strict/download?bytes=500000000 HTTP/1.1\r\nHost: gw\r\n\r\n"));
            var head = new byte[1024];
            Assert.True(await stream.ReadAsync(head) > 0);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(head), StringComparison.Ordinal);
            // The client still holds the connection unread: the exchange can only end by the 1 s bound firing.
            Assert.True(await EventuallyAsync(() => States("strict").All(s => s.InFlight == 0), TimeSpan.FromSeconds(30)));
        }

        // Assert
        await AssertTargetsUnharmedAsync();
    }

    [Fact]
    public async Task UpstreamSlowerThanTheTimeout_IsStillCountedAgainstTheTarget()
    {
        // Arrange
        await CreateStrictWithTimeoutAsync();

        // Act: the upstream itself is what the exchange waits on (its headers, then its body).
        var headers = await RawHttp.GetAsync(Gateway.Url, "/strict/slow-headers?ms=5000");
        var body = await RawHttp.GetAsync(Gateway.Url, "/strict/trickle?chunks=30&interval=200");

        // Assert: a timeout answered 504 and a trickling body cut, each a failure of the target that served it.
        Assert.Equal(504, headers.Status);
        Assert.Equal("upstream_timeout", headers.ErrorCode);
        Assert.Equal(200, body.Status);
        Assert.True(await EventuallyAsync(() => States("strict").Sum(s => s.FailuresTotal) == 2, TimeSpan.FromSeconds(10)));
    }

    /// <summary>A POST whose 1,000-byte body arrives <paramref name="chunks"/> × 10 bytes, one every <paramref name="interval"/>.</summary>
    private async Task<RawResponse> TrickleUploadAsync(int chunks, TimeSpan interval)
    {
        using var client = new System.Net.Sockets.TcpClient();
        var uri = new Uri(Gateway.Url);
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /strict/upload HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n"));
        try
        {
            // Stops once the gateway has answered: the rest of the body would only be written into a closing connection.
            for (var i = 0; i < chunks && !stream.DataAvailable; i++)
            {
                await stream.WriteAsync("0123456789"u8.ToArray());
                await Task.Delay(interval);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            // The gateway answered and closed while the body was still coming.
        }

        // Read up to the answer's end (its Content-Length), not the connection's: after answering, the server goes on
        // reading the body it was promised for up to 5 s before it closes.
        var buffer = new MemoryStream();
        var chunk = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            int read;
            while (!Complete(buffer.ToArray()) && (read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
            {
                buffer.Write(chunk, 0, read);
            }
        }
        catch (IOException)
        {
        }

        return RawHttp.Parse(buffer.ToArray());

        static bool Complete(byte[] received)
        {
            var headEnd = received.AsSpan().IndexOf("\r\n\r\n"u8);
            return headEnd >= 0 && RawHttp.Parse(received).Headers.TryGetValue("Content-Length", out var length)
                && received.Length - (headEnd + 4) >= int.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    [Fact]
    public async Task StalledBody_Returns408RequestTimeoutAndNoTargetIsEjected()
    {
        // Arrange
        await CreateStrictAsync();

        // Act: headers promise a body that never comes; Kestrel's minimum body data rate (after its grace period) ends it.
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes(
            "POST /strict/upload HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n0123456789"));

        // Assert
        Assert.Equal(408, response.Status);
        Assert.Equal("request_timeout", response.ErrorCode);
        AssertAllTargetsHealthy();
    }
}
