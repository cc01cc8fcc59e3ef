using System.Globalization;

namespace ApiGate.Core.Text;

/// <summary>Durations as operators write them: <c>30s</c>, <c>1500ms</c>, <c>2m</c>, <c>1h</c>, or a bare number of milliseconds.</summary>
public static class Durations
{
    /// <summary>The longest <see cref="TryParseRetention"/> accepts.</summary>
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(36_500);

    /// <summary>Parses a timeout or interval: at most <see cref="int.MaxValue"/> milliseconds (about 24 days, what timers accept), no days.</summary>
    public static bool TryParse(string? text, out TimeSpan value) => TryParse(text, TimeSpan.FromMilliseconds(int.MaxValue), days: false, out value);

    /// <summary>Parses a retention period: the units above and days (<c>7d</c>), up to <see cref="MaxRetention"/>.</summary>
    public static bool TryParseRetention(string? text, out TimeSpan value) => TryParse(text, MaxRetention, days: true, out value);

    private static bool TryParse(string? text, TimeSpan max, bool days, out TimeSpan value)
    {
        value = default;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var (number, unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], 1.0),
            _ when text.EndsWith('s') || text.EndsWith('S') => (text[..^1], 1000.0),
            _ when text.EndsWith('m') || text.EndsWith('M') => (text[..^1], 60_000.0),
            _ when text.EndsWith('h') || text.EndsWith('H') => (text[..^1], 3_600_000.0),
            _ when days && (text.EndsWith('d') || text.EndsWith('D')) => (text[..^1], 86_400_000.0),
            _ => (text, 1.0),
        };

        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0 || !double.IsFinite(amount))
        {
            return false;
        }

        var ms = amount * unit;
        if (ms > max.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }
}
