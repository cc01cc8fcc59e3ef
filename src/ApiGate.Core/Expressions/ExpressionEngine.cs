using Acornima;
using Acornima.Ast;
using Jint;

namespace ApiGate.Core.Expressions;

/// <summary>
/// Sandboxed JavaScript expressions (SPEC §9) on Jint. Scripts are parsed once (<see cref="Compile"/>) and evaluated in
/// a <see cref="ExpressionSandbox"/> reused per thread: engines are not thread-safe and cost far more to create than to
/// reuse, so one is never made per request, and a per-thread engine means no lock between evaluations. No CLR access
/// is configured, every built-in is frozen, and every evaluation is bounded in time (regular expressions included),
/// statements, memory (single built-in calls included), array size and recursion. BigInt is not available: its
/// operations cannot be interrupted, so no bound would hold (<see cref="Compile"/> refuses its literals).
/// </summary>
public static class ExpressionEngine
{
    /// <summary>Wall-clock bound on one evaluation, and on any one regular-expression match inside it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Bytes one evaluation may allocate, counting what a single built-in call is about to build.</summary>
    public const long MemoryLimit = 8_000_000;

    /// <summary>Statements one evaluation may run.</summary>
    public const int StatementLimit = 10_000;

    /// <summary>Nested calls one evaluation may make.</summary>
    public const int RecursionLimit = 64;

    /// <summary>Largest array an expression may create (one million elements: 8 MB of references, the memory limit).</summary>
    public const uint MaxArraySize = 1_000_000;

    /// <summary>Characters of an error's message kept in the reason an evaluation failed (logged, and sent in errors).</summary>
    public const int MaxReasonLength = 500;

    /// <summary>Why an expression holding a BigInt literal is refused.</summary>
    internal const string BigIntRefused = "BigInt values (123n) are not available in expressions";

    [ThreadStatic]
    private static ExpressionSandbox? t_sandbox;

    /// <summary>
    /// Parses the expression. Throws <see cref="ExpressionException"/> with the parser's message when it does not parse,
    /// and when it is not a single expression or holds a BigInt literal (<c>123n</c>).
    /// </summary>
    public static CompiledExpression Compile(string source)
    {
        if (string.IsNullOrWhiteSpace(source))
        {
            throw new ExpressionException("expression is empty");
        }

        Prepared<Script> prepared;
        try
        {
            // Regular-expression literals are built when the script is prepared, with this timeout; the engine's own
            // setting only reaches `new RegExp(...)`. Without it a literal would run for Jint's default 10 s.
            prepared = Engine.PrepareScript(source, options: new ScriptPreparationOptions
            {
                ParsingOptions = ScriptParsingOptions.Default with { Tolerant = false, RegexTimeout = Timeout },
            });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ExpressionException("expression does not parse: " + ex.Message, ex);
        }

        // Engines are reused, so top-level declarations (const/let/var/function) would outlive one evaluation: a second
        // run fails with "already declared" or sees the previous request's values. Only a single expression is allowed;
        // statements go inside an arrow function: (() => { const id = pathParams.id; return '/users/' + id; })()
        var bigInt = false;
        List<Node> guarded = [];
        var tagged = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var program = new Acornima.Parser(new Acornima.ParserOptions
        {
            OnNode = (node, in _) =>
            {
                switch (node)
                {
                    case BigIntLiteral:
                        bigInt = true;
                        break;
                    case AssignmentExpression { Operator: Operator.AdditionAssignment }:
                    case TemplateLiteral { Expressions.Count: > 0 }:
                        guarded.Add(node);
                        break;
                    case TaggedTemplateExpression tag:
                        tagged.Add(tag.Quasi);
                        break;
                }
            },
        }).ParseScript(source);
        if (program.Body.Count != 1 || program.Body[0] is not ExpressionStatement)
        {
            throw new ExpressionException(
                "must be a single expression; wrap statements in a function: (() => { ...; return value; })()");
        }

        // One BigInt operation (2n ** 250000n, toString of the result) is a single uninterruptible .NET call that runs
        // for seconds and allocates gigabytes between two of Jint's constraint checks. The sandbox has no BigInt global
        // and compiles no code at run time, so a literal is the only way to make one; refusing it here refuses it when
        // the route is written and when a stored expression is compiled into a snapshot.
        if (bigInt)
        {
            throw new ExpressionException(BigIntRefused);
        }

        if (source.Contains(AllocationGuards.ReservedPrefix, StringComparison.Ordinal))
        {
            throw new ExpressionException($"names starting with {AllocationGuards.ReservedPrefix} are reserved");
        }

        // `+=` and template literals build strings that Jint's memory limit only sees at the next statement, however
        // many of them one statement holds: they are rewritten to go through the sandbox's guards (AllocationGuards).
        guarded.RemoveAll(tagged.Contains);
        if (guarded.Count > 0)
        {
            prepared = Engine.PrepareScript(Guard(source, guarded), options: new ScriptPreparationOptions
            {
                ParsingOptions = ScriptParsingOptions.Default with { Tolerant = false, RegexTimeout = Timeout },
            });
        }

        // Which context globals it reads, so callers only build what it uses (headers and query objects are costly).
        // Anything that can reach globals indirectly (eval, Function, globalThis, this) counts as reading everything.
        var globals = Engine.PrepareScript(source, options: new ScriptPreparationOptions { CollectReferencedGlobals = true }).ReferencedGlobals;
        var indirect = globals is null || globals.HasDirectEvalCall || globals.Contains("eval") || globals.Contains("Function")
                       || globals.Contains("globalThis") || source.Contains("this", StringComparison.Ordinal);
        var reads = ContextNames.Where(name => indirect || globals!.Contains(name)).ToHashSet(StringComparer.Ordinal);
        return new CompiledExpression(source, prepared, reads, globals is null ? [] : [.. globals]);
    }

