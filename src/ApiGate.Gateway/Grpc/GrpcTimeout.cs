using System.Globalization;

namespace ApiGate.Gateway.Grpc;

/// <summary>
/// The <c>grpc-timeout</c> request header: at most eight digits and a unit — <c>H</c> hours, <c>M</c> minutes,
/// <c>S</c> seconds, <c>m</c> milliseconds, <c>u</c> microseconds, <c>n</c> nanoseconds.
/// </summary>
internal static class GrpcTimeout
{
    public const string Header = "grpc-timeout";

    private const long MaxValue = 99_999_999;

    /// <summary>Reads a header value; false when it is not one (a value the gateway then replaces with its own).</summary>
    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length is < 2 or > 9)
        {
            return false;
        }

        long amount = 0;
        for (var i = 0; i < value.Length - 1; i++)
        {
            if (!char.IsAsciiDigit(value[i]))
            {
                return false;
            }

            amount = (amount * 10) + (value[i] - '0');
        }

        timeout = value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => TimeSpan.MinValue,
        };
        return timeout != TimeSpan.MinValue;
    }

    /// <summary>
    /// A header value for <paramref name="timeout"/>, rounded down to whole milliseconds (at least one), so the upstream's
    /// deadline falls no later than the gateway's; whole seconds or hours when milliseconds need more than eight digits.
    /// </summary>
    public static string Format(TimeSpan timeout)
    {
        var milliseconds = Math.Max(1, (long)timeout.TotalMilliseconds);
        if (milliseconds <= MaxValue)
        {
            return milliseconds.ToString(CultureInfo.InvariantCulture) + "m";
        }

        var seconds = milliseconds / 1000;
        return seconds <= MaxValue
            ? seconds.ToString(CultureInfo.InvariantCulture) + "S"
            : Math.Min(seconds / 3600, MaxValue).ToString(CultureInfo.InvariantCulture) + "H";
    }
}
