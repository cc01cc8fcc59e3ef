namespace ApiGate.Gateway.Admin;

/// <summary>Endpoint metadata: the input record the endpoint reads from its body (for openapi.json).</summary>
internal sealed record AdminRequestBody(Type InputType);

/// <summary>Endpoint metadata: a query parameter the endpoint reads itself (for openapi.json).</summary>
internal sealed record AdminQueryParameter(string Name, bool Integer, bool Required, string Description);
