namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// Tests that measure something process-wide (the managed heap while streaming large bodies) run alone: other tests'
/// gateways allocating at the same time would be counted against them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideCollection
{
    public const string Name = "Process-wide measurements (not parallel)";
}
