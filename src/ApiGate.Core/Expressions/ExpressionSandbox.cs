using System.Collections.Frozen;
using System.Globalization;
using Acornima.Ast;
using Jint;
using Jint.Native;
using Jint.Native.Json;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Constraints;
using Jint.Runtime.Interop;

namespace ApiGate.Core.Expressions;

/// <summary>
/// One thread's Jint engine, hardened once so that evaluations cannot affect each other: every object reachable from
/// the global object (constructors, prototypes, their functions, the hidden iterator and generator prototypes) is
/// frozen, so <c>Object.prototype.x = 1</c> or <c>JSON = …</c> throws in the strict mode expressions run in; the
/// context names are read-only accessors over values the host sets before and clears after each evaluation; and
/// globals that could hold or defer state (<c>FinalizationRegistry</c>, <c>WeakRef</c>, <c>ShadowRealm</c>) or
/// allocate unbounded memory in one call (<c>ArrayBuffer</c>, typed arrays) are removed. So is <c>BigInt</c>, whose
/// operations run for seconds in one call, and code is never compiled at run time (<c>eval</c>, <c>Function</c> and
/// the generator and async function constructors throw), so a BigInt literal can only come from the expression's own
/// source, which <see cref="ExpressionEngine.Compile"/> refuses.
/// </summary>
internal sealed class ExpressionSandbox
{
    private static readonly FrozenDictionary<string, int> Slots =
        ExpressionEngine.ContextNames.Select((name, index) => KeyValuePair.Create(name, index)).ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly string[] RemovedGlobals =
    [
        "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "TypedArray", "Int8Array", "Uint8Array", "Uint8ClampedArray",
        "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array", "Float16Array",
        "Float32Array", "Float64Array", "ShadowRealm", "FinalizationRegistry", "WeakRef", "Intl", "Temporal", "BigInt",
    ];

    // Intrinsics no global property leads to; instances are enough, the walk follows their prototype chains.
    private const string HiddenIntrinsics = """
        (() => {
            const found = [];
            const add = make => { try { found.push(make()); } catch (e) { } };
            add(() => function* () { });
            add(() => (function* () { })());
            add(() => async function () { });
            add(() => async function* () { });
            add(() => (async function* () { })());
            add(() => [][Symbol.iterator]());
            add(() => ''[Symbol.iterator]());
            add(() => new Map()[Symbol.iterator]());
            add(() => new Set()[Symbol.iterator]());
            add(() => 'a'.matchAll(/a/g));
            add(() => [].values().map(x => x));
            add(() => Iterator.from({ next() { return { done: true }; } }));
            add(() => (function () { return arguments; })());
            return found;
        })()
        """;

    private readonly JsValue[] _values;

    // One budget per evaluation, armed only around it: hardening the engine at creation runs unbounded, so a cold
    // start (JIT, lazily built intrinsics) cannot fail it the way a per-entry timeout would.
    private readonly OperationDeadlineConstraint _deadline = new();
    private readonly TimeSpan _timeout;
    private long _allocationBaseline;
    private bool _evaluating;

    /// <param name="timeout">
    /// The time limit of one evaluation (<see cref="ExpressionEngine.Timeout"/>). Only tests pass another: the memory
    /// limit's tests run with a long one, so a loaded machine cannot fail an evaluation on time before memory.
    /// </param>
    // Run once per process when the first engine is made, outside any budget: the interpreter's code for the common
    // kinds of expression (JSON, strings, regular expressions, loops, arrow functions, templates) is JIT-compiled
    // there rather than inside the first request's 100 ms, which a cold start on a busy machine could spend on
    // compiling alone. An arrow function called at once: nothing is left in the global scope.
    internal const string WarmUp = """
        (() => {
            const o = JSON.parse('{"a":[1,2,{"b":"x"}],"n":1.5,"s":"text"}');
            let total = 0;
            for (const item of o.a) { total += typeof item === 'number' ? item * 2 : 1; }
            const s = `${o.s}-${o.n}`.toUpperCase().replace(/X/g, 'y').split('-').join('/');
            const m = /^\/(\w+)\/(\d+)$/.exec('/items/42');
            const r = Math.max(total, Math.round(o.n)) + (m ? Number(m[2]) : 0) + s.length + o.s.indexOf('e') + parseInt('7', 10);
            return JSON.stringify({ r, k: Object.keys(o), t: o.a.map(x => x).filter(Boolean).length, c: s.startsWith('T') && s.includes('/') ? 1 : 0 });
        })()
        """;

