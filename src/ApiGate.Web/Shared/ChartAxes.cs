using System.Globalization;
using MudBlazor;

namespace ApiGate.Web.Shared;

/// <summary>
/// The charts' y-axis labels: whole numbers with thousands separators up to 9,999, then short (12k, 1.5M), so a
/// month of requests reads at a glance and a long label does not crowd the axis; fractions (milliseconds of
/// latency) keep one decimal. The ticks are spaced for the chart's largest value (<see cref="Step"/>): four to eight
/// of them, at 1, 2 or 5 times a power of ten, so a chart of five requests is not drawn against a lone "20".
/// </summary>
internal static class ChartAxes
{
    /// <summary>Bar chart options for <paramref name="series"/>: the y-axis labels of <see cref="Label"/>, ticks spaced by <see cref="Step"/>.</summary>
    public static BarChartOptions Bars(IEnumerable<ChartSeries<double>> series, bool legend = false) =>
        new() { ShowLegend = legend, YAxisToStringFunc = Label, YAxisTicks = Step(Largest(series)) };

    /// <summary>Line chart options for <paramref name="series"/>: the y-axis labels of <see cref="Label"/>, ticks spaced by <see cref="Step"/>.</summary>
    public static LineChartOptions Lines(IEnumerable<ChartSeries<double>> series, bool legend = true) =>
        new() { ShowLegend = legend, YAxisToStringFunc = Label, YAxisTicks = Step(Largest(series)) };

    /// <summary>
    /// The spacing of the y-axis ticks for a chart whose largest value is <paramref name="largest"/>: the smallest of
    /// 1, 2, 5, 10, 20, 50, … that gives at most four steps up to it (so four to eight ticks); 1 at least, as the chart
    /// takes whole steps only.
    /// </summary>
    public static int Step(double largest)
    {
        if (!(largest > 4))
        {
            return 1;
        }

        var quarter = largest / 4;
        var power = Math.Pow(10, Math.Floor(Math.Log10(quarter)));
        var scaled = quarter / power;
        var step = (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
        return step >= int.MaxValue ? int.MaxValue : (int)step;
    }

    private static double Largest(IEnumerable<ChartSeries<double>> series)
    {
        var largest = 0.0;
        foreach (var one in series)
        {
            foreach (var value in one.Data.Values)
            {
                largest = Math.Max(largest, value);
            }
        }

        return largest;
    }

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
