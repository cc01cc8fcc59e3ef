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

    [Theory]
    [InlineData("'/echo/' + (2n ** 250000n).toString(3).length")]
    [InlineData("(2n ** 400000n).toString(3).length")]
    [InlineData("0x1fn")]
    [InlineData("(() => { const big = 1n; return '/x/' + typeof big; })()")]
    [InlineData("'/' + [1, 2].map(n => n * 1).concat([3n])")]
    public void Compile_BigIntLiteral_ThrowsBigIntNotAvailable(string source)
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.Compile(source));

        // Assert
        Assert.Equal(ExpressionFailure.Invalid, ex.Failure);
        Assert.Equal("BigInt values (123n) are not available in expressions", ex.Message);
    }

    [Theory]
    [InlineData("'/items/' + 'n1n'")]
    [InlineData("'/n/' + (1 + 2)")]
    [InlineData("`/${'123n'}`")]
    public void Compile_BigIntLookalikeInString_Compiles(string source)
    {
        // Act
        var compiled = ExpressionEngine.Compile(source);

        // Assert
        Assert.Equal(source, compiled.Source);
    }
}
