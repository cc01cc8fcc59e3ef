namespace ApiGate.Core.Expressions;

/// <summary>Why an expression did not yield a value.</summary>
public enum ExpressionFailure
{
    /// <summary>It does not parse or is not a single expression (refused when written).</summary>
    Invalid,

    /// <summary>It threw: a JavaScript error, such as reading a property of undefined or writing to a frozen built-in.</summary>
    Error,

    /// <summary>It ran past <see cref="ExpressionEngine.Timeout"/>, or one regular-expression match did.</summary>
    Timeout,

    /// <summary>It allocated, or a single built-in call was about to build, more than <see cref="ExpressionEngine.MemoryLimit"/>.</summary>
    MemoryLimit,

    /// <summary>It ran more than <see cref="ExpressionEngine.StatementLimit"/> statements.</summary>
    StatementLimit,

    /// <summary>It nested calls deeper than <see cref="ExpressionEngine.RecursionLimit"/>.</summary>
    RecursionLimit,
}
