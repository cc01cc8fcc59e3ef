using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Tests.Observability;

public sealed class LabelValuesTests
{
    [Theory]
    [InlineData(101, "1xx")]
    [InlineData(200, "2xx")]
    [InlineData(299, "2xx")]
    [InlineData(304, "3xx")]
    [InlineData(401, "4xx")]
    [InlineData(499, "4xx")]
    [InlineData(500, "5xx")]
    [InlineData(599, "5xx")]
    [InlineData(0, "other")]
    [InlineData(600, "other")]
    public void StatusClass_OfStatus_IsItsHundreds(int status, string expected) => Assert.Equal(expected, StatusClasses.Of(status));

    [Theory]
    [InlineData("GET", "GET")]
    [InlineData("get", "GET")]
    [InlineData("POST", "POST")]
    [InlineData("PATCH", "PATCH")]
    [InlineData("OPTIONS", "OPTIONS")]
    [InlineData("CONNECT", "CONNECT")]
    [InlineData("PROPFIND", "OTHER")]
    [InlineData("BREW", "OTHER")]
    [InlineData("", "OTHER")]
    public void Method_Normalize_KeepsStandardMethodsOnly(string method, string expected) => Assert.Equal(expected, HttpMethodNames.Normalize(method));

    [Fact]
    public void PrometheusText_Parse_ReadsLabelsEscapesAndSpecialValues()
    {
        var text = PrometheusText.Parse(
            "# TYPE x_total counter\nx_total{a=\"1\",b=\"q\\\"uote\"} 3\nx_total{a=\"2\"} 4.5\ny{} 7\nz_bucket{le=\"+Inf\"} +Inf\n");

        Assert.Equal("counter", text.Types["x_total"]);
        Assert.Equal(7.5, text.Sum("x_total"));
        Assert.Equal(3, text.Sum("x_total", ("b", "q\"uote")));
        Assert.Equal(4.5, text.Sum("x_total", ("a", "2"), ("b", "")));
        Assert.Equal(7, text.Sum("y"));
        Assert.Equal(double.PositiveInfinity, text.Sum("z_bucket", ("le", "+Inf")));
    }
}
