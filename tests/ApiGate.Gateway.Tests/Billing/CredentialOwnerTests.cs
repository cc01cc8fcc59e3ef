using System.Reflection;
using ApiGate.Core.Billing;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// A credential's owner is read with their paying state in one query (<see cref="CredentialOwner"/>): a key's or a token
/// subject's lookup on a cache miss is one store round trip with billing on, not one for the key and its owner and another
/// for the owner's billing customer.
/// </summary>
public sealed class CredentialOwnerTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string Issuer = "https://issuer.example.com";
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// The subscription status each user's billing customer has (null: no customer; "": one who never subscribed; a
    /// name ending in "-noid": the status without a subscription id) and whether that pays.
    /// </summary>
    private static readonly (string Name, string? Status, bool Paying)[] Owners =
    [
        ("none", null, false), ("never", "", false), ("active", "active", true), ("trialing", "trialing", true),
        ("pastdue", "past_due", false), ("canceled", "canceled", false), ("active-noid", "active", false),
    ];

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task KeyAndSubjectLookups_OwnersWithEachSubscriptionState_CarryWhetherTheOwnerPays(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var keys = new Dictionary<string, ApiKeyDefinition>();
        foreach (var (name, status, _) in Owners)
        {
            keys[name] = (await CreateOwnerAsync(store, name, status)).Key;
        }

        // Act
        var byKey = new Dictionary<string, CredentialOwner>();
        var bySubject = new Dictionary<string, CredentialOwner?>();
        foreach (var (name, _, _) in Owners)
        {
            byKey[name] = Assert.Single(await store.FindKeysByPrefixAsync(keys[name].Prefix, CancellationToken.None)).Owner;
            bySubject[name] = await store.FindOwnerByIdentityAsync(Issuer, "sub-" + name, CancellationToken.None);
        }

        // Assert
        foreach (var (name, _, paying) in Owners)
        {
            Assert.Equal((name + "@example.com", paying), (byKey[name].User.Email, byKey[name].Paying));
            Assert.Equal((name + "@example.com", paying), (bySubject[name]!.User.Email, bySubject[name]!.Paying));
        }

        Assert.Null(await store.FindOwnerByIdentityAsync(Issuer, "sub-nobody", CancellationToken.None));
        Assert.Equal("active@example.com", (await store.FindUserByIdentityAsync(Issuer + "/", "sub-active", CancellationToken.None))!.Email);
    }

    [Fact]
    public async Task KeyCacheMiss_BillingOn_OneStoreReadDecidesKeyOwnerAndOverage()
    {
        // Arrange: billing on (a provider is configured; none of its calls is made here), a paying and a past-due owner
        var store = (await engines.CreateAsync(GatewayStores.Sqlite)).Store;
        var paying = await CreateOwnerAsync(store, "payer", "active");
        var pastDue = await CreateOwnerAsync(store, "late", "past_due");
        var recorded = RecordingReads.Over(store);
        var billing = new BillingService(DispatchProxy.Create<IBillingProvider, NoProviderCalls>(), recorded, recorded, TimeProvider.System, PaymentFailedAction.Suspend);
        var authenticator = new ApiKeyAuthenticator(recorded, new GatewayOptions(), new StoreLookupGuard(TimeProvider.System), TimeProvider.System, billing);
        var snapshot = TestSnapshots.WithPlan((await store.FindPlanAsync("free", CancellationToken.None))!);

        // Act
        var (payer, payerError) = await authenticator.AuthenticateAsync(paying.Presented, snapshot, CancellationToken.None);
        var (late, lateError) = await authenticator.AuthenticateAsync(pastDue.Presented, snapshot, CancellationToken.None);

        // Assert: one read per key, the key's own; the overage decision came with it
        Assert.Equal((null, null), (payerError, lateError));
        Assert.Equal(("payer@example.com", false), (payer!.User.Email, payer.Unsubscribed));
        Assert.Equal(("late@example.com", true), (late!.User.Email, late.Unsubscribed));
        Assert.Equal([nameof(IIdentityStore.FindKeysByPrefixAsync), nameof(IIdentityStore.FindKeysByPrefixAsync)], ((RecordingReads)(object)recorded).Calls);
    }

    /// <summary>A user named <paramref name="name"/> with a key, a token subject, and the billing customer <paramref name="status"/> says.</summary>
    private static async Task<(ApiKeyDefinition Key, string Presented)> CreateOwnerAsync(IGatewayStore store, string name, string? status)
    {
        var user = (await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = name + "@example.com" }, CancellationToken.None)).Value!;
        var key = (await new KeyService(store, TimeProvider.System).CreateAsync(new KeyChanges { User = user.Id }, CancellationToken.None)).Value!;
        await store.LinkIdentityAsync(new UserIdentity { Issuer = Issuer, Subject = "sub-" + name, UserId = user.Id, CreatedAt = Now }, configuration: false, CancellationToken.None);
        if (status is not null)
        {
            var subscription = status.Length == 0 || name.EndsWith("-noid", StringComparison.Ordinal) ? "" : "sub_" + name;
            await store.AddBillingCustomerAsync(new BillingCustomer(user.Id, "stripe", "cus_" + name, subscription, status, 10, 20, false, Now), CancellationToken.None);
        }

        return (key.Key, key.FullKey);
    }

    /// <summary>The real store, recording the name of every method called on it.</summary>
    public class RecordingReads : DispatchProxy
    {
        private IGatewayStore _inner = null!;

        public List<string> Calls { get; } = [];

        public static IGatewayStore Over(IGatewayStore inner)
        {
            var proxy = Create<IGatewayStore, RecordingReads>();
            ((RecordingReads)(object)proxy)._inner = inner;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            lock (Calls)
            {
                Calls.Add(targetMethod!.Name);
            }

            return targetMethod.Invoke(_inner, args);
        }
    }

    /// <summary>A billing provider that is configured but must not be called.</summary>
    public class NoProviderCalls : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new InvalidOperationException("the provider was called: " + targetMethod!.Name);
    }
}
