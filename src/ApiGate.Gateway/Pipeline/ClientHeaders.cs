using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>The limit headers returned to clients on authenticated routes (SPEC §1.1).</summary>
internal static class ClientHeaders
{
    private static FormattedReset? s_lastReset;

    /// <summary>ISO 8601 reset time; it only changes once a month, so the last one is kept (swapped as one reference).</summary>
    private static string FormatReset(DateTimeOffset at)
    {
        var last = Volatile.Read(ref s_lastReset);
        if (last is not null && last.At == at)
        {
            return last.Text;
        }

        var text = at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        Volatile.Write(ref s_lastReset, new FormattedReset(at, text));
        return text;
    }

    private sealed record FormattedReset(DateTimeOffset At, string Text);

    private static FormattedSeconds? s_lastRateReset;

    /// <summary>Unix seconds of a bucket's reset; the same for every request within a second, so the last one is kept.</summary>
    private static string FormatSeconds(long seconds)
    {
        var last = Volatile.Read(ref s_lastRateReset);
        if (last is not null && last.Seconds == seconds)
        {
            return last.Text;
        }

        var text = seconds.ToString(CultureInfo.InvariantCulture);
        Volatile.Write(ref s_lastRateReset, new FormattedSeconds(seconds, text));
        return text;
    }

    private sealed record FormattedSeconds(long Seconds, string Text);

    /// <summary>Writes X-RateLimit-* and X-Quota-* for the decisions taken (overwriting any upstream values).</summary>
    public static void Apply(IHeaderDictionary headers, GatewayRequest request)
    {
        if (request.RateLimit is { } rate)
        {
            headers["X-RateLimit-Limit"] = request.Caller?.Plan.RateLimitHeader ?? rate.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = rate.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = FormatSeconds(rate.ResetAt.ToUnixTimeSeconds());
        }

        if (request.Quota is { } quota)
        {
            if (request.Lease is { Settled: false } && request.Attempts == 0)
            {
                // Answered before any backend saw it: the admitted unit is given back as the request unwinds (QuotaLease).
                quota = quota with { Used = quota.Used - 1 };
            }

            if (quota.Limit > 0)
            {
                headers["X-Quota-Limit"] = request.Caller?.Plan.QuotaLimitHeader ?? quota.Limit.ToString(CultureInfo.InvariantCulture);
                headers["X-Quota-Remaining"] = quota.Remaining.ToString(CultureInfo.InvariantCulture);
            }

            headers["X-Quota-Used"] = quota.Used.ToString(CultureInfo.InvariantCulture);
            headers["X-Quota-Reset"] = FormatReset(quota.ResetAt);
        }
    }
}
