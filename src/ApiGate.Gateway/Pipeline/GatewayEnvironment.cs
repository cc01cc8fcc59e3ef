using System.Collections.Frozen;

namespace ApiGate.Gateway.Pipeline;

/// <summary>Process-wide inputs of the pipeline: the clock, the environment variables transforms may read, shared transform services.</summary>
internal sealed class GatewayEnvironment
{
    private readonly FrozenDictionary<string, string> _allowedVariables;

    /// <param name="allowList">Names from <c>APIGATE_TRANSFORM_ENV_ALLOW</c>; only these are ever readable as <c>${env.NAME}</c>.</param>
    public GatewayEnvironment(TimeProvider timeProvider, IEnumerable<string> allowList, Transforms.ResponseBodyTransformer responseBodies)
    {
        TimeProvider = timeProvider;
        ResponseBodies = responseBodies;
        _allowedVariables = allowList
            .Select(name => (name, value: System.Environment.GetEnvironmentVariable(name)))
            .Where(p => p.value is not null)
            .ToFrozenDictionary(p => p.name, p => p.value!, StringComparer.Ordinal);
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>Response body transforms (per-request transformers reach shared services through here).</summary>
    public Transforms.ResponseBodyTransformer ResponseBodies { get; }

    public string? GetAllowedEnvironmentVariable(string name) => _allowedVariables.GetValueOrDefault(name);
}
