namespace ApiGate.Gateway.Errors;

/// <summary>Response headers the gateway itself decides (limits, request id); an error response keeps them and drops the rest.</summary>
internal static class GatewayHeaders
{
    public static bool IsGatewayHeader(string name) =>
        name.StartsWith("X-RateLimit-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Quota-", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Retry-After", StringComparison.OrdinalIgnoreCase) || name.Equals("X-Request-ID", StringComparison.OrdinalIgnoreCase);
}
