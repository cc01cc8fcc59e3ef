using ApiGate.Core.Entitlements;

namespace ApiGate.Core.Tests.Entitlements;

/// <summary>EntitlementResolver.ValidateValue: what a value of each type may be.</summary>
public sealed class ValidateValueTests
{
    [Theory]
    [InlineData(EntitlementValueType.Boolean, "true")]
    [InlineData(EntitlementValueType.Boolean, "false")]
    [InlineData(EntitlementValueType.Number, "0")]
    [InlineData(EntitlementValueType.Number, "42")]
    [InlineData(EntitlementValueType.Number, "-3")]
    [InlineData(EntitlementValueType.Number, "2.5")]
    [InlineData(EntitlementValueType.Number, "1e3")]
    [InlineData(EntitlementValueType.String, "")]
    [InlineData(EntitlementValueType.String, "gold tier")]
    [InlineData(EntitlementValueType.String, "a,b;c=d")]
    public void ValidateValue_ValidForType_ReturnsNull(EntitlementValueType type, string value)
    {
        // Act
        var error = EntitlementResolver.ValidateValue(type, value);

        // Assert
        Assert.Null(error);
    }

    [Theory]
    [InlineData("True")]
    [InlineData("FALSE")]
    [InlineData("1")]
    [InlineData("0")]
    [InlineData("yes")]
    [InlineData("")]
    [InlineData(" true")]
    [InlineData("true ")]
    public void ValidateValue_BooleanOtherThanTrueOrFalse_ReturnsError(string value)
    {
        // Act
        var error = EntitlementResolver.ValidateValue(EntitlementValueType.Boolean, value);

        // Assert
        Assert.Equal($"'{value}' is not true or false", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1,5")]      // comma decimal separator: invariant culture uses '.'
    [InlineData("12abc")]
    [InlineData("1.2.3")]
    [InlineData("0x10")]
    public void ValidateValue_NumberThatDoesNotParseInvariant_ReturnsError(string value)
    {
        // Act
        var error = EntitlementResolver.ValidateValue(EntitlementValueType.Number, value);

        // Assert
        Assert.Equal($"'{value}' is not a number", error);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    public void ValidateValue_NumberNotFinite_ReturnsNotANumberError(string value)
    {
        // Act
        var error = EntitlementResolver.ValidateValue(EntitlementValueType.Number, value);

        // Assert
        Assert.Equal($"'{value}' is not a number", error);
    }

    [Theory]
    [InlineData(EntitlementValueType.String, "line1\nline2")]
    [InlineData(EntitlementValueType.String, "line1\rline2")]
    [InlineData(EntitlementValueType.String, "value\r\nX-Injected: yes")]
    [InlineData(EntitlementValueType.String, "\n")]
    [InlineData(EntitlementValueType.Number, "42\n")]
    [InlineData(EntitlementValueType.Number, "42\r\n")]
    [InlineData(EntitlementValueType.Number, "\r42")]
    public void ValidateValue_ContainsLineBreak_ReturnsLineBreakError(EntitlementValueType type, string value)
    {
        // Act
        var error = EntitlementResolver.ValidateValue(type, value);

        // Assert
        Assert.Equal("values cannot contain line breaks", error);
    }

    [Theory]
    [InlineData("true\n")]
    [InlineData("false\r\n")]
    public void ValidateValue_BooleanWithLineBreak_ReturnsNotTrueOrFalseError(string value)
    {
        // Act
        var error = EntitlementResolver.ValidateValue(EntitlementValueType.Boolean, value);

        // Assert
        Assert.Equal($"'{value}' is not true or false", error);
    }
}
