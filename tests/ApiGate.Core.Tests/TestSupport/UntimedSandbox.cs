using ApiGate.Core.Expressions;

namespace ApiGate.Core.Tests.TestSupport;

/// <summary>
/// For the tests of what is not the time limit: one sandbox per thread whose time limit a loaded machine cannot reach
/// (a first evaluation on a thread pays for JIT), so a test that expects another failure, or a result, is never failed
/// on time instead.
/// </summary>
internal static class UntimedSandbox
{
    private static readonly ThreadLocal<ExpressionSandbox> PerThread = new(() => new ExpressionSandbox(TimeSpan.FromMinutes(5)));

    public static ExpressionSandbox Current => PerThread.Value!;
}
