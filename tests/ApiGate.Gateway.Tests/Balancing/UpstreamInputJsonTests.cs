using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>The balancing fields as a JSON client (the admin API) sends them: snake_case, nullable, validated by UpstreamService.</summary>
public sealed class UpstreamInputJsonTests
{
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    [Fact]
    public async Task CreateUpstream_SnakeCaseJsonBody_StoredAndReadBack()
    {
        await using var temp = await TempStore.CreateAsync();
        var service = new UpstreamService(temp.Store, TimeProvider.System);
        var input = JsonSerializer.Deserialize<UpstreamInput>("""
            {"name": "Pool", "targets": [{"url": "http://10.0.0.1:8080/v1", "weight": 3}, {"url": "http://10.0.0.2:8080"}],
             "lb_policy": "hash", "hash_on": "header:X-Tenant",
             "health_check": {"path": "/healthz", "interval": "5s", "timeout": "750", "healthy_threshold": 1, "passive_failures": 0, "passive_cooldown": "1m"}}
            """, SnakeCase)!;

        var created = await service.CreateAsync(input.Parsed(), CancellationToken.None);
        var stored = await temp.Store.FindUpstreamAsync("pool", CancellationToken.None);

        Assert.True(created.Ok, created.Error?.ToString());
        Assert.NotNull(stored);
        Assert.Equal("http://10.0.0.1:8080/v1", stored.BaseUrl);
        Assert.Equal([new UpstreamTarget("http://10.0.0.1:8080/v1", 3), new UpstreamTarget("http://10.0.0.2:8080", 1)], stored.Targets);
        Assert.Equal(LoadBalancingPolicy.Hash, stored.LbPolicy);
        Assert.Equal("header:X-Tenant", stored.HashOn);
        Assert.Equal(new HealthCheckSettings { Path = "/healthz", IntervalMs = 5000, TimeoutMs = 750, HealthyThreshold = 1, PassiveFailures = 0, PassiveCooldownMs = 60_000 },
            stored.HealthCheck);
    }

    [Theory]
    [InlineData(-1, true)]
    [InlineData(-5, false)]
    public async Task CreateUpstream_NegativePassiveFailures_MinusOneIsTheDefaultOthersRefused(int value, bool accepted)
    {
        // Arrange
        await using var temp = await TempStore.CreateAsync();
        var service = new UpstreamService(temp.Store, TimeProvider.System);
        var input = JsonSerializer.Deserialize<UpstreamInput>(
            $$$"""{"name": "Pool", "url": "http://10.0.0.1:8080", "health_check": {"passive_failures": {{{value}}} }}""", SnakeCase)!;

        // Act
        var parsed = input.ToChanges();
        var created = parsed.Ok ? await service.CreateAsync(parsed.Value!, CancellationToken.None) : parsed.Error!;

        // Assert: what the CLI accepts ('default' or -1) and refuses (other negatives), the same through the API.
        Assert.Equal(accepted, created.Ok);
        if (accepted)
        {
            Assert.Null((await temp.Store.FindUpstreamAsync("pool", CancellationToken.None))!.HealthCheck.PassiveFailures);
        }
        else
        {
            Assert.Equal("health_check.passive_failures", created.Error!.Field);
            Assert.Contains("'-5'", created.Error.Message, StringComparison.Ordinal);
        }

        var cli = Record.Exception(() => ApiGate.Cli.Commands.UpstreamTargetOutput.ParsePassiveFailures(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(accepted, cli is null);
    }

    [Fact]
    public async Task UpdateUpstream_UrlOnly_BecomesTheSingleTarget()
    {
        await using var temp = await TempStore.CreateAsync();
        var service = new UpstreamService(temp.Store, TimeProvider.System);
        await service.CreateAsync((new UpstreamInput
        {
            Name = "Two", Targets = [new TargetInput { Url = "http://10.0.0.1" }, new TargetInput { Url = "http://10.0.0.2" }],
        }).Parsed(), CancellationToken.None);

        var updated = await service.UpdateAsync("two", (new UpstreamInput { Url = "http://10.0.0.9/" }).Parsed(), CancellationToken.None);

        Assert.True(updated.Ok, updated.Error?.ToString());
        var stored = await temp.Store.FindUpstreamAsync("two", CancellationToken.None);
        Assert.Equal("http://10.0.0.9", stored!.BaseUrl);
        Assert.Equal([new UpstreamTarget("http://10.0.0.9")], stored.Targets);
    }

    [Fact]
    public async Task ConfigValidate_StoredUpstreamWithBadBalancing_IsReported()
    {
        await using var temp = await TempStore.CreateAsync();
        await temp.Store.CreateUpstreamAsync(new UpstreamDefinition
        {
            Id = "up_1", Name = "Broken", Slug = "broken", BaseUrl = "http://10.0.0.1",
            Targets = [new UpstreamTarget("http://10.0.0.1", 0)], LbPolicy = LoadBalancingPolicy.Hash,
        }, CancellationToken.None);

        var problems = (await StoredConfigCheck.ValidateStoredAsync(temp.Store, CancellationToken.None)).Problems;

        Assert.Equal(2, problems.Count);
        Assert.Equal("upstream 'broken': targets[0].weight: weight 0 of 'http://10.0.0.1' is not between 1 and 1000", problems[0]);
        Assert.StartsWith("upstream 'broken': hash_on:", problems[1], StringComparison.Ordinal);
    }
}
