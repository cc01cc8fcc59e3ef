using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Transforms;
using ApiGate.Gateway.Usage;

namespace ApiGate.Gateway.Tests.Metering;

/// <summary>
/// Bodies captured for metering expressions (<c>request.body</c>) come out of the same gateway-wide budget as bodies
/// buffered for transforms (<c>APIGATE_TRANSFORM_MAX_BUFFERED_BYTES</c>): a client holding many half-sent bodies open
/// cannot make the gateway keep more, and a capture that does not fit reads as no body (the expression's fallback).
/// </summary>
public sealed class CaptureBudgetTests : GatewayTestBase
{
    private const int BodySize = 60_000;

    private string _key = "";
    private string _userId = "";

    private protected override void Configure(GatewayOptions options)
    {
        options.TransformMaxBodyBytes = 64 * 1024;
        options.TransformMaxBufferedBytes = 64 * 1024; // one capture grown to the per-body limit fills it
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "counted", Path = "/counted/*", Upstream = "backend", AuthRequired = true, MeteringMode = "custom", MeteringExpr = "request.body ? 5 : 1",
        }, reload: false);
        var (key, user, _) = await Gateway.CreateKeyAsync("meter@example.com", new PlanInput { Id = "wide", Name = "Wide", RateLimitPerMinute = 0, RequestsPerMonth = 0 });
        (_key, _userId) = (key, user.Id);
    }

    [Fact]
    public async Task CaptureHeldOpenFillsTheBudget_AnotherRequestsBodyReadsAsNone_UntilTheHeldOneEnds()
    {
        // Arrange: one client sends 50,000 of its 60,000 bytes and stops there, its capture holding them
        var budget = Gateway.Service<BufferedBodies>();
        var big = Encoding.ASCII.GetBytes("{\"a\":\"" + new string('x', BodySize - 8) + "\"}");
        using var held = await StartAsync(Request("held", big), 50_000);
        await Poll.UntilAsync(() => budget.Held >= 50_000); // the 50,000 bytes captured: less than a 16 KiB capture is left

        // Act
        var during = await RawHttp.SendAsync(Gateway.Url, Request("during", "{\"n\":1}"u8.ToArray()));
        var heldDone = await FinishAsync(held, Request("held", big), 50_000);
        await Poll.UntilAsync(() => budget.Held == 0);
        var after = await RawHttp.SendAsync(Gateway.Url, Request("after", "{\"n\":1}"u8.ToArray()));
        var recorder = Gateway.Service<UsageRecorder>();
        await Poll.UntilAsync(() => recorder.Written == 3);

        // Assert: units by request id — 5 when the expression saw the body, 1 when it did not
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var units = (await store.GetRecentUsageAsync(_userId, 10, CancellationToken.None)).ToDictionary(e => e.RequestId, e => e.Units);
        Assert.Equal((200, 200, 200), (during.Status, heldDone.Status, after.Status));
        Assert.Equal(1, units["during"]);
        Assert.Equal(5, units["held"]);
        Assert.Equal(5, units["after"]);
        Assert.Equal(0, budget.Held);
    }

    private byte[] Request(string requestId, byte[] body) =>
        [.. Encoding.ASCII.GetBytes($"POST /counted/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Request-ID: {requestId}\r\nX-API-Key: {_key}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];

    private async Task<TcpClient> StartAsync(byte[] request, int bodyBytesSent)
    {
        var uri = new Uri(Gateway.Url);
        var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await client.GetStream().WriteAsync(request.AsMemory(0, request.Length - BodySize + bodyBytesSent));
        return client;
    }

    private static async Task<RawResponse> FinishAsync(TcpClient client, byte[] request, int bodyBytesSent)
    {
        var stream = client.GetStream();
        await stream.WriteAsync(request.AsMemory(request.Length - BodySize + bodyBytesSent));
        return await RawHttp.ReadUntilClosedAsync(stream);
    }
}
