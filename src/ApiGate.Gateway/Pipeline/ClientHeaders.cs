using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>The limit headers returned to clients on authenticated routes (SPEC §1.1).</summary>
internal static class ClientHeaders
{
    /// <summary>ISO 8601 quota reset time: it changes once a month.</summary>
    private static readonly LastFormatted<DateTimeOffset> QuotaReset =
        new(static at => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));

    /// <summary>Unix seconds of a bucket's reset: the same for every request within a second.</summary>
    private static readonly LastFormatted<long> RateReset = new(static seconds => seconds.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The text of the last value formatted, kept because consecutive requests nearly always ask for the same one;
    /// value and text are swapped as one reference, so readers never see a mismatched pair.
    /// </summary>
    private sealed class LastFormatted<T>(Func<T, string> format)
        where T : IEquatable<T>
    {
        private Entry? _last;

        public string Get(T value)
        {
            var last = Volatile.Read(ref _last);
            if (last is not null && last.Value.Equals(value))
            {
                return last.Text;
            }

            var text = format(value);
            Volatile.Write(ref _last, new Entry(value, text));
            return text;
        }

        private sealed record Entry(T Value, string Text);
    }

    /// <summary>Writes X-RateLimit-* and X-Quota-* for the decisions taken (overwriting any upstream values).</summary>
    public static void Apply(IHeaderDictionary headers, GatewayRequest request)
    {
        if (request.RateLimit is { } rate)
        {
            headers["X-RateLimit-Limit"] = request.Caller?.Plan.RateLimitHeader ?? rate.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = rate.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = RateReset.Get(rate.ResetAt.ToUnixTimeSeconds());
        }

        if (request.Quota is { } quota)
        {
            if (request.Lease is { Settled: false } && !request.ReachedBackend)
            {
                // Answered before any backend saw it (nothing forwarded, or no target took the connection): the
                // admitted unit is given back as the request unwinds (QuotaLease).
                quota = quota with { Used = quota.Used - 1 };
            }

            if (quota.Limit > 0)
            {
                headers["X-Quota-Limit"] = request.Caller?.Plan.QuotaLimitHeader ?? quota.Limit.ToString(CultureInfo.InvariantCulture);
                headers["X-Quota-Remaining"] = quota.Remaining.ToString(CultureInfo.InvariantCulture);
            }
            else
            {
                // An unlimited plan has no limit to state, and the gateway's count below is the quota's one set of
                // headers: an upstream's own limit beside it would read as this quota's (X-Quota-Remaining: 0, spent).
                headers.Remove("X-Quota-Limit");
                headers.Remove("X-Quota-Remaining");
            }

            headers["X-Quota-Used"] = quota.Used.ToString(CultureInfo.InvariantCulture);
            headers["X-Quota-Reset"] = QuotaReset.Get(quota.ResetAt);
        }
    }
}
