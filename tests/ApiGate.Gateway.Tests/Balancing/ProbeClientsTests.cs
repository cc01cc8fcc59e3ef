using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Probing;
using ApiGate.Gateway.Snapshots;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>The health checks' own clients: kept across passes while settings hold, retired when no longer used.</summary>
public sealed class ProbeClientsTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly HttpMessageInvoker _traffic = new(new SocketsHttpHandler());
    private readonly TargetRegistry _registry;

    public ProbeClientsTests()
    {
        var reporter = new TargetHealthReporter(new NoStore(), _time, NullLogger<TargetHealthReporter>.Instance);
        _registry = new TargetRegistry(_time, reporter, NullLogger<TargetRegistry>.Instance);
    }

    [Fact]
    public async Task Get_SameSettingsKeptNotTheTrafficClient_UnusedRetiredAfterGrace()
    {
        using var pool = new UpstreamClientPool(_time, UpstreamTlsTrust.SystemRoots);
        using var clients = new ProbeClients(pool, _time);
        var first = clients.Get(Binding("2s"));
        clients.RetireUnused();
        var again = clients.Get(Binding("2s")); // a reload with the same probe settings
        clients.RetireUnused();
        var changed = clients.Get(Binding("3s")); // the probe timeout changed
        clients.RetireUnused();

        Assert.Same(first, again);
        Assert.NotSame(_traffic, first);
        Assert.NotSame(first, changed);
        _time.Advance(TimeSpan.FromMinutes(2));
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1:1/");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => first.SendAsync(request, CancellationToken.None));
    }

    public void Dispose() => _traffic.Dispose();

    private UpstreamBinding Binding(string timeout)
    {
        Core.Text.Durations.TryParse(timeout, out var value);
        var health = new HealthCheckSettings { Path = "/healthz", TimeoutMs = (int)value.TotalMilliseconds };
        return new UpstreamBinding(new UpstreamDefinition { Id = "up_probe", Name = "p", Slug = "p", BaseUrl = "http://127.0.0.1:1", HealthCheck = health },
            _traffic, null, TimeSpan.FromSeconds(30), _registry, _time);
    }

    private sealed class NoStore : Core.Storage.ITargetHealthStore
    {
        public Task ReportTargetHealthAsync(IReadOnlyList<Core.Upstreams.TargetHealthReport> reports, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DeleteTargetHealthAsync(string instanceId, string? upstreamId, string? targetUrl, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<Core.Upstreams.TargetHealthReport>> ListTargetHealthAsync(string upstreamId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<Core.Upstreams.TargetHealthReport>>([]);

        public Task<int> TouchTargetHealthAsync(string instanceId, DateTimeOffset reportedAt, CancellationToken cancellationToken) => Task.FromResult(0);

        public Task<int> DeleteTargetHealthReportedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
