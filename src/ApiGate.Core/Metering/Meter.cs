using System.Globalization;
using ApiGate.Core.Expressions;
using ApiGate.Core.Routing;
using Jint;
using Jint.Native;
using Jint.Runtime;

namespace ApiGate.Core.Metering;

/// <summary>What metering may read about one finished request (SPEC §8); a value, so measuring allocates nothing for it.</summary>
public readonly record struct MeteringInput
{
    /// <summary>The status code sent to the client: <c>status</c>.</summary>
    public int Status { get; init; }

    /// <summary>Request body bytes received from the client: <c>requestBytes</c>.</summary>
    public long RequestBytes { get; init; }

    /// <summary>Response body bytes sent to the client: <c>responseBytes</c>.</summary>
    public long ResponseBytes { get; init; }

    /// <summary>Time from arrival to the end of the response: <c>durationMs</c>.</summary>
    public double DurationMs { get; init; }

    /// <summary>Server-sent events relayed on an <c>sse</c> route: <c>sseEvents</c>.</summary>
    public long SseEvents { get; init; }

    /// <summary>WebSocket messages relayed (both directions) on a <c>websocket</c> route: <c>wsMessages</c>.</summary>
    public long WsMessages { get; init; }

    /// <summary>The request body as UTF-8 JSON, when <see cref="MeteringRule.NeedsRequestBody"/>; empty or not JSON → <c>request.body</c> is null.</summary>
    public ReadOnlyMemory<byte> RequestBody { get; init; }

    /// <summary>The response body as UTF-8 JSON, when <see cref="MeteringRule.NeedsResponseBody"/>; empty or not JSON → <c>response.body</c> is null.</summary>
    public ReadOnlyMemory<byte> ResponseBody { get; init; }
}

/// <summary>The units to record for a request. <see cref="Error"/> is set when an expression failed and 1 unit was used instead.</summary>
public readonly record struct MeterResult(long Units, string? Error);

/// <summary>
/// Turns a finished request into usage units by its route's metering mode (SPEC §8): <c>request</c> = 1;
/// <c>bytes</c> = (request + response bytes) / 1024 rounded up, at least 1; <c>response_field</c> and <c>custom</c> =
/// the expression's result, a finite number ≥ 0 rounded to the nearest whole unit (halves away from zero). An
/// expression that throws, times out or yields anything else costs 1 unit and reports why; measuring never throws.
/// </summary>
public static class Meter
{
    /// <summary>
    /// The most units one request can cost (a billion: a terabyte in <c>bytes</c> mode). An expression yielding more
    /// costs 1 unit and reports why. The bound keeps every counter that sums units (a user's month, rollups, Redis)
    /// far from overflowing: a caller whose request sets the count (<c>request.body.n</c>) could otherwise wrap one.
    /// </summary>
    public const long MaxExpressionUnits = 1_000_000_000;

    public static MeterResult Measure(MeteringRule rule, in MeteringInput input) => rule.Mode switch
    {
        MeteringMode.Request => new MeterResult(1, null),
        MeteringMode.Bytes => new MeterResult(Bytes(input.RequestBytes, input.ResponseBytes), null),
        _ => Evaluate(rule, input),
    };

    /// <summary>
    /// Whole kibibytes started: 1 for 0–1024 bytes, 2 for 1025–2048, … Rounding up (and the minimum of 1) keeps
    /// a stream of small requests from being free, which rounding down would make them.
    /// </summary>
    public static long Bytes(long requestBytes, long responseBytes)
    {
        var total = Math.Max(0, requestBytes) + Math.Max(0, responseBytes);
        return Math.Clamp(total / 1024 + (total % 1024 == 0 ? 0 : 1), 1, MaxExpressionUnits);
    }

    /// <summary>Converts an expression's result to units, or 1 unit and the reason it is not a usable count.</summary>
    internal static MeterResult ToUnits(JsValue value)
    {
        if (!value.IsNumber())
        {
            return new MeterResult(1, $"metering expression returned {Describe(value)}, not a number");
        }

        var number = value.AsNumber();
        if (!double.IsFinite(number))
        {
            return new MeterResult(1, $"metering expression returned {number.ToString(CultureInfo.InvariantCulture)}, not a finite number");
        }

        if (number < 0)
        {
            return new MeterResult(1, $"metering expression returned a negative number ({number.ToString(CultureInfo.InvariantCulture)})");
        }

        var rounded = Math.Round(number, MidpointRounding.AwayFromZero);
        return rounded > MaxExpressionUnits
            ? new MeterResult(1, $"metering expression returned {number.ToString(CultureInfo.InvariantCulture)}, more than {MaxExpressionUnits} units")
            : new MeterResult((long)rounded, null);
    }

    private static MeterResult Evaluate(MeteringRule rule, in MeteringInput input)
    {
        if (rule.Expression is not { } expression)
        {
            return new MeterResult(1, "route has no metering expression");
        }

        try
        {
            // The path-rewrite names stay undefined: the sandbox clears every context value after each evaluation.
            var sandbox = ExpressionEngine.CurrentSandbox;
            sandbox.Set("status", input.Status);
            sandbox.Set("requestBytes", (double)input.RequestBytes);
            sandbox.Set("responseBytes", (double)input.ResponseBytes);
            sandbox.Set("durationMs", input.DurationMs);
            sandbox.Set("sseEvents", (double)input.SseEvents);
            sandbox.Set("wsMessages", (double)input.WsMessages);
            sandbox.Set("request", rule.NeedsRequestBody ? Message(sandbox, input.RequestBody.Span) : JsValue.Undefined);
            sandbox.Set("response", rule.NeedsResponseBody ? Message(sandbox, input.ResponseBody.Span) : JsValue.Undefined);
            return ToUnits(sandbox.Evaluate(expression));
        }
        catch (ExpressionException ex)
        {
            return new MeterResult(1, ex.Message);
        }
    }

    /// <summary>
    /// <c>{ body }</c> with the body parsed from JSON; null when there is none, it is not JSON, or its parsed form would
    /// take more than <see cref="ExpressionEngine.MemoryLimit"/> (the parse's own budget, whatever else the thread did).
    /// </summary>
    private static JsObject Message(ExpressionSandbox sandbox, ReadOnlySpan<byte> utf8Json)
    {
        var message = new JsObject(sandbox.Engine);
        JsValue body = JsValue.Null;
        if (!utf8Json.IsEmpty)
        {
            try
            {
                body = sandbox.ParseJson(utf8Json);
            }
            catch (JintException)
            {
                // Not JSON, nested past the parser's depth limit or past the memory limit: the expression sees null and
                // can test for it, as for a body larger than the gateway keeps.
            }
        }

        message.Set("body", body);
        return message;
    }

    private static string Describe(JsValue value) => value.Type switch
    {
        Types.Undefined => "undefined",
        Types.Null => "null",
        Types.String => "a string",
        Types.Boolean => "a boolean",
        Types.BigInt => "a BigInt",
        Types.Symbol => "a symbol",
        _ => "an object",
    };
}
