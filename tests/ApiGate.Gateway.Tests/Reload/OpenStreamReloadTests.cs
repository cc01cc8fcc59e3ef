using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Reload;

/// <summary>
/// A stream already open was routed, authenticated and admitted when it began; a reload that deletes its route or
/// revokes its key refuses every new request at once but leaves the open stream to run until it ends (docs/forwarding.md,
/// "Streams and config changes").
/// </summary>
public sealed class OpenStreamReloadTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse" });
    }

    [Fact]
    public async Task RouteDeletedAndKeyRevokedWhileStreamOpen_NewRequestsRefused_OpenStreamRunsOn()
    {
        // Arrange: a key's event stream that has delivered its first event.
        var (key, _, record) = await Gateway.CreateKeyAsync("streams@example.com");
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/events/sse");
        request.Headers.Add("X-API-Key", key);
        using var stream = await Gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal("event: first", await reader.ReadLineAsync());

        // Act: the route and the key go away.
        Assert.True((await Gateway.Routes.DeleteAsync("events", CancellationToken.None)).Ok);
        Assert.True((await Gateway.Keys.RevokeAsync(record.Id, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();
        using var again = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/events/sse");
        again.Headers.Add("X-API-Key", key);
        using var refused = await Gateway.Client.SendAsync(again);
        Upstream.SecondEventGate.SetResult();
        var rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: a new request finds neither; the open stream got its second event and its proper end.
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Contains("data: two", rest, StringComparison.Ordinal);
    }
}