    /// <summary>
    /// The first name the expression reads without declaring it that is neither one of <paramref name="context"/> nor a
    /// JavaScript built-in of the sandbox: every evaluation would fail on it (<c>$2 is not defined</c>), or find a
    /// context value of another use (a metering value in a path rewrite) undefined. Null when there is none. For the
    /// checks made when an expression is written; compiling a stored one does not refuse it.
    /// </summary>
    public static string? FirstUnavailableName(CompiledExpression expression, IReadOnlyCollection<string> context)
    {
        foreach (var name in expression.FreeNames)
        {
            var available = context.Contains(name)
                || (Array.IndexOf(ContextNames, name) < 0 && CurrentSandbox.Engine.Global.HasProperty(name));
            if (!available)
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>
    /// The source with each <c>a += b</c> written <c>a += Append((b))</c> and each template literal
    /// <c>Template(`…${TemplatePart((x))}…`)</c>: pure insertions at node boundaries, an enclosing node's opening first
    /// and an enclosed node's closing first where they meet.
    /// </summary>
    private static string Guard(string source, List<Node> guarded)
    {
        var edits = new List<(int At, int Kind, int Tie, string Text)>();
        void Wrap(Node node, string function)
        {
            edits.Add((node.Range.Start, 1, -node.Range.End, function + "(("));
            edits.Add((node.Range.End, 0, -node.Range.Start, "))"));
        }

        foreach (var node in guarded)
        {
            if (node is AssignmentExpression assignment)
            {
                Wrap(assignment.Right, AllocationGuards.Append);
            }
            else if (node is TemplateLiteral template)
            {
                Wrap(template, AllocationGuards.Template);
                foreach (var part in template.Expressions)
                {
                    Wrap(part, AllocationGuards.TemplatePart);
                }
            }
        }

        edits.Sort((a, b) => (a.At, a.Kind, a.Tie).CompareTo((b.At, b.Kind, b.Tie)));
        var text = new System.Text.StringBuilder(source.Length + (edits.Count * 16));
        var copied = 0;
        foreach (var (at, _, _, insert) in edits)
        {
            text.Append(source, copied, at - copied).Append(insert);
            copied = at;
        }

        return text.Append(source, copied, source.Length - copied).ToString();
    }

    /// <summary>The context globals: read-only to expressions, set by the host before and cleared after every evaluation.</summary>
    internal static readonly string[] ContextNames =
    [
        "path", "method", "host", "pathParams", "headers", "query", "user", "key", "plan",
        "status", "requestBytes", "responseBytes", "request", "response", "sseEvents", "wsMessages", "durationMs",
    ];

    /// <summary>The sandbox of the current thread, created on first use.</summary>
    internal static ExpressionSandbox CurrentSandbox => t_sandbox ??= new ExpressionSandbox();
}

/// <summary>A parsed expression, shareable between threads.</summary>
public sealed class CompiledExpression
{
    internal CompiledExpression(string source, Prepared<Script> script, IReadOnlySet<string> reads, IReadOnlyList<string> freeNames)
    {
        Source = source;
        _script = script;
        _reads = reads;
        FreeNames = freeNames;
    }

    private readonly IReadOnlySet<string> _reads;

    // Boxed, not a field of the engine's struct type: a struct field makes loading this class load the engine's
    // assemblies, and every gateway loads this class (routes may carry expressions) whether or not any route has one.
    private readonly object _script;

    /// <summary>True when the expression may read the context global <paramref name="name"/>.</summary>
    public bool Reads(string name) => _reads.Contains(name);

    /// <summary>The expression as written.</summary>
    public string Source { get; }

    /// <summary>The names it reads without declaring them: context values, built-ins, or names that are not defined.</summary>
    public IReadOnlyList<string> FreeNames { get; }

    internal Prepared<Script> Script => (Prepared<Script>)_script;
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

    internal ExpressionException(ExpressionFailure failure, string message, Exception inner) : base(message, inner)
    {
        Failure = failure;
    }

    /// <summary>Why evaluation stopped; <see cref="ExpressionFailure.Invalid"/> for an expression that does not compile.</summary>
    public ExpressionFailure Failure { get; }
}
