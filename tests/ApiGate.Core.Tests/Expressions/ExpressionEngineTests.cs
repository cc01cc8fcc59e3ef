using ApiGate.Core.Expressions;

namespace ApiGate.Core.Tests.Expressions;

/// <summary>SPEC §9: expressions are parsed once and rejected when they do not parse.</summary>
public sealed class ExpressionEngineTests
{
    [Theory]
    [InlineData("'/users/' + pathParams.id")]
    [InlineData("response.body.items.length")]
    [InlineData("1 + 2")]
    [InlineData("x => x * 2")]
    public void Compile_ValidExpression_KeepsSource(string source)
    {
        // Act
        var compiled = ExpressionEngine.Compile(source);

        // Assert
        Assert.Equal(source, compiled.Source);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("'/users/' +")]
    [InlineData("response.body.")]
    [InlineData("if (")]
    [InlineData("{ a: }")]
    [InlineData("'unterminated")]
    public void Compile_InvalidExpression_ThrowsExpressionException(string source)
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.Compile(source));

        // Assert
        Assert.False(string.IsNullOrEmpty(ex.Message));
    }
}
