namespace ApiGate.Gateway.Balancing;

/// <summary>What one forwarding attempt says about the target's health.</summary>
internal enum TargetOutcome
{
    /// <summary>Nothing either way (the client went away, or the failure was the client's).</summary>
    Neutral,
    /// <summary>A response below 500.</summary>
    Success,
    /// <summary>A transport failure toward the target, a timeout, or a 5xx response.</summary>
    Failure,
}
