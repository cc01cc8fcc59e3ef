using System.Globalization;

namespace ApiGate.Core.Text;

/// <summary>Durations as operators write them: <c>30s</c>, <c>1500ms</c>, <c>2m</c>, <c>1h</c>, or a bare number of milliseconds.</summary>
public static class Durations
{
    /// <summary>The longest <see cref="TryParseRetention"/> accepts.</summary>
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(36_500);

    /// <summary>The longest <see cref="TryParse(string?, out TimeSpan)"/> accepts: <see cref="int.MaxValue"/> milliseconds (about 24 days), what timers accept.</summary>
    public static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>Parses a timeout or interval: at most <see cref="MaxTimer"/>, no days.</summary>
    public static bool TryParse(string? text, out TimeSpan value) => TryParse(text, out value, out _);

    /// <summary>
    /// Parses like <see cref="TryParse(string?, out TimeSpan)"/> and says whether the value is a whole number of
    /// milliseconds, which a field stored in milliseconds (<c>timeout_ms</c>) needs: <c>0.4</c> (a bare number is
    /// milliseconds), <c>2.9ms</c> and <c>1.0005s</c> are not, and must be refused rather than cut to a whole number.
    /// </summary>
    public static bool TryParse(string? text, out TimeSpan value, out bool wholeMilliseconds)
    {
        var ok = TryParse(text, MaxTimer, days: false, out value, out var milliseconds);
        wholeMilliseconds = ok && milliseconds == decimal.Truncate(milliseconds);
        return ok;
    }

    /// <summary>Parses a retention period: the units above and days (<c>7d</c>), up to <see cref="MaxRetention"/>.</summary>
    public static bool TryParseRetention(string? text, out TimeSpan value) => TryParseRetention(text, out value, out _);

    /// <summary>Parses like <see cref="TryParseRetention(string?, out TimeSpan)"/> and says whether the value is a whole number of milliseconds.</summary>
    public static bool TryParseRetention(string? text, out TimeSpan value, out bool wholeMilliseconds)
    {
        var ok = TryParse(text, MaxRetention, days: true, out value, out var milliseconds);
        wholeMilliseconds = ok && milliseconds == decimal.Truncate(milliseconds);
        return ok;
    }

    /// <remarks>In decimal, so the text's digits are kept exactly (<c>0.29s</c> is 290 ms, not a hair less).</remarks>
    private static bool TryParse(string? text, TimeSpan max, bool days, out TimeSpan value, out decimal milliseconds)
    {
        value = default;
        milliseconds = 0;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var (number, unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], 1m),
            _ when text.EndsWith('s') || text.EndsWith('S') => (text[..^1], 1000m),
            _ when text.EndsWith('m') || text.EndsWith('M') => (text[..^1], 60_000m),
            _ when text.EndsWith('h') || text.EndsWith('H') => (text[..^1], 3_600_000m),
            _ when days && (text.EndsWith('d') || text.EndsWith('D')) => (text[..^1], 86_400_000m),
            _ => (text, 1m),
        };

        if (!decimal.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0
            || amount > (decimal)max.TotalMilliseconds / unit)
        {
            return false;
        }

        milliseconds = amount * unit;
        value = TimeSpan.FromTicks((long)(milliseconds * TimeSpan.TicksPerMillisecond));
        return true;
    }
}
