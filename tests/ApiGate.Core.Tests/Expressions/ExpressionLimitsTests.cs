using ApiGate.Core.Expressions;
using ApiGate.Core.Metering;
using ApiGate.Core.Routing;
using ApiGate.Core.Tests.Rewriting;
using ApiGate.Core.Tests.TestSupport;
using Jint;

namespace ApiGate.Core.Tests.Expressions;

/// <summary>
/// Issue 10: the memory limit holds for single built-in calls that build large strings or arrays, and the 100 ms time
/// limit holds inside regular-expression matches. Failures are reported as the expression error every caller handles.
/// </summary>
public sealed class ExpressionLimitsTests
{
    private const string MemoryLimitMessage = "expression failed: memory limit of 8000000 bytes exceeded";
    private const string TimeLimitMessage = "expression failed: time limit of 100 ms exceeded";

    public static TheoryData<string> Amplifiers =>
    [
        "'x'.repeat(2**28)",
        "'x'.padEnd(2**28)",
        "'x'.padStart(2**28, 'ab')",
        "(() => { let s = 'x'; for (let i = 0; i < 40; i++) s += s; return s.length; })()",
        "(() => { let s = 'xxxxxxxxxxxxxxxx'; for (let i = 0; i < 5000; i++) s = s.concat(s.slice(0, 4096)); return s.length; })()",
        "Array(1e8).join('x')",
        "new Array(1e7).fill(0).length",
        "Array.from({ length: 2e6 }).length",
        "'x'.repeat(3e6).split('').length",
        "Array(1000).join('x'.repeat(1e6))",
        "Array(300).fill('x'.repeat(1e6)).join('')",
        "Array(300).fill('x'.repeat(1e6)).toString()",
        "Array(300).fill('x'.repeat(1e6)).toLocaleString()",
        "'x'.concat(...Array(1000).fill('x'.repeat(1e6)))",
        "JSON.stringify(Array(300).fill('x'.repeat(1e6)))",
        "JSON.stringify({ a: Array(300).fill({ b: 'x'.repeat(1e6) }) })",
        "String.raw({ raw: Array(300).fill('x'.repeat(1e6)) })",
        "'x'.repeat(1e5).replaceAll('x', \"$'\")",
        "'x'.repeat(1e5).replace(/x/g, \"$'\")",
        "/x/g[Symbol.replace]('x'.repeat(1e5), '$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&')",
        "'x'.repeat(1e6).replaceAll('x', 'y'.repeat(100))",
        "encodeURIComponent('\\u00ff'.repeat(3e6))",
        "Object.keys('x'.repeat(3.9e6))",
        "Object.getOwnPropertyDescriptors('x'.repeat(3.9e6))",
        "Object.entries(new String('x'.repeat(3.9e6)))",
        "Reflect.ownKeys(new String('x'.repeat(3.9e6)))",
        "Object.assign({}, 'x'.repeat(3.9e6))",
        "Array.from('x'.repeat(3.9e6))",
        "'x'.repeat(3.9e6).split('')",
        "Array.prototype.join.call({ length: 1e9 }, '')",
        "String.raw({ raw: { length: 1e9 } })",
        // One statement, no built-in call: Jint's memory limit saw these only once they were done (254 MB and more, up
        // to a gigabyte-long string after seconds with a few more doublings).
        "(s => (s += s, s += s, s += s, s += s, s += s, s += s, s.length))('x'.repeat(1e6))",
        "(o => (o.p += o.p, o.p += o.p, o.p += o.p, o.p += o.p, o.p += o.p, o.p += o.p, 1))({ p: 'x'.repeat(1e6) })",
        "(s => (s = `${s}${s}`, s = `${s}${s}`, s = `${s}${s}`, s = `${s}${s}`, s = `${s}${s}`, s = `${s}${s}`, s.length))('x'.repeat(1e6))",
        "(s => `${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}${s}`.length)('x'.repeat(1e6))",
        "(s => `${`${s}${s}${s}${s}`}${`${s}${s}${s}${s}`}`.length)('x'.repeat(1e6))",
        "(s => 'x'.repeat(300).replace(/x/g, () => s).length)('x'.repeat(1e6))",
        // A regular expression matching a million times in one call: checked before each match.
        "'x'.repeat(1.9e6).match(/x/g).length",
        "[...'x'.repeat(1.9e6).matchAll(/x/g)].length",
        "'x'.repeat(1.3e6).replace(/x/g, 'y').length",
        "'xy'.repeat(9e5).split(/y/).length",
    ];

