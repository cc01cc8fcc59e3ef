namespace ApiGate.Gateway.Observability;

/// <summary>What the metrics and the access log need to know about one finished request.</summary>
/// <param name="Route">Route slug; empty when no route matched.</param>
/// <param name="Upstream">Upstream slug; empty when the request never got one.</param>
/// <param name="ErrorCode">The SPEC §1.2 code when the gateway answered with its own error, else null.</param>
/// <param name="Target">The URL (without credentials) of the upstream target last tried; empty when none was.</param>
/// <param name="Attempts">Forwarding attempts: 0 when the request never reached the forwarder's send, 2 after a retry.</param>
internal readonly record struct RequestOutcome(
    string Route,
    string Upstream,
    string Method,
    int Status,
    double TotalSeconds,
    double UpstreamSeconds,
    string? ErrorCode,
    string Target,
    int Attempts);
