using System.Net;
using System.Reflection;
using System.Runtime.ExceptionServices;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// A session is bound to the password hash that was checked at login: a password change or reset that lands while a
/// login with the old password is being completed must end that login's session too (docs/portal.md: "A password change
/// or reset ends every session opened with the old password").
/// </summary>
public sealed class PortalSessionBindingTests : IAsyncLifetime
{
    private const string OldPassword = "the old leaked password";

    private readonly StoreWithAHook _hook = new();

    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync(
            o =>
            {
                o.PortalEnabled = true;
                o.PortalRequireVerification = false; // no SMTP needed: the account is active at once
            },
            services: s =>
            {
                var real = (IGatewayStore)s.Last(d => d.ServiceType == typeof(IGatewayStore)).ImplementationInstance!;
                s.AddSingleton(StoreWithAHook.Wrap(real, _hook));
            });
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Login_PasswordChangedAfterTheOldOneWasCheckedButBeforeTheSessionOpened_SessionEndsLikeTheOthers()
    {
        // Arrange: a customer whose password leaked; an attacker logs in with it while the owner resets it. The reset is
        // made to land in the login's window: after its password check (the limiter's success bookkeeping is the next
        // store call) and before the login page reads the account to open the session.
        var accounts = _gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync("owner@customer.example", OldPassword, _gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var user = (await _gateway.Store.FindUserAsync("owner@customer.example", CancellationToken.None))!;
        _hook.AfterLoginSucceeded = () => _hook.Inner.SetPortalPasswordAsync(
            user.Id, PortalPasswords.Hash("the owner's new password"), DateTimeOffset.UtcNow, CancellationToken.None);
        using var attacker = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
        {
            BaseAddress = new Uri(_gateway.Url),
        };

        // Act
        var login = await FormPosts.PostAsync(attacker, "/portal/login", "login", ("Email", "owner@customer.example"), ("Password", OldPassword));
        var after = await attacker.GetAsync("/portal/keys");

        // Assert: the login itself succeeded with the old password (it was checked before the change) ...
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Null(_hook.AfterLoginSucceeded); // the change did land inside the window
        // ... but its session was opened under the old password, so like every other one it must not outlive the change
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/portal/login", after.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }
}

/// <summary>
/// The gateway's store, forwarded call by call, with one hook: after the portal login limiter clears an account's count
/// (which it does right after a correct password), <see cref="AfterLoginSucceeded"/> runs once.
/// </summary>
public class StoreWithAHook : DispatchProxy
{
    internal IGatewayStore Inner { get; private set; } = null!;

    internal Func<Task>? AfterLoginSucceeded { get; set; }

    private StoreWithAHook? _shared;

    internal static IGatewayStore Wrap(IGatewayStore inner, StoreWithAHook hook)
    {
        hook.Inner = inner;
        var proxy = Create<IGatewayStore, StoreWithAHook>();
        ((StoreWithAHook)(object)proxy)._shared = hook;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var hook = _shared!;
        if (targetMethod!.Name == nameof(IGatewayStore.RemoveAttemptCountAsync) && args![0] is string key
            && key.Contains("portal-login-account", StringComparison.Ordinal) && hook.AfterLoginSucceeded is { } after)
        {
            hook.AfterLoginSucceeded = null;
            return RemoveThenAsync(hook.Inner.RemoveAttemptCountAsync(key, (CancellationToken)args[1]!), after);
        }

        try
        {
            return targetMethod.Invoke(hook.Inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }

    private static async Task RemoveThenAsync(Task remove, Func<Task> after)
    {
        await remove;
        await after();
    }
}
