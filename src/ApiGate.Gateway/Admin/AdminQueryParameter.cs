namespace ApiGate.Gateway.Admin;

/// <summary>Endpoint metadata: a query parameter the endpoint reads itself (for openapi.json).</summary>
internal sealed record AdminQueryParameter(string Name, bool Integer, bool Required, string Description);
