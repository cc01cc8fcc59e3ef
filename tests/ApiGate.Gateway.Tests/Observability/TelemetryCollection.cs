namespace ApiGate.Gateway.Tests.Observability;

/// <summary>
/// Metrics listeners subscribe to the <c>ApiGate</c> meter by name and activity listeners are process-wide, so these
/// tests run alone: another test's gateway would otherwise add to the counters or spans they assert on.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry (not parallel)";
}
