using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// An upstream that answers a request which did not ask to switch protocols with <c>101 Switching Protocols</c> gets
/// the client a 502, not a 101 followed by whatever the upstream sends raw (which a client or a proxy in front of the
/// gateway would take as a tunnel it never asked for).
/// </summary>
public sealed class UnsolicitedUpgradeTests
{
    [Theory]
    [InlineData("http", false)]
    [InlineData("http_stream", false)]
    [InlineData("sse", false)]
    [InlineData("websocket", false)]
    [InlineData("http", true)]
    [InlineData("http_stream", true)]
    [InlineData("sse", true)]
    [InlineData("websocket", true)]
    public async Task UpstreamSwitchesProtocolsForAPlainRequest_ClientGets502(string protocol, bool transformSetsUpgrade)
    {
        // Arrange: the client asks for no switch; in the second cases the route's transform puts Upgrade on the upstream
        // request (such a transform is refused when written now, so it is stored as an older build would have stored it)
        await using var backend = await ScriptedBackend.StartAsync(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\nHTTP/1.1 200 OK\r\nX-Smuggled: yes\r\nContent-Length: 0\r\n\r\n");
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });
        if (transformSetsUpgrade)
        {
            var route = (await gateway.Store.FindRouteAsync("r", CancellationToken.None))!;
            await gateway.Store.UpdateRouteAsync(
                route with { RequestTransform = """{"headers":{"set":{"Upgrade":"raw","Connection":"Upgrade"}}}""" }, route.UpdatedAt, CancellationToken.None);
            await gateway.ReloadAsync();
        }

        // Act
        var answer = await RawExchangeAsync(gateway.Url, "GET /r/x HTTP/1.1\r\nHost: gateway\r\n\r\n");

        // Assert
        Assert.StartsWith("HTTP/1.1 502 ", answer, StringComparison.Ordinal);
        Assert.Contains("upstream_error", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Smuggled", answer, StringComparison.Ordinal);
        Assert.DoesNotContain(" 101 ", answer, StringComparison.Ordinal);
    }

    /// <summary>Sends one request on a fresh connection and reads until the gateway has written its answer.</summary>
    private static async Task<string> RawExchangeAsync(string baseUrl, string request)
    {
        var uri = new Uri(baseUrl);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var text = received.ToString();
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd >= 0 && BodyComplete(text, headEnd))
            {
                return text;
            }

            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                return text;
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }
    }

    private static bool BodyComplete(string text, int headEnd)
    {
        var head = text[..headEnd];
        var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (lengthLine is null)
        {
            return head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal) && text.Length > headEnd + 4;
        }

        return text.Length - (headEnd + 4) >= int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
