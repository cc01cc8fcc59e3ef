using ApiGate.Core.Management;

namespace ApiGate.Core.Tests.Management;

/// <summary>TargetInput.Parse: the CLI form URL[,weight=N] of one target.</summary>
public sealed class TargetInputParseTests
{
    [Theory]
    [InlineData("http://10.0.0.1:8080", "http://10.0.0.1:8080", null)]
    [InlineData("http://10.0.0.1:8080,weight=3", "http://10.0.0.1:8080", 3)]
    [InlineData("http://10.0.0.1:8080, Weight = 7", "http://10.0.0.1:8080", 7)]
    public void Parse_UrlAndOptionalWeight_ReadsBoth(string text, string url, int? weight)
    {
        var target = TargetInput.Parse(text);

        Assert.Equal(url, target.Url);
        Assert.Equal(weight, target.Weight);
    }

    [Theory]
    [InlineData("http://10.0.0.1:8080,weight=2,weight=3", "'http://10.0.0.1:8080,weight=2,weight=3' gives the weight twice")]
    [InlineData("http://10.0.0.1:8080,weight=x", "weight 'x' in 'http://10.0.0.1:8080,weight=x' is not a whole number")]
    [InlineData("http://10.0.0.1:8080,heavy", "'heavy' in 'http://10.0.0.1:8080,heavy' is not weight=N")]
    public void Parse_WeightRepeatedOrNotANumber_RefusedSayingWhy(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => TargetInput.Parse(text));

        Assert.Equal(expected, error.Message);
    }
}
