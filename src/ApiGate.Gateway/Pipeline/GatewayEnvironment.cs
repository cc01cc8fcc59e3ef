using System.Collections.Frozen;

namespace ApiGate.Gateway.Pipeline;

/// <summary>Process-wide inputs of the pipeline: the clock, the environment variables transforms may read, shared transform services.</summary>
internal sealed class GatewayEnvironment
{
    private readonly FrozenDictionary<string, string> _allowedVariables;

    /// <param name="allowList">Names from <c>APIGATE_TRANSFORM_ENV_ALLOW</c>; only these are ever readable as <c>${env.NAME}</c>.</param>
    /// <param name="keyPrefix"><c>APIGATE_AUTH_KEY_PREFIX</c>: how an API key is recognised wherever it appears.</param>
    /// <param name="queryKeysAllowed"><c>APIGATE_AUTH_ALLOW_QUERY_KEY</c>.</param>
    public GatewayEnvironment(TimeProvider timeProvider, IEnumerable<string> allowList,
        string keyPrefix, bool queryKeysAllowed)
    {
        TimeProvider = timeProvider;
        KeyPrefix = keyPrefix;
        QueryKeysAllowed = queryKeysAllowed;
        _allowedVariables = allowList
            .Select(name => (name, value: System.Environment.GetEnvironmentVariable(name)))
            .Where(p => p.value is not null)
            .ToFrozenDictionary(p => p.name, p => p.value!, StringComparer.Ordinal);
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>The API key prefix (<see cref="Identity.Credentials"/>).</summary>
    public string KeyPrefix { get; }

    /// <summary>Whether the <c>api_key</c> query parameter is a credential on every request.</summary>
    public bool QueryKeysAllowed { get; }

    /// <summary>True when an Authorization value carries an API key (never forwarded, never shown to expressions).</summary>
    public bool IsKeyAuthorization(string? value) => Identity.Credentials.IsApiKeyAuthorization(value, KeyPrefix);

    /// <summary>True when an <c>api_key</c> query value is a credential.</summary>
    public bool IsKeyQueryValue(string? value) => Identity.Credentials.IsApiKeyQueryValue(value, KeyPrefix, QueryKeysAllowed);


    public string? GetAllowedEnvironmentVariable(string name) => _allowedVariables.GetValueOrDefault(name);
}
