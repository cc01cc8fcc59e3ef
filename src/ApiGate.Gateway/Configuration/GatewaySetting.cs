using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApiGate.Core.Text;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// One setting of <see cref="GatewayOptions"/>: its dotted key (the path in <c>apigate.yaml</c>), its environment
/// variable and the option it sets. The value's type is the option's: text, whole number, true/false or a duration
/// (which must carry its unit). Listed once in <see cref="GatewaySettings.All"/>.
/// </summary>
internal sealed partial class GatewaySetting
{
    private readonly PropertyInfo _property;
    private readonly Func<string, string>? _normalize;
    private readonly bool _longDuration;
    private readonly bool _zeroAllowed;
    private readonly bool _userInfoToLastAt;

    /// <param name="longDuration">A retention period: days allowed (<c>7d</c>), beyond the ~24 days timers accept.</param>
    /// <param name="list">A comma-separated list (<c>RS256,ES256</c>), which the config file may also give as a YAML sequence.</param>
    /// <param name="zeroAllowed">A duration for which zero means something (no tolerance): <c>0s</c> is accepted, not refused.</param>
    /// <param name="filePath">A file path: trimmed, and a leading <c>~</c> made the home directory (<see cref="HomePath"/>).</param>
    /// <param name="userInfoToLastAt">
    /// A URL whose user info is masked up to the last <c>@</c>, not only up to the first <c>/</c>: the Redis URL's parser
    /// reads <c>redis://:pass/word@host</c> so (a base64 password holds <c>/</c>), and a PostgreSQL URL with such an
    /// unencoded password, refused at start, is still shown by <c>config show</c>.
    /// </param>
    public GatewaySetting(
        string key, string environmentVariable, string option, bool secret = false, string? note = null, Func<string, string>? normalize = null,
        bool longDuration = false, bool userInfoToLastAt = false, bool zeroAllowed = false, bool list = false, bool filePath = false)
    {
        CommaList = list;
        FilePath = filePath;
        _longDuration = longDuration;
        _zeroAllowed = zeroAllowed;
        _userInfoToLastAt = userInfoToLastAt;
        _property = typeof(GatewayOptions).GetProperty(option) ?? throw new ArgumentException($"GatewayOptions has no option {option}", nameof(option));
        _normalize = filePath ? value => HomePath.Expand(value.Trim()) : normalize;
        Key = key;
        ConfigurationKey = key.Replace('.', ':');
        EnvironmentVariable = environmentVariable;
        AdminName = JsonNamingPolicy.SnakeCaseLower.ConvertName(option);
        Secret = secret;
        Note = note;
    }

    /// <summary>The dotted key, e.g. <c>server.port</c>: the YAML path and the name in messages and <c>config show</c>.</summary>
    public string Key { get; }

    /// <summary>The key in the <see cref="Microsoft.Extensions.Configuration.IConfiguration"/> (<c>server:port</c>).</summary>
    public string ConfigurationKey { get; }

    /// <summary>The environment variable, e.g. <c>APIGATE_SERVER_PORT</c>.</summary>
    public string EnvironmentVariable { get; }

    /// <summary>The member name in the admin API's <c>GET /settings</c>: the option's snake_case name (<c>port</c>).</summary>
    public string AdminName { get; }

    /// <summary>Shown only as <c>(set)</c> or empty.</summary>
    public bool Secret { get; }

    /// <summary>
    /// Whether <c>apigate config set</c> may keep it in the store: not the settings that say where the store is and how
    /// to open it (<c>database.*</c>), which must be known before it is read, nor secrets, which the store would hold in
    /// plain text next to what they protect.
    /// </summary>
    public bool Storable => !Secret && !Key.StartsWith("database.", StringComparison.Ordinal);

    /// <summary>Whether the value is a comma-separated list (<c>jwt.algorithms</c>, <c>server.trusted_proxies</c>).</summary>
    public bool CommaList { get; }

    /// <summary>Whether the value is a file path (<c>tls.cert_file</c>, <c>usage.export</c>), read with its leading <c>~</c> made the home directory.</summary>
    public bool FilePath { get; }

    /// <summary>A remark for <c>config show</c>, e.g. that nothing reads the setting yet; null when there is none.</summary>
    public string? Note { get; }

    /// <summary>The option's current value.</summary>
    public object? Get(GatewayOptions options) => _property.GetValue(options);

