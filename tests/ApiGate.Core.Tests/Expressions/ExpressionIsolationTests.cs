using ApiGate.Core.Expressions;
using ApiGate.Core.Metering;
using ApiGate.Core.Routing;
using ApiGate.Core.Tests.Rewriting;
using ApiGate.Core.Tests.TestSupport;
using Jint;
using Jint.Native;

namespace ApiGate.Core.Tests.Expressions;

/// <summary>
/// Issue 10: evaluations share one engine per thread, so nothing one of them does to the built-ins or the global object
/// may be seen by the next (another request, another route, metering or rewriting). Every test runs its evaluations on
/// the test's own thread, so they do share the sandbox (one without the time limit, which a loaded machine could reach
/// on a thread's first evaluation: these tests are about isolation, not time).
/// </summary>
public sealed class ExpressionIsolationTests
{
    /// <summary>True only when every built-in the writes below target behaves as it did before.</summary>
    private const string BuiltInsIntact =
        "({}).x === undefined && 'a'.concat('b') === 'ab' && [1, 2].map(n => n * 2).join() === '2,4'"
        + " && JSON.stringify({ a: 1 }) === '{\"a\":1}' && Math.max(1, 2) === 2 && typeof Array.prototype.map === 'function'"
        + " && Object.getPrototypeOf(Array.prototype) === Object.prototype && [...[1, 2]].length === 2"
        + " && Array.from((function* () { yield 1; })()).length === 1 && 'abc'.replace('b', 'x') === 'axc'"
        + " && String(Symbol.iterator) === 'Symbol(Symbol.iterator)' && parseInt('12') === 12";

    [Fact]
    public void WarmUp_OnAFrozenSandbox_RunsToItsResultAndLeavesNoGlobalBehind()
    {
        // Arrange: the script each process runs once when its first engine is made
        var sandbox = new ExpressionSandbox(TimeSpan.FromMinutes(5));

        // Act
        var result = sandbox.Engine.Evaluate(ExpressionSandbox.WarmUp).AsString();
        var leftBehind = sandbox.Evaluate(ExpressionEngine.Compile("typeof o + typeof total + typeof s + typeof m + typeof r"));

        // Assert: it ran every part (a guard or a frozen built-in refusing it would throw here, and at start)
        Assert.Equal("""{"r":65,"k":["a","n","s"],"t":3,"c":1}""", result);
        Assert.Equal("undefinedundefinedundefinedundefinedundefined", leftBehind.AsString());
    }

    [Theory]
    [InlineData("Object.prototype.x = 1")]
    [InlineData("String.prototype.concat = function () { return 'pwned'; }")]
    [InlineData("Array.prototype.map = function () { return ['pwned']; }")]
    [InlineData("Array.prototype.join = () => 'pwned'")]
    [InlineData("JSON = { stringify: () => 'pwned' }")]
    [InlineData("Math = null")]
    [InlineData("globalThis.JSON = null")]
    [InlineData("parseInt = () => 0")]
    [InlineData("delete Array.prototype.map")]
    [InlineData("Object.defineProperty(Object.prototype, 'x', { value: 1 })")]
    [InlineData("Object.setPrototypeOf(Array.prototype, null)")]
    [InlineData("Object.getPrototypeOf(function* () { }).prototype.next = () => ({ done: true })")]
    [InlineData("Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({ done: true })")]
    [InlineData("String.prototype.replace = () => 'pwned'")]
    [InlineData("Symbol.iterator.description = 'x'")]
    [InlineData("Object.getOwnPropertyDescriptor(globalThis, 'path').get.x = 1")]
    public void Evaluate_WriteToBuiltIn_FailsAndNextEvaluationSeesOriginal(string write)
    {
        // Arrange
        var sandbox = UntimedSandbox.Current;

        // Act
        var ex = Assert.Throws<ExpressionException>(() => sandbox.Evaluate(ExpressionEngine.Compile(write)));
        var intact = sandbox.Evaluate(ExpressionEngine.Compile(BuiltInsIntact));

        // Assert
        Assert.Equal(ExpressionFailure.Error, ex.Failure);
        Assert.StartsWith("expression failed: ", ex.Message, StringComparison.Ordinal);
        Assert.Equal(JsBoolean.True, intact);
    }

