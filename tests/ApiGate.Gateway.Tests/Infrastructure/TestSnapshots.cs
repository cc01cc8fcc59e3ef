using System.Collections.Frozen;
using ApiGate.Core.Identity;
using ApiGate.Core.RateLimiting;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Config snapshots built by hand, for the parts that read one without a running gateway.</summary>
internal static class TestSnapshots
{
    /// <summary>A snapshot with no routes whose only plan is <paramref name="plan"/> (a bucket of one token a second).</summary>
    public static ConfigSnapshot WithPlan(PlanDefinition plan) => new(
        1,
        RouteTable.Build([], _ => null),
        [],
        null,
        null,
        new Dictionary<string, PlanRuntime> { [plan.Id] = new(plan, new TokenBucketPolicy(1, 1), []) }.ToFrozenDictionary(),
        []);
}