    /// <summary>Parses <paramref name="text"/> strictly for the option's type and sets it.</summary>
    /// <exception cref="ArgumentException">The text is not a value of the setting's type; the message says why, without the key.</exception>
    public void Apply(GatewayOptions options, string text)
    {
        var value = Normalize(text);
        var type = Nullable.GetUnderlyingType(_property.PropertyType) ?? _property.PropertyType;
        object parsed = type == typeof(string) ? value
            : type == typeof(int) ? checked((int)WholeNumber(value, int.MinValue, int.MaxValue))
            : type == typeof(long) ? WholeNumber(value, long.MinValue, long.MaxValue)
            : type == typeof(bool) ? Boolean(value)
            : type == typeof(TimeSpan) ? Duration(value, _longDuration, _zeroAllowed)
            : type == typeof(double) ? Fraction(value)
            : throw new InvalidOperationException($"setting {Key} has an option of unsupported type {type.Name}");
        _property.SetValue(options, parsed);
    }

    /// <summary><paramref name="text"/> as the setting reads it before parsing (trimmed, lower-cased, a path's <c>~</c> expanded, as the setting does).</summary>
    public string Normalize(string text) => _normalize is null ? text : _normalize(text);

    /// <summary>The option's value as it would be written in a setting (<c>30s</c>, <c>250ms</c>, <c>true</c>, <c>8080</c>).</summary>
    public string Format(GatewayOptions options) => Get(options) switch
    {
        TimeSpan span => FormatDuration(span, _longDuration),
        bool flag => flag ? "true" : "false",
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        var other => other?.ToString() ?? "",
    };

    /// <summary>
    /// The value as it may be shown (<c>config show</c>, <c>GET /settings</c>): a secret reads <c>(set)</c> or empty;
    /// in any other text, passwords in connection strings (<c>Password=…</c>) and URL query parameters
    /// (<c>?password=…</c>, also with its name percent-encoded) and the whole user info of URLs (<c>user:pw@</c>,
    /// <c>:pw@</c>, a password containing <c>@</c>) read <c>***</c>.
    /// </summary>
    public string Redact(string value) =>
        Secret ? (value.Length > 0 ? "(set)" : "")
        : (_userInfoToLastAt ? UrlUserInfoToLastAt() : UrlUserInfo())
            .Replace(QueryParameter().Replace(DsnPassword().Replace(value, "${key}=***"), MaskPassword), "://***@");

    /// <summary>
    /// A query parameter with its value masked when its name, percent-decoded as the store decodes it (<c>pass%77ord</c>
    /// is <c>password</c>), is one of the Npgsql keywords of a password; else the parameter as it is.
    /// </summary>
    private static string MaskPassword(Match parameter)
    {
        var name = parameter.Groups["name"].Value;
        if (name.Contains('%', StringComparison.Ordinal))
        {
            try
            {
                name = Uri.UnescapeDataString(name);
            }
            catch (UriFormatException)
            {
                // Left as written: the store cannot decode it either.
            }
        }

        return PasswordKeywords.Contains(name.Trim()) ? parameter.Groups["key"].Value + "=***" : parameter.Value;
    }

    private static readonly System.Collections.Frozen.FrozenSet<string> PasswordKeywords =
        System.Collections.Frozen.FrozenSet.ToFrozenSet(["password", "pwd", "psw", "sslpassword", "ssl password"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A duration as the docs spell it, and as the setting takes it back: in the largest unit it is a whole number of —
    /// days from two days on (a day is <c>24h</c>) for a setting that takes days (<paramref name="days"/>), hours,
    /// minutes from two minutes on (a minute is <c>60s</c>), seconds, else milliseconds.
    /// </summary>
    private static string FormatDuration(TimeSpan span, bool days) =>
        days && span >= TimeSpan.FromDays(2) && span.Ticks % TimeSpan.TicksPerDay == 0 ? Whole(span.Ticks / TimeSpan.TicksPerDay, "d")
        : span >= TimeSpan.FromHours(1) && span.Ticks % TimeSpan.TicksPerHour == 0 ? Whole(span.Ticks / TimeSpan.TicksPerHour, "h")
        : span >= TimeSpan.FromMinutes(2) && span.Ticks % TimeSpan.TicksPerMinute == 0 ? Whole(span.Ticks / TimeSpan.TicksPerMinute, "m")
        : span.Ticks % TimeSpan.TicksPerSecond == 0 ? Whole(span.Ticks / TimeSpan.TicksPerSecond, "s")
        : span.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms";

    private static string Whole(long count, string unit) => count.ToString(CultureInfo.InvariantCulture) + unit;

    // A NUL is refused first: long.TryParse and double.TryParse take trailing NULs for the end of the text, so a config
    // file's "8080\0" was read as 8080.
    private static long WholeNumber(string value, long min, long max) =>
        !value.Contains('\0', StringComparison.Ordinal)
        && long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"'{value}' is not a whole number");

    private static double Fraction(string value) =>
        !value.Contains('\0', StringComparison.Ordinal)
        && double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n)
            ? n
            : throw new ArgumentException($"'{value}' is not a number");

