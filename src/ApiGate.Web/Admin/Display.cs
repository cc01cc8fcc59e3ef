namespace ApiGate.Web.Admin;

/// <summary>How values are shown on the console's pages.</summary>
internal static class Display
{
    /// <summary>A URL without any user:password part (an upstream URL may carry credentials; pages never show them).</summary>
    public static string Url(string url) => Core.Text.UrlUserInfo.Mask(url);

    /// <summary>The longest label a chart's axis shows whole: an email address of ordinary length, about a bar's width on a dashboard card.</summary>
    public const int ChartLabelLength = 24;

    /// <summary>The width of a bar chart's plot in the chart's own units (its view box is 700 wide, the plot 30 to 670).</summary>
    private const double PlotWidth = 640;

    /// <summary>The width a character of a 20-unit label (the size site.css draws them at) takes at most on average, with a margin for wide letters and <c>@</c>.</summary>
    private const double UnitsPerCharacter = 13.3;

    /// <summary>
    /// A chart axis label for one of <paramref name="bars"/> bars: a name longer than its share of the plot is cut short
    /// with an ellipsis (at most <see cref="ChartLabelLength"/> characters, 4 with ten bars), since an SVG label does not
    /// wrap and a long one would run over its neighbours and out of its card. The whole name is in the table under the
    /// chart, or on the user's or route's own page.
    /// </summary>
    public static string ChartLabel(string label, int bars = 1)
    {
        var length = Math.Clamp((int)((PlotWidth / Math.Max(1, bars) - 10) / UnitsPerCharacter), 4, ChartLabelLength);
        return label.Length <= length ? label : label[..(char.IsHighSurrogate(label[length - 2]) ? length - 2 : length - 1)] + "…";
    }

    /// <summary>
    /// Text an operator or a client wrote (a route's pattern, a name), as the access log shows a request path
    /// (<see cref="Core.Routing.RequestPaths.Visible"/>): invisible characters and ones that reorder the text around them
    /// (U+202E, U+200B, U+FEFF, …) written as their UTF-8 percent escapes, so a row cannot disguise itself or its
    /// neighbours in a table. Any other text is shown as it is.
    /// </summary>
    public static string Visible(string text) => Core.Routing.RequestPaths.Visible(text);

    public static string Time(DateTimeOffset? at) => at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) : "–";
}
