namespace ApiGate.Web.Admin;

/// <summary>How values are shown on the console's pages.</summary>
internal static class Display
{
    /// <summary>A URL without any user:password part (an upstream URL may carry credentials; pages never show them).</summary>
    public static string Url(string url) => Core.Text.UrlUserInfo.Mask(url);

    /// <summary>The longest label a chart's axis shows whole: an email address of ordinary length, about a bar's width on a dashboard card.</summary>
    public const int ChartLabelLength = 24;

    /// <summary>
    /// A chart axis label: a name longer than <see cref="ChartLabelLength"/> is cut short with an ellipsis, since an
    /// SVG label does not wrap and a long one would run over its neighbours and out of its card. The whole name is
    /// in the table under the chart, or on the user's or route's own page.
    /// </summary>
    public static string ChartLabel(string label) =>
        label.Length <= ChartLabelLength ? label : label[..(char.IsHighSurrogate(label[ChartLabelLength - 2]) ? ChartLabelLength - 2 : ChartLabelLength - 1)] + "…";

    public static string Time(DateTimeOffset? at) => at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) : "–";
}