    private static bool Boolean(string value) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new ArgumentException($"'{value}' is not true or false"),
    };

    /// <summary>
    /// A duration needs its unit: <c>APIGATE_UPSTREAM_TIMEOUT=30</c> would otherwise quietly mean 30 ms or 30 days. And it
    /// is a whole number of milliseconds (<c>0.5ms</c>, <c>1.0001s</c> refused): timers and the fields durations stand in
    /// for (an upstream's timeout) count whole milliseconds, so a fraction would be cut off unseen.
    /// </summary>
    private static TimeSpan Duration(string value, bool longDuration, bool zeroAllowed)
    {
        var text = value.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            throw new ArgumentException(bare < 0 || (bare == 0 && !zeroAllowed)
                ? $"'{text}' is not a duration: it must be more than zero, with a unit, e.g. {(longDuration ? "7d or 12h" : "30s or 1500ms")}"
                : bare == 0
                ? $"'{text}' has no unit; write it with one, e.g. 0s"
                : longDuration
                ? $"'{text}' has no unit; write it with one, e.g. {text}d (days) or {text}h (hours)"
                : $"'{text}' has no unit; write it with one, e.g. {text}s (seconds) or {text}ms (milliseconds)");
        }

        if ((longDuration ? Durations.TryParseRetention(text, out var d, out var whole) : Durations.TryParse(text, out d, out whole)) && (d > TimeSpan.Zero || (zeroAllowed && d == TimeSpan.Zero)))
        {
            return whole
                ? d
                : throw new ArgumentException($"'{text}' has a fraction of a millisecond; it must be a whole number of milliseconds, e.g. 1ms or 1500ms");
        }

        throw new ArgumentException(WhyNotADuration(text, longDuration, zeroAllowed));
    }

    /// <summary>Why a value with a unit is refused: below zero, zero, a unit the setting does not take, or too long.</summary>
    private static string WhyNotADuration(string text, bool longDuration, bool zeroAllowed)
    {
        var units = longDuration ? "ms, s, m, h or d" : "ms, s, m or h";
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
        {
            unitStart--;
        }

        var unit = text[unitStart..].ToLowerInvariant();
        if (!decimal.TryParse(text[..unitStart], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            return longDuration ? $"'{text}' is not a duration such as 7d or 12h" : $"'{text}' is not a duration such as 30s or 1500ms";
        }

        if (amount < 0 || (amount == 0 && !zeroAllowed))
        {
            return $"'{text}' is {(amount < 0 ? "negative" : "zero")}; it must be {(zeroAllowed ? "zero or more" : "more than zero")}";
        }

        if (unit is not ("ms" or "s" or "m" or "h") && !(longDuration && unit == "d"))
        {
            return unit == "d"
                ? $"'{text}' is in days, which this setting does not take (it is at most about 24 days); use {units}"
                : $"'{text}' has the unit '{text[unitStart..]}', which is not one of {units}";
        }

        var milliseconds = amount * unit switch { "ms" => 1m, "s" => 1_000m, "m" => 60_000m, "h" => 3_600_000m, _ => 86_400_000m };
        if (milliseconds < 1m / TimeSpan.TicksPerMillisecond)
        {
            // Parsed, but less than one tick (100 ns): it is zero, not (as this said before) longer than the longest.
            return $"'{text}' is less than the shortest duration, 0.0001ms, so it is zero; it must be more than zero";
        }

        return longDuration
            ? $"'{text}' is longer than the longest accepted, {FormatDuration(Durations.MaxRetention, days: true)}"
            : $"'{text}' is longer than the longest accepted, {FormatDuration(Durations.MaxTimer, days: false)} (about 24 days)";
    }

    // A connection-string password as Npgsql reads it: any case, spaces around the key and '=', and a value that may be
    // quoted ("…" or '…', a doubled quote inside) and then hold ';'. The client key's passphrase (SSL Password,
    // SslPassword) is one too.
    [GeneratedRegex("""(?i)(?<=^|;)\s*(?<key>password|pwd|psw|ssl ?password)\s*=\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|[^;]*)""")]
    private static partial Regex DsnPassword();

    // A URL's query parameter, whose value is masked when it is a password (postgres://host/db?password=…, which the
    // store accepts as libpq does; any other Npgsql keyword too, so ?ssl%20password=… or ?sslpassword=…): MaskPassword.
    [GeneratedRegex("""(?<key>[?&](?<name>[^=&#]*))=[^&#]*""")]
    private static partial Regex QueryParameter();

    [GeneratedRegex("://[^/]*@")]
    private static partial Regex UrlUserInfo();

    [GeneratedRegex("://.*@", RegexOptions.Singleline)]
    private static partial Regex UrlUserInfoToLastAt();
}
