namespace ApiGate.Core.Upstreams;

/// <summary>How a request picks one of an upstream's healthy targets (SPEC §6.4). Wire names are snake_case.</summary>
public enum LoadBalancingPolicy
{
    /// <summary>Smooth weighted round robin: exactly each target's share of every cycle of requests.</summary>
    RoundRobin,
    /// <summary>The target with the fewest requests in flight relative to its weight.</summary>
    LeastRequests,
    /// <summary>Two targets drawn at random (by weight); the one with fewer requests in flight relative to weight wins.</summary>
    PowerOfTwo,
    /// <summary>A target drawn at random, in proportion to weight.</summary>
    Random,
    /// <summary>The first healthy target in list order (failover).</summary>
    FirstHealthy,
    /// <summary>Consistent hashing of a header, the API key id or the client IP (stickiness).</summary>
    Hash,
}
