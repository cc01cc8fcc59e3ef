using Acornima.Ast;
using Jint;
using Jint.Native;
using Jint.Runtime;

namespace ApiGate.Core.Expressions;

/// <summary>
/// Sandboxed JavaScript expressions (SPEC §9) on Jint. Scripts are parsed once (<see cref="Compile"/>) and evaluated on
/// an engine reused per thread: engines are not thread-safe and cost microseconds to create, so one is never made per
/// request. No CLR access is configured, and every evaluation is bounded in time, statements, memory and recursion.
/// </summary>
public static class ExpressionEngine
{
    /// <summary>Wall-clock bound on one evaluation.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(100);

    [ThreadStatic]
    private static Engine? t_engine;

    /// <summary>Parses the expression. Throws <see cref="ExpressionException"/> with the parser's message when it does not parse.</summary>
    public static CompiledExpression Compile(string source)
    {
        if (string.IsNullOrWhiteSpace(source))
        {
            throw new ExpressionException("expression is empty");
        }

        try
        {
            var prepared = Engine.PrepareScript(source, options: new ScriptPreparationOptions
            {
                ParsingOptions = ScriptParsingOptions.Default with { Tolerant = false },
            });
            return new CompiledExpression(source, prepared);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ExpressionException("expression does not parse: " + ex.Message, ex);
        }
    }

    /// <summary>The engine of the current thread, created on first use. Callers set their context values before evaluating.</summary>
    internal static Engine CurrentEngine => t_engine ??= CreateEngine();

    internal static JsValue Evaluate(Engine engine, in Prepared<Script> script)
    {
        try
        {
            return engine.Evaluate(script);
        }
        catch (Exception ex) when (ex is JavaScriptException or ExecutionCanceledException or StatementsCountOverflowException
                                       or MemoryLimitExceededException or RecursionDepthOverflowException or TimeoutException
                                       or JintException)
        {
            throw new ExpressionException("expression failed: " + ex.Message, ex);
        }
    }

    private static Engine CreateEngine() => new(options => options
        .Strict()
        .TimeoutInterval(Timeout)
        .MaxStatements(10_000)
        .LimitMemory(8_000_000)
        .LimitRecursion(64));
}

/// <summary>A parsed expression, shareable between threads.</summary>
public sealed class CompiledExpression
{
    internal CompiledExpression(string source, Prepared<Script> script)
    {
        Source = source;
        Script = script;
    }

    /// <summary>The expression as written.</summary>
    public string Source { get; }

    internal Prepared<Script> Script { get; }
}

/// <summary>An expression that does not parse, or failed when evaluated.</summary>
public sealed class ExpressionException : Exception
{
    public ExpressionException(string message) : base(message)
    {
    }

    public ExpressionException(string message, Exception inner) : base(message, inner)
    {
    }
}
