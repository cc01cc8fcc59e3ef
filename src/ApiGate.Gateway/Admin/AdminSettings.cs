using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApiGate.Gateway.Hosting;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// The running server's effective settings (<see cref="GatewayOptions"/>), for <c>GET /settings</c>: every option by
/// its snake_case name, so options added later appear without changes here. Secrets are never shown: the secret key
/// and any option whose name says it holds a secret read <c>(set)</c> or empty, and passwords in DSNs and URLs are
/// masked.
/// </summary>
internal static partial class AdminSettings
{
    private static readonly string[] SecretWords = ["Secret", "Password", "Token", "Credential", "Headers"];

    public static IReadOnlyDictionary<string, object?> Of(GatewayOptions options)
    {
        var settings = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in typeof(GatewayOptions).GetProperties())
        {
            if (property.GetIndexParameters().Length > 0 || !property.CanRead)
            {
                continue;
            }

            var name = JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            settings[name] = property.GetValue(options) switch
            {
                string text when SecretWords.Any(w => property.Name.Contains(w, StringComparison.Ordinal)) => text.Length > 0 ? "(set)" : "",
                string text => Mask(text),
                TimeSpan span => span.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms",
                null => null,
                var other when other.GetType().IsPrimitive || other is decimal => other,
                var other => other.ToString(),
            };
        }

        return settings;
    }

    /// <summary>
    /// Masks passwords in connection strings (<c>Password=…</c>) and the whole user info of URLs (<c>user:pw@</c>,
    /// <c>:pw@</c>, a password containing <c>@</c>): everything between <c>://</c> and the last <c>@</c> before the path.
    /// </summary>
    private static string Mask(string value) => UrlUserInfo().Replace(DsnPassword().Replace(value, "$1=***"), "://***@");

    [GeneratedRegex("(?i)(password|pwd)=[^;]*")]
    private static partial Regex DsnPassword();

    [GeneratedRegex("://[^/]*@")]
    private static partial Regex UrlUserInfo();
}
