namespace ApiGate.Web.Admin;

/// <summary>How values are shown on the console's pages.</summary>
internal static class Display
{
    /// <summary>A URL without any user:password part (an upstream URL may carry credentials; pages never show them).</summary>
    public static string Url(string url) => Core.Text.UrlUserInfo.Mask(url);

    public static string Time(DateTimeOffset? at) => at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) : "–";
}
