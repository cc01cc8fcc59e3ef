using ApiGate.Web.Shared;
using MudBlazor;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The charts' y-axis labels (console dashboard and usage, portal dashboard): short and separated, never raw digits.</summary>
public sealed class ChartAxesTests
{
    [Theory]
    [InlineData(0, "0")]
    [InlineData(950, "950")]
    [InlineData(2_500, "2,500")]
    [InlineData(9_999, "9,999")]
    [InlineData(10_000, "10k")]
    [InlineData(12_345, "12.3k")]
    [InlineData(999_000, "999k")]
    [InlineData(1_500_000, "1.5M")]
    [InlineData(2_000_000_000, "2G")]
    [InlineData(2.5, "2.5")]
    [InlineData(1_234.56, "1,234.6")]
    [InlineData(-3_000, "-3,000")]
    public void Label_Value_ReadsShortWithSeparators(double value, string expected)
    {
        // Act
        var label = ChartAxes.Label(value);

        // Assert
        Assert.Equal(expected, label);
    }

    [Fact]
    public void Options_BarsAndLines_LabelTheirYAxisSoAndSpaceTicksForTheLargestValue()
    {
        // Arrange: five requests on the busiest day (the y-axis read "0" and "20" alone before), and a second series
        List<ChartSeries<double>> series = [new() { Name = "a", Data = new double[] { 0, 3, 5 } }, new() { Name = "b", Data = new double[] { 62, 1 } }];

        // Act
        var bars = ChartAxes.Bars(series.Take(1));
        var lines = ChartAxes.Lines(series);

        // Assert
        Assert.Equal("12.3k", bars.YAxisToStringFunc!(12_345));
        Assert.Equal("12.3k", lines.YAxisToStringFunc!(12_345));
        Assert.False(bars.ShowLegend);
        Assert.True(lines.ShowLegend);
        Assert.Equal(2, bars.YAxisTicks);
        Assert.Equal(20, lines.YAxisTicks);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(double.NaN, 1)]
    [InlineData(0.4, 1)]
    [InlineData(4, 1)]
    [InlineData(5, 2)]
    [InlineData(8, 2)]
    [InlineData(9, 5)]
    [InlineData(20, 5)]
    [InlineData(21, 10)]
    [InlineData(62, 20)]
    [InlineData(1_000, 500)]
    [InlineData(1_001, 500)]
    [InlineData(12_345, 5_000)]
    [InlineData(2_000_001, 1_000_000)]
    [InlineData(1e12, int.MaxValue)]
    public void Step_LargestValue_FourToEightTicksAtOneTwoOrFiveTimesAPowerOfTen(double largest, int expected)
    {
        // Act
        var step = ChartAxes.Step(largest);

        // Assert
        Assert.Equal(expected, step);
    }
}
