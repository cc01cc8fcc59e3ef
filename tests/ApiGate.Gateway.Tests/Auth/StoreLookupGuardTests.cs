using System.Reflection;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// A key not in memory when the store hangs or is down (<see cref="StoreLookupGuard"/>): one lookup per key however many
/// requests bring it, each request answered 503 after at most <see cref="StoreLookupGuard.MaxWait"/>, then 503 at once
/// except one try per <see cref="StoreLookupGuard.HoldOff"/>, and back to normal with the first lookup that succeeds. A real
/// SQLite store behind a gate that holds its key reads; the clock is a fake one, so no test waits for real time.
/// </summary>
public sealed class StoreLookupGuardTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));
    private TempStore _temp = null!;
    private GatedKeyReads _store = null!;
    private StoreLookupGuard _guard = null!;
    private ApiKeyAuthenticator _keys = null!;
    private ConfigSnapshot _snapshot = null!;

    public async Task InitializeAsync()
    {
        _temp = await TempStore.CreateAsync();
        _store = GatedKeyReads.Over(_temp.Store);
        _guard = new StoreLookupGuard(_time);
        _keys = new ApiKeyAuthenticator(_store.AsStore, new GatewayOptions(), _guard, _time);
        _snapshot = TestSnapshots.WithPlan((await _temp.Store.FindPlanAsync("free", CancellationToken.None))!);
    }

    public async Task DisposeAsync() => await _temp.DisposeAsync();

    [Fact]
    public async Task StoreHangs_RequestsForOneKey_OneLookup_Each503AtMaxWait_ThenOthers503WithoutLookupUntilHoldOff()
    {
        // Arrange
        var a = await CreateKeyAsync("a@example.com");
        var b = await CreateKeyAsync("b@example.com");
        var c = await CreateKeyAsync("c@example.com");
        _store.Hold();

        // Act + Assert: ten requests with key a wait for one lookup
        var waiting = Enumerable.Range(0, 10).Select(_ => _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None).AsTask()).ToArray();
        Assert.Equal(1, _keys.Lookups);
        Assert.All(waiting, w => Assert.False(w.IsCompleted));

        _time.Advance(StoreLookupGuard.MaxWait - TimeSpan.FromMilliseconds(1));
        Assert.All(waiting, w => Assert.False(w.IsCompleted));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        foreach (var (identity, error) in await Task.WhenAll(waiting))
        {
            Assert.Null(identity);
            Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, error);
        }

        // the store counts as down: key b is refused at once and the store is not asked
        var bDuringHoldOff = _keys.AuthenticateAsync(b, _snapshot, CancellationToken.None);
        Assert.True(bDuringHoldOff.IsCompleted);
        Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, (await bDuringHoldOff).Error);
        Assert.Equal(1, _keys.Lookups);

        // a hold-off later one request tries again (key b: a lookup of its own); key c at the same moment does not
        _time.Advance(StoreLookupGuard.HoldOff);
        var bProbe = _keys.AuthenticateAsync(b, _snapshot, CancellationToken.None).AsTask();
        var cMeanwhile = _keys.AuthenticateAsync(c, _snapshot, CancellationToken.None);
        Assert.Equal(2, _keys.Lookups);
        Assert.False(bProbe.IsCompleted);
        Assert.True(cMeanwhile.IsCompleted);
        Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, (await cMeanwhile).Error);

        // the store answers: the probe succeeds, the store counts as up, and key c is read normally
        _store.Release();
        var (bIdentity, bError) = await bProbe;
        var (cIdentity, cError) = await _keys.AuthenticateAsync(c, _snapshot, CancellationToken.None);
        Assert.Null(bError);
        Assert.Equal("b@example.com", bIdentity!.User.Email);
        Assert.Null(cError);
        Assert.Equal("c@example.com", cIdentity!.User.Email);
        Assert.Equal(3, _keys.Lookups);
        Assert.Equal(10, _guard.Failures); // the ten requests that waited in vain; none after
    }

    [Fact]
    public async Task FloodOfUnknownKeys_PastTheCacheBound_KnownKeyStaysCachedAndUnknownOnesAreReadAgain()
    {
        // Arrange: a cache of four entries of each kind, with one known key in it
        var keys = new ApiKeyAuthenticator(_store.AsStore, new GatewayOptions(), _guard, _time, maxEntries: 4);
        var known = await CreateKeyAsync("known@example.com");
        Assert.Null((await keys.AuthenticateAsync(known, _snapshot, CancellationToken.None)).Error);
        var madeUp = Enumerable.Range(0, 10).Select(i => Core.Identity.ApiKeys.Generate(new GatewayOptions().AuthKeyPrefix)).ToList();

        // Act
        foreach (var key in madeUp)
        {
            Assert.Equal(ApiKeyAuthenticator.Errors.Invalid, (await keys.AuthenticateAsync(key, _snapshot, CancellationToken.None)).Error);
        }

        var afterFlood = keys.Lookups;
        var (identity, error) = await keys.AuthenticateAsync(known, _snapshot, CancellationToken.None);
        var (_, firstMadeUpAgain) = await keys.AuthenticateAsync(madeUp[0], _snapshot, CancellationToken.None);

        // Assert: eleven reads for eleven keys; the known key is still served from memory; the unknown part started over
        Assert.Equal(11, afterFlood);
        Assert.Null(error);
        Assert.Equal("known@example.com", identity!.User.Email);
        Assert.Equal(ApiKeyAuthenticator.Errors.Invalid, firstMadeUpAgain);
        Assert.Equal(12, keys.Lookups);
    }

    [Fact]
    public async Task HungLookupEnds_ItsResultCached_NextRequestNeedsNoLookup()
    {
        // Arrange: a request gave up on key a's lookup
        var a = await CreateKeyAsync("a@example.com");
        _store.Hold();
        var gaveUp = _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None).AsTask();
        _time.Advance(StoreLookupGuard.MaxWait);
        Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, (await gaveUp).Error);

        // Act: the lookup it gave up on completes after all (the next request finds its result cached, or joins it if
        // it is still finishing: either way the store is not read again)
        _store.Release();
        _time.Advance(StoreLookupGuard.HoldOff);
        var (identity, error) = await _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None);

        // Assert
        Assert.Null(error);
        Assert.Equal("a@example.com", identity!.User.Email);
        Assert.Equal(1, _keys.Lookups);
    }

    [Fact]
    public async Task StoreSaysUnavailable_503AtOnce_ThenOneTryPerHoldOff_WorksWhenItAnswers()
    {
        // Arrange
        var a = await CreateKeyAsync("a@example.com");
        _store.FailWith(new StoreUnavailableException("cannot connect to PostgreSQL at 127.0.0.1:5432"));

        // Act + Assert: the failure is not waited for; the next request within the hold-off does not ask the store
        var first = await _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None);
        var second = await _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None);
        Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, first.Error);
        Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, second.Error);
        Assert.Equal(1, _keys.Lookups);

        _time.Advance(StoreLookupGuard.HoldOff);
        var third = await _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None);
        Assert.Equal(ApiKeyAuthenticator.Errors.StoreUnavailable, third.Error);
        Assert.Equal(2, _keys.Lookups);

        _store.Release();
        _time.Advance(StoreLookupGuard.HoldOff);
        var fourth = await _keys.AuthenticateAsync(a, _snapshot, CancellationToken.None);
        Assert.Null(fourth.Error);
        Assert.Equal("a@example.com", fourth.Identity!.User.Email);
        Assert.Equal(3, _keys.Lookups);
        Assert.Equal(2, _guard.Failures);
    }

    [Fact]
    public async Task ClientGoesAway_WhileWaiting_CancelledNotCountedAsStoreFailure()
    {
        // Arrange
        var a = await CreateKeyAsync("a@example.com");
        _store.Hold();
        using var aborted = new CancellationTokenSource();

        // Act
        var waiting = _keys.AuthenticateAsync(a, _snapshot, aborted.Token).AsTask();
        await aborted.CancelAsync();

        // Assert
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, _guard.Failures);
        Assert.True(_guard.MayAsk());
        _store.Release();
    }

    private async Task<string> CreateKeyAsync(string email)
    {
        var user = (await new UserService(_temp.Store, TimeProvider.System).CreateAsync(new UserChanges { Email = email }, CancellationToken.None)).Value!;
        var created = await new KeyService(_temp.Store, TimeProvider.System).CreateAsync(new KeyChanges { User = user.Id }, CancellationToken.None);
        return created.Value!.FullKey;
    }

    /// <summary>
    /// The real store, except that its key reads (<see cref="IIdentityStore.FindKeysByPrefixAsync"/>) can be held until
    /// released, or made to fail; everything else goes straight through.
    /// </summary>
    public class GatedKeyReads : DispatchProxy
    {
        private IIdentityStore _inner = null!;
        private TaskCompletionSource _gate = Open();
        private Exception? _failure;

        public static GatedKeyReads Over(IIdentityStore inner)
        {
            var proxy = Create<IIdentityStore, GatedKeyReads>();
            var gated = (GatedKeyReads)(object)proxy;
            gated._inner = inner;
            return gated;
        }

        public IIdentityStore AsStore => (IIdentityStore)(object)this;

        public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void FailWith(Exception failure) => _failure = failure;

        public void Release()
        {
            _failure = null;
            _gate.TrySetResult();
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(IIdentityStore.FindKeysByPrefixAsync))
            {
                return ReadKeysAsync(targetMethod, args);
            }

            return targetMethod.Invoke(_inner, args);
        }

        private async Task<IReadOnlyList<(ApiKeyDefinition Key, CredentialOwner Owner)>> ReadKeysAsync(MethodInfo method, object?[]? args)
        {
            if (_failure is { } failure)
            {
                throw failure;
            }

            await _gate.Task;
            return await (Task<IReadOnlyList<(ApiKeyDefinition Key, CredentialOwner Owner)>>)method.Invoke(_inner, args)!;
        }

        private static TaskCompletionSource Open()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }
}
