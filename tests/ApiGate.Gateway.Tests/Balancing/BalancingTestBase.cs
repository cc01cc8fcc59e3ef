using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>Three real upstream servers on loopback (which a test can stop and restart on the same port) and one gateway.</summary>
public abstract class BalancingTestBase : IAsyncLifetime
{
    private readonly TestUpstream?[] _upstreams = new TestUpstream?[3];
    private readonly int[] _ports = new int[3];

    internal TestGateway Gateway { get; private set; } = null!;

    /// <summary>Upstream server <paramref name="i"/> (0..2); throws while it is stopped.</summary>
    internal TestUpstream Backend(int i) => _upstreams[i] ?? throw new InvalidOperationException($"backend {i} is stopped");

    /// <summary>The base URL of backend <paramref name="i"/>, valid while it is stopped too.</summary>
    internal string Url(int i) => $"http://127.0.0.1:{_ports[i]}";

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _upstreams[i] = await TestUpstream.StartAsync();
            _ports[i] = _upstreams[i]!.Port;
        }

        Gateway = await TestGateway.StartAsync(Configure);
    }

    /// <summary>Gateway options a test class needs (log capture, …); none by default.</summary>
    private protected virtual void Configure(GatewayOptions options)
    {
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        foreach (var upstream in _upstreams)
        {
            if (upstream is not null)
            {
                await upstream.DisposeAsync();
            }
        }
    }

    /// <summary>Stops backend <paramref name="i"/>: its port then refuses connections.</summary>
    internal async Task StopAsync(int i)
    {
        var upstream = _upstreams[i];
        _upstreams[i] = null;
        if (upstream is not null)
        {
            await upstream.DisposeAsync();
        }
    }

    /// <summary>Starts backend <paramref name="i"/> again on its old port.</summary>
    internal async Task RestartAsync(int i)
    {
        await StopAsync(i);
        _upstreams[i] = await TestUpstream.StartAsync(_ports[i]);
    }

    /// <summary>Non-probe requests each backend received (0 for a stopped one... since it was restarted).</summary>
    internal int[] Served() => [.. _upstreams.Select(u => u?.Served ?? 0)];

    /// <summary>Creates an upstream over the three backends (or the given targets) and a public route <c>/{name}/*</c> to it.</summary>
    internal async Task CreateAsync(string name, string policy, UpstreamInput? extra = null, IReadOnlyList<TargetInput>? targets = null)
    {
        var input = (extra ?? new UpstreamInput()) with
        {
            Name = name,
            LbPolicy = policy,
            Targets = targets ?? [.. Enumerable.Range(0, 3).Select(i => new TargetInput { Url = Url(i) })],
        };
        var created = await Gateway.Upstreams.CreateAsync(input.Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await Gateway.AddRouteAsync(new RouteInput { Name = name, Path = $"/{name}/*", Upstream = name });
    }

    internal TargetStatus[] States(string upstreamSlug)
    {
        var id = Gateway.Snapshots.Current!.RouteUpstreams.First(u => u?.Definition.Slug == upstreamSlug)!.Definition.Id;
        return [.. Gateway.Service<TargetRegistry>().Statuses().Where(s => s.UpstreamId == id)];
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="limit"/> passes; returns whether it held.</summary>
    internal static Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan limit) => Poll.HoldsWithinAsync(condition, limit);

    internal async Task<int[]> SendManyAsync(string path, int count, Action<HttpRequestMessage>? configure = null)
    {
        var statuses = new int[count];
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
            configure?.Invoke(request);
            using var response = await Gateway.Client.SendAsync(request);
            statuses[i] = (int)response.StatusCode;
        }

        return statuses;
    }
}
