namespace ApiGate.Gateway.Admin;

/// <summary>Endpoint metadata: the input record the endpoint reads from its body (for openapi.json).</summary>
internal sealed record AdminRequestBody(Type InputType);
