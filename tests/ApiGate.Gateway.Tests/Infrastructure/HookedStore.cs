using System.Reflection;
using System.Runtime.ExceptionServices;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A real store, forwarded call by call, with one hook: <see cref="Before"/> runs once, before the next call of one
/// method (one returning <c>Task&lt;T&gt;</c>). For another party's write landing between a service's check and its own
/// write, with no timing involved.
/// </summary>
public class HookedStore : DispatchProxy
{
    private static readonly MethodInfo ThenMethod = typeof(HookedStore).GetMethod(nameof(ThenAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    private IGatewayStore _inner = null!;
    private string _method = "";
    private Func<Task>? _before;

    /// <summary>Runs once, before the next call of the hooked method; null again once it has run.</summary>
    internal Func<Task>? Before
    {
        get => Volatile.Read(ref _before);
        set => Volatile.Write(ref _before, value);
    }

    /// <summary>The store to hand to the code under test.</summary>
    internal IGatewayStore Store => (IGatewayStore)(object)this;

    /// <summary>Wraps <paramref name="inner"/>, hooking <paramref name="method"/> (a name of <see cref="IGatewayStore"/>).</summary>
    internal static HookedStore Wrap(IGatewayStore inner, string method, Func<Task>? before = null)
    {
        var hooked = (HookedStore)(object)Create<IGatewayStore, HookedStore>();
        (hooked._inner, hooked._method, hooked._before) = (inner, method, before);
        return hooked;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name == _method && Interlocked.Exchange(ref _before, null) is { } before)
        {
            Func<object?> call = () => Forward(targetMethod, args);
            return ThenMethod.MakeGenericMethod(targetMethod.ReturnType.GetGenericArguments()[0]).Invoke(null, [before, call]);
        }

        return Forward(targetMethod, args);
    }

    private static async Task<T> ThenAsync<T>(Func<Task> before, Func<object?> call)
    {
        await before();
        return await (Task<T>)call()!;
    }

    private object? Forward(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}