    private static int s_warmedUp;

    internal ExpressionSandbox(TimeSpan? timeout = null)
    {
        _timeout = timeout ?? ExpressionEngine.Timeout;
        Engine = new Engine(options =>
        {
            options.Strict()
                .DisableStringCompilation()
                .Constraint(_deadline)
                .RegexTimeoutInterval(_timeout)
                .MaxStatements(ExpressionEngine.StatementLimit)
                .LimitMemory(ExpressionEngine.MemoryLimit)
                .LimitRecursion(ExpressionEngine.RecursionLimit)
                .MaxArraySize(ExpressionEngine.MaxArraySize);
            options.Constraints.StackOverflowGuard = true;
        });

        _values = new JsValue[ExpressionEngine.ContextNames.Length];
        Array.Fill(_values, JsValue.Undefined);

        var global = Engine.Global;
        foreach (var name in RemovedGlobals)
        {
            global.Delete(name);
        }

        AllocationGuards.Install(this);
        for (var i = 0; i < ExpressionEngine.ContextNames.Length; i++)
        {
            var slot = i;
            var getter = new ClrFunction(Engine, "get " + ExpressionEngine.ContextNames[i], (_, _) => _values[slot]);
            global.DefineOwnProperty(ExpressionEngine.ContextNames[i], new GetSetPropertyDescriptor(getter, JsValue.Undefined, enumerable: true, configurable: false));
        }

        FreezeReachable(global, Engine.Evaluate(HiddenIntrinsics).AsObject());
        if (Interlocked.Exchange(ref s_warmedUp, 1) == 0)
        {
            Engine.Evaluate(WarmUp);
        }
    }

    internal Engine Engine { get; }

    /// <summary>Sets a context value for the next evaluation. <paramref name="name"/> is one of <see cref="ExpressionEngine.ContextNames"/>.</summary>
    internal void Set(string name, JsValue value) => _values[Slots[name]] = value;

