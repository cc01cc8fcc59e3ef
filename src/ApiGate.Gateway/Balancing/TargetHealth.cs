namespace ApiGate.Gateway.Balancing;

/// <summary>Where a target stands. Only <see cref="Healthy"/> targets are chosen for ordinary requests.</summary>
internal enum TargetHealth
{
    /// <summary>Takes traffic (also the state of a new target: innocent until proven otherwise).</summary>
    Healthy,
    /// <summary>Failed its active checks; takes traffic again after enough successful probes.</summary>
    Unhealthy,
    /// <summary>Failed too many requests in a row; left out until its cool-down ends.</summary>
    Ejected,
    /// <summary>Cool-down over and no active checks: exactly one request is let through to test it.</summary>
    Trial,
}