    [Theory]
    [InlineData("Reflect.set(Object.prototype, 'x', 1)")]
    [InlineData("Reflect.defineProperty(String.prototype, 'concat', { value: () => 'pwned' })")]
    [InlineData("Reflect.deleteProperty(globalThis, 'JSON')")]
    [InlineData("Object.isFrozen(Object.prototype) && Object.isFrozen(globalThis) ? false : true")]
    public void Evaluate_ReflectiveWriteToBuiltIn_IsRefusedAndNextEvaluationSeesOriginal(string write)
    {
        // Arrange
        var sandbox = UntimedSandbox.Current;

        // Act
        var written = sandbox.Evaluate(ExpressionEngine.Compile(write));
        var intact = sandbox.Evaluate(ExpressionEngine.Compile(BuiltInsIntact));

        // Assert
        Assert.Equal(JsBoolean.False, written);
        Assert.Equal(JsBoolean.True, intact);
    }

    [Fact]
    public void Rewrite_OtherRouteChangedStringPrototype_SeesOriginalConcat()
    {
        // Arrange: route A's expression tries to replace concat for everyone on this thread.
        var attacker = new FakeRewriteRequest { Path = "/a/1" };
        var victim = new FakeRewriteRequest { Path = "/b/7" };

        // Act
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite(
            "/a/{id}", PathMatchType.Exact, "(String.prototype.concat = function () { return '/pwned'; }, '/a')", attacker));
        var rewritten = RewriteHarness.Rewrite("/b/{id}", PathMatchType.Exact, "'/users/'.concat(pathParams.id)", victim);

        // Assert
        Assert.Equal("/users/7", rewritten);
    }

    [Fact]
    public void Measure_AfterRewriteTriedToPolluteObjectPrototype_SeesNoAddedProperty()
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.Custom, "response.body.units === undefined ? 5 : 99");
        var input = new MeteringInput { Status = 200, ResponseBody = "{}"u8.ToArray() };

        // Act
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite(
            "/a/{id}", PathMatchType.Exact, "(Object.prototype.units = 1, '/a')", new FakeRewriteRequest { Path = "/a/1" }));
        var result = Meter.Measure(rule, input);

        // Assert
        Assert.Equal(new MeterResult(5, null), result);
    }

    [Theory]
    [InlineData("Object.defineProperty(globalThis, 'path', { value: '/admin' })")]
    [InlineData("path = '/admin'")]
    [InlineData("Object.defineProperty(globalThis, 'injected', { value: '/admin' })")]
    public void Rewrite_PreviousExpressionRedefinedAGlobal_FailsAndNextSeesItsOwnPath(string redefine)
    {
        // Arrange
        var request = new FakeRewriteRequest { Path = "/u/9" };

        // Act
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "(" + redefine + ", '/x')", request));
        var rewritten = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "path + '/' + typeof injected", request);

        // Assert
        Assert.Equal("/u/9/undefined", rewritten);
    }

    [Fact]
    public void Evaluate_ContextValueSetForPreviousEvaluation_IsUndefinedInTheNext()
    {
        // Arrange
        var sandbox = UntimedSandbox.Current;
        var headers = new JsObject(sandbox.Engine);
        headers.Set("authorization", "Bearer secret");
        sandbox.Set("headers", headers);
        sandbox.Evaluate(ExpressionEngine.Compile("headers.authorization"));

        // Act
        var next = sandbox.Evaluate(ExpressionEngine.Compile("typeof headers"));

        // Assert
        Assert.Equal("undefined", next.AsString());
    }

    [Theory]
    [InlineData("ArrayBuffer")]
    [InlineData("SharedArrayBuffer")]
    [InlineData("Uint8Array")]
    [InlineData("Float64Array")]
    [InlineData("DataView")]
    [InlineData("Atomics")]
    [InlineData("ShadowRealm")]
    [InlineData("WeakRef")]
    [InlineData("FinalizationRegistry")]
    [InlineData("Intl")]
    [InlineData("Temporal")]
    public void Evaluate_RemovedGlobal_IsUndefined(string name)
    {
        // Act
        var type = UntimedSandbox.Current.Evaluate(ExpressionEngine.Compile("typeof " + name));

        // Assert
        Assert.Equal("undefined", type.AsString());
    }

    [Fact]
    public void Evaluate_ObjectsTheExpressionCreates_StayWritable()
    {
        // Act
        var result = UntimedSandbox.Current.Evaluate(ExpressionEngine.Compile(
            "(() => { const o = { a: 1 }; o.b = 2; const list = [3]; list.push(4); class Box { toString() { return 'box'; } } return o.a + o.b + list.length + String(new Box()); })()"));

        // Assert
        Assert.Equal("5box", result.AsString());
    }
}
