using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>The limit headers returned to clients on authenticated routes (SPEC §1.1).</summary>
internal static class ClientHeaders
{
    /// <summary>Headers the gateway sets on responses; error documents keep them.</summary>
    public static bool IsGatewayHeader(string name) =>
        name.StartsWith("X-RateLimit-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Quota-", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Retry-After", StringComparison.OrdinalIgnoreCase) || name.Equals("X-Request-ID", StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes X-RateLimit-* and X-Quota-* for the decisions taken (overwriting any upstream values).</summary>
    public static void Apply(IHeaderDictionary headers, GatewayRequest request)
    {
        if (request.RateLimit is { } rate)
        {
            headers["X-RateLimit-Limit"] = rate.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = rate.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = rate.ResetAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        if (request.Quota is { } quota)
        {
            if (quota.Limit > 0)
            {
                headers["X-Quota-Limit"] = quota.Limit.ToString(CultureInfo.InvariantCulture);
                headers["X-Quota-Remaining"] = quota.Remaining.ToString(CultureInfo.InvariantCulture);
            }

            headers["X-Quota-Used"] = quota.Used.ToString(CultureInfo.InvariantCulture);
            headers["X-Quota-Reset"] = quota.ResetAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }
    }
}
