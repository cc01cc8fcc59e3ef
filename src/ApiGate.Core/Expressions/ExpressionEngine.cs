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

        Prepared<Script> prepared;
        try
        {
            prepared = Engine.PrepareScript(source, options: new ScriptPreparationOptions
            {
                ParsingOptions = ScriptParsingOptions.Default with { Tolerant = false },
            });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ExpressionException("expression does not parse: " + ex.Message, ex);
        }

        // Engines are reused, so top-level declarations (const/let/var/function) would outlive one evaluation: a second
        // run fails with "already declared" or sees the previous request's values. Only a single expression is allowed;
        // statements go inside an arrow function: (() => { const id = pathParams.id; return '/users/' + id; })()
        var program = new Acornima.Parser().ParseScript(source);
        if (program.Body.Count != 1 || program.Body[0] is not ExpressionStatement)
        {
            throw new ExpressionException(
                "must be a single expression; wrap statements in a function: (() => { ...; return value; })()");
        }

        // Which context globals it reads, so callers only build what it uses (headers and query objects are costly).
        // Anything that can reach globals indirectly (eval, Function, globalThis, this) counts as reading everything.
        var globals = Engine.PrepareScript(source, options: new ScriptPreparationOptions { CollectReferencedGlobals = true }).ReferencedGlobals;
        var indirect = globals is null || globals.HasDirectEvalCall || globals.Contains("eval") || globals.Contains("Function")
                       || globals.Contains("globalThis") || source.Contains("this", StringComparison.Ordinal);
        var reads = ContextNames.Where(name => indirect || globals!.Contains(name)).ToHashSet(StringComparer.Ordinal);
        return new CompiledExpression(source, prepared, reads);
    }

    /// <summary>Globals every evaluation context sets; defined once per engine before the global object is sealed.</summary>
    internal static readonly string[] ContextNames =
    [
        "path", "method", "host", "pathParams", "headers", "query", "user", "key", "plan",
        "status", "requestBytes", "responseBytes", "request", "response", "sseEvents", "wsMessages", "durationMs",
    ];

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

    private static Engine CreateEngine()
    {
        var engine = new Engine(options => options
            .Strict()
            .TimeoutInterval(Timeout)
            .MaxStatements(10_000)
            .LimitMemory(8_000_000)
            .LimitRecursion(64));
        foreach (var name in ContextNames)
        {
            engine.SetValue(name, JsValue.Undefined);
        }

        // No expression may add globals: nothing one request computes can be seen by the next on this thread.
        engine.Execute("Object.preventExtensions(globalThis);");
        return engine;
    }
}

/// <summary>A parsed expression, shareable between threads.</summary>
public sealed class CompiledExpression
{
    internal CompiledExpression(string source, Prepared<Script> script, IReadOnlySet<string> reads)
    {
        Source = source;
        Script = script;
        _reads = reads;
    }

    private readonly IReadOnlySet<string> _reads;

    /// <summary>True when the expression may read the context global <paramref name="name"/>.</summary>
    public bool Reads(string name) => _reads.Contains(name);

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
