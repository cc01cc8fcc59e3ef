using ApiGate.Core.Expressions;
using ApiGate.Core.Routing;
using Jint;

namespace ApiGate.Core.Metering;

/// <summary>
/// A route's <c>metering_mode</c> and <c>metering_expr</c> compiled once per config snapshot (SPEC §8). Shareable
/// between threads; <see cref="Meter.Measure"/> turns one finished request into units with it.
/// </summary>
public sealed class MeteringRule
{
    /// <summary>The default rule: one unit per request.</summary>
    public static readonly MeteringRule PerRequest = new(MeteringMode.Request, null, false, false);

    private MeteringRule(MeteringMode mode, CompiledExpression? expression, bool needsRequestBody, bool needsResponseBody)
    {
        Mode = mode;
        Expression = expression;
        NeedsRequestBody = needsRequestBody;
        NeedsResponseBody = needsResponseBody;
    }

    public MeteringMode Mode { get; }

    /// <summary>The compiled <c>metering_expr</c> for <see cref="MeteringMode.ResponseField"/> and <see cref="MeteringMode.Custom"/>; else null.</summary>
    public CompiledExpression? Expression { get; }

    /// <summary>
    /// True when the expression reads <c>request</c>: only then does the forwarder need to keep a copy of the request
    /// body for <see cref="MeteringInput.RequestBody"/>.
    /// </summary>
    public bool NeedsRequestBody { get; }

    /// <summary>True when the expression reads <c>response</c>: only then must the response body be kept for metering.</summary>
    public bool NeedsResponseBody { get; }

    /// <summary>
    /// Compiles a route's metering settings. <paramref name="expression"/> is ignored by <c>request</c> and
    /// <c>bytes</c>; the expression modes throw <see cref="ExpressionException"/> when it is empty or does not parse.
    /// </summary>
    public static MeteringRule Compile(MeteringMode mode, string expression)
    {
        if (mode is not (MeteringMode.ResponseField or MeteringMode.Custom))
        {
            return mode == MeteringMode.Request ? PerRequest : new MeteringRule(mode, null, false, false);
        }

        // Bodies are buffered and parsed only for routes whose expressions read them (the compiled expression knows
        // which context globals it may read; anything indirect counts as reading everything).
        var compiled = ExpressionEngine.Compile(expression);
        bool Reads(string name) => compiled.Reads(name);

        return new MeteringRule(mode, compiled, Reads("request"), Reads("response"));
    }

    /// <summary>The values a metering expression can read (<see cref="Meter"/> sets them; the path-rewrite names stay undefined).</summary>
    internal static readonly string[] ContextNames = ["status", "requestBytes", "responseBytes", "durationMs", "sseEvents", "wsMessages", "request", "response"];

    /// <summary>
    /// Null when <see cref="Compile"/> would succeed and the expression reads only <see cref="ContextNames"/> and
    /// JavaScript's built-ins; else the reason, for <c>metering_expr</c> validation.
    /// </summary>
    public static string? Validate(MeteringMode mode, string expression)
    {
        try
        {
            var rule = Compile(mode, expression);

            // An undefined name failed every evaluation ("x is not defined", billed as 1 unit and logged per request),
            // and a path-rewrite name (path, headers, …) is always undefined here: refused when the route is written.
            // A stored expression still compiles, so a snapshot never fails on one written before this check.
            return rule.Expression is { } compiled && ExpressionEngine.FirstUnavailableName(compiled, ContextNames) is { } name
                ? $"the expression reads '{name}', which a metering expression does not have (it can read {string.Join(", ", ContextNames)} and JavaScript's built-ins)"
                : null;
        }
        catch (ExpressionException ex)
        {
            return ex.Message;
        }
    }
}
