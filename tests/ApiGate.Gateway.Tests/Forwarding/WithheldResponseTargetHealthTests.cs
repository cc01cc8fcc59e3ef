using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// A response the gateway itself refuses to pass on after the target answered it well — withheld because a route that
/// masks fields cannot read the body (<c>502 response_withheld</c>), or refused because the bodies held for transforms
/// fill the gateway's budget (<c>503 gateway_busy</c>) — is the gateway's answer, not a failure of the target: passive
/// checks count transport failures and the target's own 5xx only (docs/load-balancing.md), so such answers in a row
/// must not eject healthy targets and turn every request of the upstream into <c>503 upstream_unavailable</c>.
/// </summary>
public sealed class WithheldResponseTargetHealthTests
{
    private const int Requests = 11; // two targets, each past the passive checks' default of 5 consecutive failures

    [Theory]
    [InlineData(false, 502, "response_withheld")] // a name twice: not readable, withheld
    [InlineData(true, 503, "gateway_busy")] // chunked: its first buffer (16 KiB) does not fit a 64-byte budget
    public async Task TargetAnswers200_GatewayRefusesToPassItOn_TargetsNotCountedNorEjected(bool chunked, int status, string code)
    {
        // Arrange: two targets answering 200 with a JSON body the masking route cannot pass on
        const string Body = """{"email":"alice@example.com","email":"bob@example.com"}""";
        var response = chunked
            ? $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{Body.Length:x}\r\n{Body}\r\n0\r\n\r\n"
            : $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(Body)}\r\nConnection: close\r\n\r\n{Body}";
        await using var first = await ScriptedBackend.StartAsync(response, thenClose: true);
        await using var second = await ScriptedBackend.StartAsync(response, thenClose: true);
        await using var gateway = await TestGateway.StartAsync(options =>
        {
            if (chunked)
            {
                (options.TransformMaxBodyBytes, options.TransformMaxBufferedBytes) = (64, 64);
            }
        });
        var created = await gateway.Upstreams.CreateAsync(
            new UpstreamInput { Name = "backend", Targets = [new TargetInput { Url = first.Url }, new TargetInput { Url = second.Url }] }.Parsed(),
            CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await gateway.AddRouteAsync(new RouteInput { Name = "masked", Path = "/masked/*", Upstream = "backend", ResponseTransform = """{"body":{"mask":["email"]}}""" });

        // Act
        var answers = new List<(int, string?)>();
        for (var i = 0; i < Requests; i++)
        {
            var answer = await RawHttp.GetAsync(gateway.Url, "/masked/user");
            answers.Add((answer.Status, answer.ErrorCode));
        }

        // Assert: every request got the gateway's refusal (none 503 upstream_unavailable), and both targets received their
        // share, are healthy and have no failure counted
        Assert.All(answers, a => Assert.Equal((status, code), a));
        Assert.Equal(Requests, first.Connections + second.Connections);
        var targets = gateway.Service<TargetRegistry>().Statuses();
        Assert.Equal(2, targets.Count);
        Assert.All(targets, t => Assert.Equal((TargetHealth.Healthy, 0L, 0), (t.Health, t.FailuresTotal, t.ConsecutiveFailures)));
    }
}
