using System.Text;
using System.Text.Json.Nodes;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Transforms;

namespace ApiGate.Gateway.Tests.Transforms;

/// <summary>
/// Response bodies held for response transforms count against the same gateway-wide budget as request bodies
/// (<c>APIGATE_TRANSFORM_MAX_BUFFERED_BYTES</c>): upstreams that send half of a body and stop cannot make the gateway
/// hold more. A response that does not fit is refused (<c>503 gateway_busy</c>) where the transform removes fields, and
/// passed on untransformed where it only renames.
/// </summary>
public sealed class BufferedResponseBodiesTests : GatewayTestBase, IAsyncLifetime
{
    private const int HeldSize = 60_000;

    private const int FullSize = 20_000;

    private ScriptedBackend _halfSent = null!;
    private ScriptedBackend _whole = null!;
    private bool _halfSentStopped;

    private protected override void Configure(GatewayOptions options)
    {
        options.TransformMaxBodyBytes = 64 * 1024;
        options.TransformMaxBufferedBytes = 128 * 1024; // two half-sent 60,000-byte bodies take 120,002: 11,070 left
    }

    private protected override async Task SetUpAsync()
    {
        var held = Body(HeldSize);
        _halfSent = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {held.Length}\r\n\r\n" + held[..(held.Length / 2)]);
        _whole = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {FullSize}\r\nConnection: close\r\n\r\n" + Body(FullSize), thenClose: true);
        await Gateway.AddUpstreamAsync("half-sent", _halfSent.Url);
        await Gateway.AddUpstreamAsync("whole", _whole.Url);
        const string remove = """{"body":{"json":{"remove":["secret"]}}}""";
        await Gateway.AddRouteAsync(new RouteInput { Name = "held", Path = "/held/*", Upstream = "half-sent", AuthRequired = false, ResponseTransform = remove });
        await Gateway.AddRouteAsync(new RouteInput { Name = "removes", Path = "/removes/*", Upstream = "whole", AuthRequired = false, ResponseTransform = remove });
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "renames", Path = "/renames/*", Upstream = "whole", AuthRequired = false,
            ResponseTransform = """{"body":{"json":{"rename":{"secret":"hidden"}}}}""",
        });
    }

    [Fact]
    public async Task ResponsesHeldHalfSent_OneMoreThanTheBudgetHolds_RefusedWhereFieldsAreRemovedPassedOnWhereRenamed()
    {
        // Arrange: two responses held half-sent by their upstream
        var budget = Gateway.Service<BufferedBodies>();
        using var client = TestGateway.CreateClient();
        var first = client.GetAsync(Gateway.Url + "/held/1");
        var second = client.GetAsync(Gateway.Url + "/held/2");
        await Poll.UntilAsync(() => budget.Held == 2 * (HeldSize + 1));

        // Act
        var refused = await RawHttp.SendAsync(Gateway.Url, Get("/removes/1"));
        var renamedWhileFull = await RawHttp.SendAsync(Gateway.Url, Get("/renames/1"));
        await StopHalfSentAsync(); // the held responses end (cut short)
        await Task.WhenAll(Ended(first), Ended(second));
        await Poll.UntilAsync(() => budget.Held == 0);
        var removedAfterwards = await RawHttp.SendAsync(Gateway.Url, Get("/removes/2"));
        var renamedAfterwards = await RawHttp.SendAsync(Gateway.Url, Get("/renames/2"));

        // Assert
        Assert.Equal(503, refused.Status);
        Assert.Equal("gateway_busy", refused.ErrorCode);
        Assert.DoesNotContain("s3cr3t", refused.Body);
        Assert.Equal(200, renamedWhileFull.Status);
        Assert.Equal(Body(FullSize), renamedWhileFull.Body); // untouched: the transform could not run
        Assert.Equal(200, removedAfterwards.Status);
        Assert.Equal(["a"], JsonNode.Parse(removedAfterwards.Body)!.AsObject().Select(p => p.Key));
        Assert.Equal(200, renamedAfterwards.Status);
        Assert.Equal(["a", "hidden"], JsonNode.Parse(renamedAfterwards.Body)!.AsObject().Select(p => p.Key));
        Assert.Equal(0, budget.Held);
    }

    /// <summary>A JSON body of exactly <paramref name="size"/> bytes with a field <c>secret</c>.</summary>
    private static string Body(int size)
    {
        const string tail = "\",\"secret\":\"s3cr3t\"}";
        return "{\"a\":\"" + new string('x', size - 6 - tail.Length) + tail;
    }

    private static byte[] Get(string path) => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");

    /// <summary>Waits for a held response to end however it ends (its upstream went away mid-body).</summary>
    private static async Task Ended(Task<HttpResponseMessage> response)
    {
        try
        {
            using var done = await response;
            await done.Content.ReadAsByteArrayAsync();
        }
        catch (HttpRequestException)
        {
            // cut short: what this test waits for
        }
    }

    private async Task StopHalfSentAsync()
    {
        if (!_halfSentStopped)
        {
            _halfSentStopped = true;
            await _halfSent.DisposeAsync();
        }
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await StopHalfSentAsync();
        await _whole.DisposeAsync();
        await DisposeAsync();
    }
}
