namespace ApiGate.Gateway.Errors;

/// <summary>
/// Response headers the gateway itself decides (limits, request id, a CORS route's <c>Access-Control-*</c> and
/// <c>Vary</c>); an error response keeps them and drops the rest, so a browser can read the gateway's errors.
/// </summary>
internal static class GatewayHeaders
{
    public static bool IsGatewayHeader(string name) =>
        name.StartsWith("X-RateLimit-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Quota-", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Retry-After", StringComparison.OrdinalIgnoreCase) || name.Equals("X-Request-ID", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase) || name.Equals("Vary", StringComparison.OrdinalIgnoreCase);
}
