using System.Globalization;
using MudBlazor;

namespace ApiGate.Web.Shared;

/// <summary>
/// The charts' y-axis labels: whole numbers with thousands separators up to 9,999, then short (12k, 1.5M), so a
/// month of requests reads at a glance and a long label does not crowd the axis; fractions (milliseconds of
/// latency) keep one decimal.
/// </summary>
internal static class ChartAxes
{
    /// <summary>Bar chart options with the y-axis labels of <see cref="Label"/>.</summary>
    public static BarChartOptions Bars(bool legend = false) => new() { ShowLegend = legend, YAxisToStringFunc = Label };

    /// <summary>Line chart options with the y-axis labels of <see cref="Label"/>.</summary>
    public static LineChartOptions Lines(bool legend = true) => new() { ShowLegend = legend, YAxisToStringFunc = Label };

    /// <summary>One y-axis label: <c>950</c>, <c>2,500</c>, <c>12k</c>, <c>1.5M</c>, <c>2.5</c>.</summary>
    public static string Label(double value)
    {
        var size = Math.Abs(value);
        return size >= 1e9 ? Short(value / 1e9, "G")
            : size >= 1e6 ? Short(value / 1e6, "M")
            : size >= 1e4 ? Short(value / 1e3, "k")
            : value == Math.Floor(value) ? value.ToString("#,0", CultureInfo.InvariantCulture)
            : value.ToString("#,0.#", CultureInfo.InvariantCulture);
    }

    private static string Short(double value, string unit) => value.ToString("0.#", CultureInfo.InvariantCulture) + unit;
}