    [Theory]
    [MemberData(nameof(Amplifiers))]
    public void Evaluate_LargeStringOrArray_FailsWithMemoryLimit(string expression)
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => UntimedSandbox.Current.Evaluate(ExpressionEngine.Compile(expression)));

        // Assert
        Assert.Equal(ExpressionFailure.MemoryLimit, ex.Failure);
        Assert.Equal(MemoryLimitMessage, ex.Message);
    }

    [Theory]
    [MemberData(nameof(Amplifiers))]
    public void Evaluate_LargeStringOrArray_AllocatesAFewTimesTheLimitAtMost(string expression)
    {
        // Arrange: the sandbox exists and the expression is compiled, so only the evaluation is measured.
        var sandbox = UntimedSandbox.Current;
        var compiled = ExpressionEngine.Compile(expression);
        var before = GC.GetAllocatedBytesForCurrentThread();

        // Act
        Assert.Throws<ExpressionException>(() => sandbox.Evaluate(compiled));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert: before the guards, the first of these allocated 512 MB and others several GB.
        Assert.InRange(allocated, 0, 4 * ExpressionEngine.MemoryLimit);
    }

    [Theory]
    [InlineData("'/' + 'ab'.repeat(3)", "/ababab")]
    [InlineData("'/' + 'ab'.padEnd(5, '-') + 'x'.padStart(3, '0')", "/ab---00x")]
    [InlineData("'/'.concat('a', 1, null)", "/a1null")]
    [InlineData("'/' + [1, 'b', null, [2, 3]].join('-')", "/1-b--2,3")]
    [InlineData("'/' + ['a', 'b'].toString()", "/a,b")]
    [InlineData("'/a/b/a'.replace('a', '$&$&').replaceAll('b', '[$`]')", "/aa/[/aa/]/a")]
    [InlineData("'/a1b2'.replace(/\\d/g, '<$&>')", "/a<1>b<2>")]
    [InlineData("'/' + JSON.stringify({ a: [1, 'x'], b: { c: null } }, null, 2).length", "/59")]
    [InlineData("String.raw`/a${1}b\\n`", "/a1b\\n")]
    [InlineData("'/' + encodeURIComponent('a b/é')", "/a%20b%2F%C3%A9")]
    [InlineData("'/' + Object.keys('abc').join(',') + Object.entries(['q']).length", "/0,1,21")]
    [InlineData("'/' + 'a,b'.split(',').length + Array.from('xy').join('')", "/2xy")]
    [InlineData("'/' + 'a1b2'.match(/\\d/g).join('') + [...'a1'.matchAll(/\\d/g)].length", "/121")]
    // 10,001 parts: well inside the memory limit (on a sandbox whose time limit a busy machine cannot reach)
    [InlineData("'/' + ('w '.repeat(1e4)).split(' ').length + '/' + 'a,b,c'.split(',', 2).length", "/10001/2")]
    [InlineData("'/' + 'xyz'.repeat(0) + 'q'.repeat(1e5).length", "/100000")]
    [InlineData("(() => { let s = '/'; s += 'a'; s += 1; s += null; return s; })()", "/a1null")]
    [InlineData("(o => (o.p += 'x', o['q'] += 2, '/' + o.p + o.q))({ p: 'a', q: 1 })", "/ax3")]
    [InlineData("`/${1}${'b'}${`c${2}`}${(1, 2)}` + String.raw`x${3}\\n`", "/1bc22x3\\n")]
    [InlineData("`/${{ toString() { return 'obj'; } }}-${[1, 2]}`", "/obj-1,2")]
    [InlineData("'/' + 'a1b2'.replace(/\\d/g, d => `<${d}>`) + 'ab'.replace(/(a)/, (m, g, at) => g + at)", "/a<1>b<2>a0b")]
    [InlineData("'/' + Array(1000).fill(0).map((_, i) => `${i}`).join('').length", "/2890")]
    public void Evaluate_GuardedBuiltInsWithinLimits_BehaveAsUsual(string expression, string expected)
    {
        // Act
        var result = UntimedSandbox.Current.Evaluate(ExpressionEngine.Compile(expression));

        // Assert
        Assert.Equal(expected, result.AsString());
    }

    [Theory]
    [InlineData("/^(a+)+$/.test('a'.repeat(40) + 'b')")]
    [InlineData("new RegExp('^(a+)+$').test('a'.repeat(40) + 'b')")]
    [InlineData("'a'.repeat(40).replace(/^(a+)+b/, 'x')")]
    [InlineData("('a'.repeat(40) + '!').match(/^(a|aa)+$/)")]
    [InlineData("'a'.repeat(40).split(/(a+)+b/)")]
    public void Evaluate_CatastrophicRegex_FailsWithTimeLimit(string expression)
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.CurrentSandbox.Evaluate(ExpressionEngine.Compile(expression)));

        // Assert
        Assert.Equal(ExpressionFailure.Timeout, ex.Failure);
        Assert.Equal(TimeLimitMessage, ex.Message);
    }

    [Theory]
    [InlineData("JSON.stringify('x'.repeat(8000).split('').reduce(a => [a], [])).length")]
    [InlineData("JSON.stringify('x'.repeat(8000).split('').reduce(a => ({ a }), {})).length")]
    [InlineData("JSON.stringify('x'.repeat(6000).split('').reduce(a => new Proxy([a], {}), [])).length")]
    public void Evaluate_JsonStringifyOfDeepNesting_FailsWithTimeLimit(string expression)
    {
        // One JSON.stringify call with no statement inside: the serializer's cost grows with the square of the nesting,
        // and it ran for over a second here, past the 100 ms limit, and returned its result.

        // Act
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.CurrentSandbox.Evaluate(ExpressionEngine.Compile(expression)));

        // Assert
        Assert.Equal(ExpressionFailure.Timeout, ex.Failure);
        Assert.Equal(TimeLimitMessage, ex.Message);
    }

    [Fact]
    public void Evaluate_JsonStringifyWithAPropertyListOfDeepNesting_FailsNamingTheDepth()
    {
        // Arrange
        const string expression = "JSON.stringify('x'.repeat(8000).split('').reduce(a => [a], []), ['a']).length";

        // Act
        var ex = Assert.Throws<ExpressionException>(() => UntimedSandbox.Current.Evaluate(ExpressionEngine.Compile(expression)));

        // Assert
        Assert.Equal(ExpressionFailure.Error, ex.Failure);
        Assert.Equal("expression failed: JSON.stringify with a property list: the value nests deeper than 1000 arrays or objects", ex.Message);
    }

    [Theory]
    [InlineData("JSON.stringify({ b: 1, a: 2, c: [3, { a: 4, d: 5 }] }, ['c', 'a'])", "{\"c\":[3,{\"a\":4}],\"a\":2}")]
    [InlineData("JSON.stringify({ a: 1, b: 2 }, (k, v) => k === 'a' ? undefined : v)", "{\"b\":2}")]
    [InlineData("JSON.stringify({ a: 1 }, function (k, v) { return k === '' ? { x: this[''].a } : v; })", "{\"x\":1}")]
    [InlineData("JSON.stringify({ a: { toJSON() { return 'j'; } }, b: undefined, c: () => 1 }, null, 1)", "{\n \"a\": \"j\"\n}")]
    [InlineData("JSON.stringify([new Number(1), new String('s'), new Boolean(false), NaN, undefined])", "[1,\"s\",false,null,null]")]
    [InlineData("String(JSON.stringify(undefined)) + JSON.stringify('x'.repeat(900).split('').reduce(a => [a], [])).length", "undefined1802")]
    public void Evaluate_JsonStringifyWithinLimits_BehavesAsUsual(string expression, string expected)
    {
        // Act
        var result = UntimedSandbox.Current.Evaluate(ExpressionEngine.Compile(expression));

        // Assert
        Assert.Equal(expected, result.AsString());
    }

    [Fact]
    public void Evaluate_ManyRegexMatchesTogetherPastTheLimit_FailsWithTimeLimit()
    {
        // Each match stays well under 100 ms; their sum is many times the limit (however fast the machine is at the moment).
        const string expression = "(() => { let n = 0; for (let i = 0; i < 1000; i++) n += /^(a+)+$/.test('a'.repeat(21) + 'b') ? 1 : 0; return n; })()";

        // Act
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.CurrentSandbox.Evaluate(ExpressionEngine.Compile(expression)));

        // Assert
        Assert.Equal(ExpressionFailure.Timeout, ex.Failure);
    }

    [Fact]
    public void Rewrite_CatastrophicRegex_ThrowsRewriteExceptionWithTimeLimit()
    {
        // Act
        var ex = Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite(
            "/u/{id}", PathMatchType.Exact, "(/^(a+)+$/.test('a'.repeat(40) + pathParams.id)) ? '/yes' : '/no'", new FakeRewriteRequest { Path = "/u/b" }));

        // Assert
        Assert.Equal(TimeLimitMessage, ex.Message);
    }

    [Fact]
    public void Rewrite_Repeat2To28_ThrowsRewriteExceptionWithMemoryLimit()
    {
        // Act
        var ex = Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite(
            "/u/{id}", PathMatchType.Exact, "'/' + pathParams.id.repeat(2**28)", new FakeRewriteRequest { Path = "/u/x" }));

        // Assert
        Assert.Equal(MemoryLimitMessage, ex.Message);
    }

    [Theory]
    [InlineData("response.body.text.repeat(2**28).length", MemoryLimitMessage)]
    [InlineData("/^(a+)+$/.test(response.body.text) ? 1 : 2", TimeLimitMessage)]
    public void Measure_ExpressionPastALimit_CountsOneUnitWithTheLimitError(string expression, string expectedError)
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.ResponseField, expression);
        var input = new MeteringInput { Status = 200, ResponseBody = """{"text":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"}"""u8.ToArray() };

        // Act
        var result = Meter.Measure(rule, input);

        // Assert
        Assert.Equal(new MeterResult(1, expectedError), result);
    }

    [Fact]
    public void Evaluate_AfterALimitFailure_NextEvaluationRunsNormally()
    {
        // Arrange
        var sandbox = ExpressionEngine.CurrentSandbox;
        Assert.Throws<ExpressionException>(() => sandbox.Evaluate(ExpressionEngine.Compile("/^(a+)+$/.test('a'.repeat(40) + 'b')")));
        Assert.Throws<ExpressionException>(() => sandbox.Evaluate(ExpressionEngine.Compile("'x'.repeat(2**28)")));

        // Act
        var result = sandbox.Evaluate(ExpressionEngine.Compile("'/ok/' + 'x'.repeat(1000).length"));

        // Assert
        Assert.Equal("/ok/1000", result.AsString());
    }

    [Fact]
    public void Evaluate_AfterAFailureInsideATemplate_NextTemplateIsNotChargedForIt()
    {
        // Arrange: the first evaluation stops while building a template, after counting parts it never finished
        var sandbox = UntimedSandbox.Current;
        Assert.Throws<ExpressionException>(() => sandbox.Evaluate(ExpressionEngine.Compile("(s => `${s}${s}${s}${s}${s}`)('x'.repeat(1e6))")));

        // Act
        var result = sandbox.Evaluate(ExpressionEngine.Compile("(s => `/${s}${s}`.length)('x'.repeat(1e6))"));

        // Assert
        Assert.Equal(2_000_001, result.AsNumber());
    }

    [Theory]
    [InlineData("__apigateAppend(1)")]
    [InlineData("(__apigateTemplate => 1)(2)")]
    public void Compile_ReservedName_RefusedNamingThePrefix(string expression)
    {
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.Compile(expression));

        Assert.Equal("names starting with __apigate are reserved", ex.Message);
    }

    [Theory]
    [InlineData("typeof BigInt")]
    [InlineData("typeof globalThis['Big' + 'Int']")]
    [InlineData("typeof Reflect.get(globalThis, 'BigInt')")]
    [InlineData("typeof Object.getOwnPropertyDescriptor(globalThis, 'BigInt')")]
    public void Evaluate_BigIntGlobal_IsNotThere(string expression)
    {
        // Act
        var result = ExpressionEngine.CurrentSandbox.Evaluate(ExpressionEngine.Compile(expression));

        // Assert
        Assert.Equal("undefined", result.AsString());
    }

    [Theory]
    [InlineData("BigInt('123')")]
    [InlineData("BigInt('9'.repeat(30000)).toString(36)")]
    [InlineData("globalThis['Big' + 'Int']('123')")]
    [InlineData("eval('2n ** 250000n')")]
    [InlineData("(0, eval)('(2n ** 250000n).toString(3).length')")]
    [InlineData("Function('return 2n ** 250000n')()")]
    [InlineData("(function* () { }).constructor('yield 2n ** 250000n')().next().value")]
    [InlineData("(async function () { }).constructor('return 1n')")]
    [InlineData("Object.getPrototypeOf(async function* () { }).constructor('yield 1n')")]
    [InlineData("Object.getPrototypeOf(() => 1).constructor('return 1n')()")]
    public void Evaluate_AnyWayToMakeABigInt_FailsWithAnError(string expression)
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => ExpressionEngine.CurrentSandbox.Evaluate(ExpressionEngine.Compile(expression)));

        // Assert: no BigInt value was made (BigInt is not defined, or compiling code at run time is refused).
        Assert.Equal(ExpressionFailure.Error, ex.Failure);
    }

    [Theory]
    [InlineData("typeof JSON.parse('123456789012345678901234567890')", "number")]
    [InlineData("typeof JSON.parse('[12345678901234567890123]')[0]", "number")]
    public void Evaluate_JsonParseOfHugeInteger_YieldsANumber(string expression, string expected)
    {
        // Act
        var result = ExpressionEngine.CurrentSandbox.Evaluate(ExpressionEngine.Compile(expression));

        // Assert
        Assert.Equal(expected, result.AsString());
    }

    [Fact]
    public void Rewrite_BigIntFromAHeader_ThrowsRewriteExceptionWithoutRunningIt()
    {
        // Arrange: the client-controlled variant of the attack, a 30,000-digit header.
        var request = new FakeRewriteRequest { Path = "/u/x" };
        request.HeaderValues["x-id"] = new string('9', 30_000);

        // Act
        var ex = Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite(
            "/u/{id}", PathMatchType.Exact, "'/echo/' + BigInt(headers['x-id'] || '1').toString(36)", request));

        // Assert
        Assert.Equal("expression failed: BigInt is not defined", ex.Message);
    }

    [Fact]
    public void Compile_StoredMeteringExpressionWithBigInt_ThrowsLikeAnyInvalidExpression()
    {
        // Arrange: an expression stored before BigInt was refused; compiling it into a snapshot must not run it.
        const string stored = "(2n ** 400000n).toString(3).length";

        // Act
        var ex = Assert.Throws<ExpressionException>(() => MeteringRule.Compile(MeteringMode.Custom, stored));

        // Assert
        Assert.Equal("BigInt values (123n) are not available in expressions", ex.Message);
    }

    [Fact]
    public void Compile_StoredRewriteWithBigInt_ThrowsLikeAnyInvalidExpression()
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => PathRewriter.Compile("'/echo/' + (2n ** 250000n).toString(3).length"));

        // Assert
        Assert.Equal("BigInt values (123n) are not available in expressions", ex.Message);
    }
}
