using ApiGate.Web.Shared;

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
    public void Options_BarsAndLines_LabelTheirYAxisSo()
    {
        // Act
        var bars = ChartAxes.Bars();
        var lines = ChartAxes.Lines();

        // Assert
        Assert.Equal("12.3k", bars.YAxisToStringFunc!(12_345));
        Assert.Equal("12.3k", lines.YAxisToStringFunc!(12_345));
        Assert.False(bars.ShowLegend);
        Assert.True(lines.ShowLegend);
    }
}
