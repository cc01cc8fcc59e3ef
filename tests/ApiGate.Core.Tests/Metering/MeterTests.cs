using System.Text;
using ApiGate.Core.Expressions;
using ApiGate.Core.Metering;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.Metering;

/// <summary>SPEC §8: units per request by the route's metering mode; a failing expression costs 1 unit and says why.</summary>
public sealed class MeterTests
{
    private static MeteringInput Input(string? responseJson = null, string? requestJson = null) => new()
    {
        Status = 200,
        RequestBytes = 300,
        ResponseBytes = 2000,
        DurationMs = 1500,
        SseEvents = 7,
        WsMessages = 11,
        RequestBody = requestJson is null ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(requestJson),
        ResponseBody = responseJson is null ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(responseJson),
    };

    [Fact]
    public void Measure_RequestMode_CountsOneUnit()
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.Request, "");

        // Act
        var result = Meter.Measure(rule, Input());

        // Assert
        Assert.Equal(new MeterResult(1, null), result);
    }

    [Theory]
    [InlineData(0, 0, 1)]
    [InlineData(1, 0, 1)]
    [InlineData(1024, 0, 1)]
    [InlineData(1024, 1, 2)]
    [InlineData(300, 2000, 3)]
    [InlineData(0, 10 * 1024, 10)]
    [InlineData(0, 10 * 1024 + 1, 11)]
    public void Measure_BytesMode_CountsStartedKibibytesAtLeastOne(long requestBytes, long responseBytes, long expected)
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.Bytes, "");

        // Act
        var result = Meter.Measure(rule, Input() with { RequestBytes = requestBytes, ResponseBytes = responseBytes });

        // Assert
        Assert.Equal(new MeterResult(expected, null), result);
    }

    [Theory]
    [InlineData(MeteringMode.ResponseField, "response.body.items.length", 3)]
    [InlineData(MeteringMode.ResponseField, "response.body.usage.total_tokens", 1234)]
    [InlineData(MeteringMode.Custom, "sseEvents", 7)]
    [InlineData(MeteringMode.Custom, "wsMessages", 11)]
    [InlineData(MeteringMode.Custom, "durationMs > 1000 ? 2 : 1", 2)]
    [InlineData(MeteringMode.Custom, "requestBytes + responseBytes", 2300)]
    [InlineData(MeteringMode.Custom, "status >= 400 ? 0 : 1", 1)]
    [InlineData(MeteringMode.Custom, "request.body.n * 2", 10)]
    [InlineData(MeteringMode.Custom, "2.5", 3)]
    [InlineData(MeteringMode.Custom, "2.4", 2)]
    [InlineData(MeteringMode.Custom, "0", 0)]
    [InlineData(MeteringMode.Custom, "(() => { const n = response.body.items.length; return n * 10; })()", 30)]
    public void Measure_ExpressionMode_ReturnsExpressionResult(MeteringMode mode, string expression, long expected)
    {
        // Arrange
        var rule = MeteringRule.Compile(mode, expression);
        var input = Input("""{"items":[1,2,3],"usage":{"total_tokens":1234}}""", """{"n":5}""");

        // Act
        var result = Meter.Measure(rule, input);

        // Assert
        Assert.Equal(new MeterResult(expected, null), result);
    }

    [Fact]
    public void Measure_ExpressionReadingStatus_SeesThisRequestsStatus()
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.Custom, "status >= 500 ? 0 : 1");

        // Act
        var failed = Meter.Measure(rule, Input() with { Status = 502 });
        var served = Meter.Measure(rule, Input() with { Status = 200 });

        // Assert
        Assert.Equal(0, failed.Units);
        Assert.Equal(1, served.Units);
    }

    [Theory]
    [InlineData("response.body.missing.length", "expression failed")]
    [InlineData("(() => { throw new Error('boom'); })()", "boom")]
    [InlineData("0 / 0", "NaN")]
    [InlineData("1 / 0", "Infinity")]
    [InlineData("-1", "negative")]
    [InlineData("'12'", "a string")]
    [InlineData("true", "a boolean")]
    [InlineData("undefined", "undefined")]
    [InlineData("null", "null")]
    [InlineData("response.body", "an object")]
    [InlineData("1e300", "more than")]
    [InlineData("1000000001", "more than 1000000000 units")]
    [InlineData("9007199254740991", "more than 1000000000 units")]
    [InlineData("(() => { while (true) {} })()", "expression failed")]
    public void Measure_ExpressionYieldsNoUsableCount_FallsBackToOneUnitWithError(string expression, string expectedError)
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.Custom, expression);

        // Act
        var result = Meter.Measure(rule, Input("""{"items":[1,2,3]}"""));

        // Assert
        Assert.Equal(1, result.Units);
        Assert.Contains(expectedError, result.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("<html>not json</html>")]
    [InlineData("{\"items\": [1, 2,")]
    public void Measure_ResponseBodyMissingOrNotJson_BodyIsNull(string body)
    {
        // Arrange
        var reads = MeteringRule.Compile(MeteringMode.ResponseField, "response.body === null ? 5 : 6");
        var fails = MeteringRule.Compile(MeteringMode.ResponseField, "response.body.items.length");

        // Act
        var nullBody = Meter.Measure(reads, Input(body));
        var failed = Meter.Measure(fails, Input(body));

        // Assert
        Assert.Equal(new MeterResult(5, null), nullBody);
        Assert.Equal(1, failed.Units);
        Assert.NotNull(failed.Error);
    }

    [Theory]
    [InlineData(MeteringMode.Custom, "")]
    [InlineData(MeteringMode.Custom, "response.body.")]
    [InlineData(MeteringMode.ResponseField, "   ")]
    [InlineData(MeteringMode.ResponseField, "const n = 1; n")]
    public void Compile_ExpressionModeWithInvalidExpression_Throws(MeteringMode mode, string expression)
    {
        // Act
        var ex = Assert.Throws<ExpressionException>(() => MeteringRule.Compile(mode, expression));
        var problem = MeteringRule.Validate(mode, expression);

        // Assert
        Assert.Equal(ex.Message, problem);
    }

    [Theory]
    [InlineData(MeteringMode.Request)]
    [InlineData(MeteringMode.Bytes)]
    public void Compile_NonExpressionMode_IgnoresExpression(MeteringMode mode)
    {
        // Act
        var rule = MeteringRule.Compile(mode, "this does not parse (");

        // Assert
        Assert.Equal(mode, rule.Mode);
        Assert.Null(rule.Expression);
        Assert.Null(MeteringRule.Validate(mode, "this does not parse ("));
    }

    [Theory]
    [InlineData("durationMs > 1000 ? 2 : 1", false, false)]
    [InlineData("response.body.items.length", false, true)]
    [InlineData("request.body.n + response.body.items.length", true, true)]
    [InlineData("(() => { const response = { body: 1 }; return response.body; })()", false, false)]
    [InlineData("globalThis['resp' + 'onse'].body.n", true, true)]
    public void Compile_Expression_KnowsWhichBodiesItReads(string expression, bool request, bool response)
    {
        // Act
        var rule = MeteringRule.Compile(MeteringMode.Custom, expression);

        // Assert
        Assert.Equal(request, rule.NeedsRequestBody);
        Assert.Equal(response, rule.NeedsResponseBody);
    }

    [Fact]
    public void Measure_ExpressionReadingRewriteGlobals_SeesThemUndefined()
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.Custom, "path === undefined && headers === undefined && user === undefined ? 1 : 99");

        // Act
        var result = Meter.Measure(rule, Input());

        // Assert
        Assert.Equal(new MeterResult(1, null), result);
    }

    [Fact]
    public void Measure_ManyThreads_EachSeesItsOwnInput()
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.ResponseField, "response.body.n + sseEvents");

        // Act
        var results = Enumerable.Range(0, 200).AsParallel()
            .Select(i => (Expected: i * 2L, Result: Meter.Measure(rule, Input($$"""{"n":{{i}}}""") with { SseEvents = i })))
            .ToList();

        // Assert
        Assert.All(results, r => Assert.Equal(new MeterResult(r.Expected, null), r.Result));
    }

    [Fact]
    public void Measure_ThreadAllocatedPastTheMemoryLimitSinceItsLastEvaluation_StillParsesA20KbBody()
    {
        // Arrange: a 20 KB body of 10,000 elements; one evaluation on this thread, then more than the memory limit
        // allocated outside any evaluation, as other requests served on the same thread do.
        var rule = MeteringRule.Compile(MeteringMode.ResponseField, "response.body.items.length");
        var input = Input("{\"items\":[" + string.Join(',', Enumerable.Repeat('1', 10_000)) + "]}");
        _ = Meter.Measure(rule, input);
        AllocateOnThisThread(2 * ExpressionEngine.MemoryLimit);

        // Act
        var result = Meter.Measure(rule, input);

        // Assert: before, the parse was charged with those allocations, failed, and the body read as null (1 unit).
        Assert.Equal(new MeterResult(10_000, null), result);
    }

    [Fact]
    public void Measure_BodyWhoseParseExceedsTheMemoryLimit_BodyIsNull()
    {
        // Arrange: under a mebibyte of JSON, but 200,000 objects take far more than the memory limit to build.
        var rule = MeteringRule.Compile(MeteringMode.ResponseField, "response.body === null ? 7 : response.body.length");
        var input = Input("[" + string.Join(',', Enumerable.Repeat("{\"a\":1}", 120_000)) + "]");

        // Act
        var result = Meter.Measure(rule, input);

        // Assert
        Assert.Equal(new MeterResult(7, null), result);
    }

    [Fact]
    public void Measure_BodyWithHugeInteger_ReadsItAsANumber()
    {
        // Arrange
        var rule = MeteringRule.Compile(MeteringMode.ResponseField, "typeof response.body.n === 'number' ? 5 : 6");

        // Act
        var result = Meter.Measure(rule, Input("""{"n":123456789012345678901234567890}"""));

        // Assert
        Assert.Equal(new MeterResult(5, null), result);
    }

    /// <summary>Allocates <paramref name="bytes"/> on the calling thread (counted by <see cref="GC.GetAllocatedBytesForCurrentThread"/>).</summary>
    private static void AllocateOnThisThread(long bytes)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        while (GC.GetAllocatedBytesForCurrentThread() - before < bytes)
        {
            GC.KeepAlive(new byte[64 * 1024]);
        }
    }

    [Theory]
    [InlineData("null[request.body.k]", "expression failed: Cannot read properties of null (reading 'ak_012345678***')")]
    [InlineData("(() => { throw request.body.k; })()", "expression failed: ak_012345678***")]
    [InlineData("Symbol.keyFor(request.body.k + '')", "expression failed: ak_012345678*** is not a symbol")]
    public void Measure_ExpressionErrorQuotingAKey_ReasonCutsTheKeyToItsPrefix(string expression, string expectedError)
    {
        // Arrange: a client's key in the body, quoted by the engine's error message, which is logged (event 3002).
        var rule = MeteringRule.Compile(MeteringMode.Custom, expression);
        var input = Input(requestJson: """{"k":"ak_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}""");

        // Act
        var result = Meter.Measure(rule, input);

        // Assert
        Assert.Equal(new MeterResult(1, expectedError), result);
    }

    [Fact]
    public void Measure_ExpressionThrowingAHugeString_ReasonKeepsItsFirst500Characters()
    {
        // Arrange: the reason is logged on every request (event 3002).
        var rule = MeteringRule.Compile(MeteringMode.Custom, "(() => { throw 'x'.repeat(1e6); })()");

        // Act
        var result = Meter.Measure(rule, Input());

        // Assert
        Assert.Equal(new MeterResult(1, "expression failed: " + new string('x', 500) + "… (1000000 characters)"), result);
    }

    [Fact]
    public void Measure_ExpressionWhoseBuiltInFailsWithADotNetException_CountsOneUnitAndSaysSo()
    {
        // Arrange: the engine overflows on this array-like instead of throwing a JavaScript error.
        var rule = MeteringRule.Compile(MeteringMode.Custom, "Array.prototype.toReversed.call(request.body.items).length");
        var input = Input(requestJson: """{"items":{"length":4294967295}}""");

        // Act
        var result = Meter.Measure(rule, input);

        // Assert
        Assert.Equal(new MeterResult(1, "expression failed: the script engine failed (OverflowException)"), result);
    }

    [Fact]
    public void Measure_AfterABuiltInFailedWithADotNetException_NextExpressionOnTheThreadRunsNormally()
    {
        // Arrange
        var failing = MeteringRule.Compile(MeteringMode.Custom, "Array.prototype.toReversed.call({ length: 2 ** 32 - 1 }).length");
        var next = MeteringRule.Compile(MeteringMode.Custom, "(() => { const f = n => n < 2 ? n : f(n - 1) + f(n - 2); return f(10) + request.body.n; })()");
        Meter.Measure(failing, Input());

        // Act
        var result = Meter.Measure(next, Input(requestJson: """{"n":5}"""));

        // Assert
        Assert.Equal(new MeterResult(60, null), result);
    }
}