    /// <summary>
    /// Evaluates with the context values set since the last evaluation, then clears them, so nothing of this request
    /// is visible to, or kept alive for, the next one. Throws <see cref="ExpressionException"/> when it fails.
    /// </summary>
    internal JsValue Evaluate(CompiledExpression expression)
    {
        var script = expression.Script;
        _allocationBaseline = GC.GetAllocatedBytesForCurrentThread();
        TemplateChars = 0;
        _evaluating = true;
        _deadline.Begin(_timeout, CancellationToken.None);
        try
        {
            var result = Engine.Evaluate(script);

            // Jint checks allocation before each statement, so the last one's is checked here.
            Charge(0);
            return result;
        }
        catch (Exception ex) when (ex is JintException or TimeoutException)
        {
            throw Failure(ex);
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or ExpressionException))
        {
            // A built-in that fails with a .NET exception of its own (Array.prototype.toReversed.call({ length: 2 ** 32 - 1 })
            // overflows): every caller handles an expression failure, and only that, so a metering rule that met one
            // threw out of the request's completion, and the request was neither billed nor recorded.
            throw new ExpressionException(ExpressionFailure.Error, $"expression failed: the script engine failed ({ex.GetType().Name})", ex);
        }
        finally
        {
            _evaluating = false;
            _deadline.End();
            Array.Fill(_values, JsValue.Undefined);
        }
    }

    /// <summary>
    /// Parses a request or response body for the next evaluation. Throws <see cref="JintException"/> when it is not
    /// JSON, nests too deep, or takes more than <see cref="ExpressionEngine.MemoryLimit"/> to build: the constraints are
    /// reset first, so the parse has a budget of its own rather than whatever the thread allocated since the engine's
    /// last entry (other requests served on this thread), which made the same body parse or not depending on traffic.
    /// </summary>
    internal JsValue ParseJson(ReadOnlySpan<byte> utf8Json)
    {
        Engine.Constraints.Reset();
        return new JsonParser(Engine).Parse(utf8Json);
    }

    /// <summary>
    /// Characters of the template literals the current evaluation is building, counted part by part (see
    /// <see cref="AllocationGuards.TemplatePart"/>); cleared when an evaluation starts.
    /// </summary>
    internal double TemplateChars { get; set; }

    /// <summary>Characters the current evaluation may still build before it reaches the memory limit.</summary>
    internal double RemainingChars =>
        (ExpressionEngine.MemoryLimit - (GC.GetAllocatedBytesForCurrentThread() - _allocationBaseline)) / (double)sizeof(char);

    /// <summary>
    /// Fails the evaluation before a built-in call builds <paramref name="chars"/> characters the memory limit has no
    /// room for: Jint measures allocation only between statements, after one call may already have taken gigabytes.
    /// </summary>
    internal void Charge(double chars)
    {
        // Outside an evaluation (hardening the engine at creation) there is no budget to charge.
        if (_evaluating && (chars > RemainingChars || RemainingChars < 0))
        {
            throw new MemoryLimitExceededException($"a built-in call would build {chars:0} characters");
        }
    }

    /// <summary>
    /// Fails the evaluation once its time is up; for built-in calls that run long without a statement in between, where
    /// Jint would check it only at the next statement.
    /// </summary>
    internal void CheckDeadline()
    {
        if (_evaluating)
        {
            _deadline.Check();
        }
    }

    private ExpressionException Failure(Exception ex) => ex switch
    {
        TimeoutException or ExecutionCanceledException => new ExpressionException(ExpressionFailure.Timeout,
            $"expression failed: time limit of {_timeout.TotalMilliseconds:0} ms exceeded", ex),
        MemoryLimitExceededException => new ExpressionException(ExpressionFailure.MemoryLimit,
            $"expression failed: memory limit of {ExpressionEngine.MemoryLimit} bytes exceeded", ex),
        StatementsCountOverflowException => new ExpressionException(ExpressionFailure.StatementLimit,
            $"expression failed: statement limit of {ExpressionEngine.StatementLimit} exceeded", ex),
        RecursionDepthOverflowException => new ExpressionException(ExpressionFailure.RecursionLimit,
            $"expression failed: recursion limit of {ExpressionEngine.RecursionLimit} exceeded", ex),
        // The engine's messages quote the values involved (`null[pathParams.id]`: "Cannot read properties of null (reading
        // 'ak_…')"), and the reason is logged and sent in errors: a key or token the client put in its path, a header or
        // the body is cut to the prefix shown anyway, as in every other message that may quote one.
        _ => new ExpressionException(ExpressionFailure.Error,
            "expression failed: " + (ex.Message.Length > 0 ? Reason(ex.Message) : "an error without a message (such as assigning to a read-only global)"), ex),
    };

    /// <summary>
    /// An error's message as the failure's reason: credentials cut, and no longer than
    /// <see cref="ExpressionEngine.MaxReasonLength"/> characters. A thrown value is its own message, and one evaluation
    /// can build a string of millions of characters (<c>throw 'x'.repeat(3e6)</c>), which was logged whole (warning
    /// 2001 or 3002) and sent in the error's <c>detail</c> on every request.
    /// </summary>
    private static string Reason(string message)
    {
        var reason = Identity.ApiKeys.RedactedMessage(message);
        if (reason.Length <= ExpressionEngine.MaxReasonLength)
        {
            return reason;
        }

        var kept = char.IsHighSurrogate(reason[ExpressionEngine.MaxReasonLength - 1]) ? ExpressionEngine.MaxReasonLength - 1 : ExpressionEngine.MaxReasonLength;
        return string.Create(CultureInfo.InvariantCulture, $"{reason.AsSpan(0, kept)}… ({reason.Length} characters)");
    }

    private void FreezeReachable(ObjectInstance global, ObjectInstance hidden)
    {
        var seen = new HashSet<ObjectInstance>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<ObjectInstance>();
        pending.Push(global);
        pending.Push(hidden);
        while (pending.TryPop(out var current))
        {
            if (!seen.Add(current))
            {
                continue;
            }

            if (current.Prototype is { } prototype)
            {
                pending.Push(prototype);
            }

            foreach (var key in current.GetOwnPropertyKeys(Types.String | Types.Symbol))
            {
                var descriptor = current.GetOwnProperty(key);
                foreach (var value in (ReadOnlySpan<JsValue?>)[descriptor.Value, descriptor.Get, descriptor.Set])
                {
                    if (value is ObjectInstance reachable)
                    {
                        pending.Push(reachable);
                    }
                }
            }
        }

        var freeze = Engine.Intrinsics.Object.Get("freeze");
        foreach (var target in seen)
        {
            Engine.Call(freeze, target);
        }
    }
}
