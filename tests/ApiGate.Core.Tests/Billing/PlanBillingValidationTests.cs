using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Entitlements;

namespace ApiGate.Core.Tests.Billing;

public sealed class PlanBillingValidationTests
{
    [Theory]
    [InlineData("prod_123", null, null, 0, "stripe_price_id")]
    [InlineData("price_1", "price_2", null, 1, "stripe_meter_event")]
    [InlineData("price_1", null, "api_overage", 1, "stripe_overage_price_id")]
    [InlineData("price_1", "price_2", "api_overage", 0, "overage_price")]
    [InlineData("price_1", "price_2", "bad name!", 1, "stripe_meter_event")]
    public async Task CreateAsync_InconsistentStripeFields_RefusedNamingTheField(string? price, string? overagePrice, string? meter, long overage, string field)
    {
        var service = new PlanService(new PlansOnly(), TimeProvider.System);

        var result = await service.CreateAsync(new PlanInput
        {
            Id = "p", Name = "P", OveragePrice = overage, StripePriceId = price, StripeOveragePriceId = overagePrice, StripeMeterEvent = meter,
        }, CancellationToken.None);

        Assert.False(result.Ok);
        Assert.Equal(field, result.Error!.Field);
    }

    [Theory]
    [InlineData("api<script>alert(1)</script>", "is not a meter event name: U+003C at position 4 is not allowed (a meter event name is letters, digits, '_', '-' and '.')")]
    [InlineData("api overage", "is not a meter event name: U+0020 at position 4 is not allowed (a meter event name is letters, digits, '_', '-' and '.')")]
    [InlineData("secret-looking-value-that-is-far-too-long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "is longer than 100 characters (a meter event name is letters, digits, '_', '-' and '.', at most 100)")]
    public async Task CreateAsync_MeterEventNameRefused_NamesFieldAndRuleWithoutRepeatingTheValue(string meter, string message)
    {
        // Arrange
        var store = new PlansOnly();
        var service = new PlanService(store, TimeProvider.System);

        // Act
        var result = await service.CreateAsync(new PlanInput
        {
            Id = "p", Name = "P", OveragePrice = 1, StripePriceId = "price_1", StripeOveragePriceId = "price_2", StripeMeterEvent = meter,
        }, CancellationToken.None);

        // Assert
        Assert.Equal("stripe_meter_event", result.Error!.Field);
        Assert.Equal(message, result.Error.Message);
        Assert.DoesNotContain(meter[..10], result.Error.Message, StringComparison.Ordinal);
        Assert.Null(store.Created);
    }

    [Fact]
    public async Task CreateAsync_CompleteStripeFields_Stored()
    {
        var store = new PlansOnly();
        var service = new PlanService(store, TimeProvider.System);

        var result = await service.CreateAsync(new PlanInput
        {
            Id = "p", Name = "P", OveragePrice = 1, StripePriceId = " price_1 ", StripeOveragePriceId = "price_2", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);

        Assert.True(result.Ok, result.Error?.ToString());
        Assert.Equal(("price_1", "price_2", "api_overage"), (store.Created!.StripePriceId, store.Created.StripeOveragePriceId, store.Created.StripeMeterEvent));
    }

    [Fact]
    public async Task CreateAsync_PricedZeroWithOnlyAMeteredPrice_StoredWithoutASubscriptionPrice()
    {
        // Arrange
        var store = new PlansOnly();
        var service = new PlanService(store, TimeProvider.System);

        // Act
        var result = await service.CreateAsync(new PlanInput
        {
            Id = "payg", Name = "Pay as you go", PriceMonthly = 0, OveragePrice = 1, StripeOveragePriceId = "price_2", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);

        // Assert
        Assert.True(result.Ok, result.Error?.ToString());
        Assert.Equal(("", "price_2", "api_overage"), (store.Created!.StripePriceId, store.Created.StripeOveragePriceId, store.Created.StripeMeterEvent));
    }

    [Fact]
    public async Task CreateAsync_MonthlyPriceWithOnlyAMeteredPrice_RefusedNamingTheSubscriptionPrice()
    {
        // Arrange
        var store = new PlansOnly();
        var service = new PlanService(store, TimeProvider.System);

        // Act
        var result = await service.CreateAsync(new PlanInput
        {
            Id = "p", Name = "P", PriceMonthly = 2900, OveragePrice = 1, StripeOveragePriceId = "price_2", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);

        // Assert
        Assert.Equal("stripe_price_id", result.Error!.Field);
        Assert.Equal("a plan with a monthly price (price_monthly above 0) billed for overage needs its subscription price (stripe_price_id) too", result.Error.Message);
        Assert.Null(store.Created);
    }

    /// <summary>Only what <see cref="PlanService.CreateAsync"/> touches.</summary>
    private sealed class PlansOnly : IIdentityStore
    {
        public PlanDefinition? Created { get; private set; }

        public Task CreatePlanAsync(PlanDefinition plan, CancellationToken cancellationToken)
        {
            Created = plan;
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<PlanDefinition>> ListPlansAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<PlanDefinition>>(Created is null ? [] : [Created]);
        public Task<PlanDefinition?> FindPlanAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task UpdatePlanAsync(PlanDefinition plan, DateTimeOffset readAt, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task DeletePlanAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<UserDefinition>> ListUsersAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<StorePage<UserDefinition>> ListUsersPageAsync(string? emailContains, int offset, ListCursor? after, int count, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<QuotaUsage>> ListUsersNearQuotaAsync(DateTimeOffset periodStart, double share, int count, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<UserDefinition?> FindUserAsync(string idOrEmail, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task CreateUserAsync(UserDefinition user, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task UpdateUserAsync(UserDefinition user, DateTimeOffset readAt, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task UpdateUserToFreePlanAsync(UserDefinition user, DateTimeOffset readAt, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task DeleteUserAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<ApiKeyDefinition>> ListKeysAsync(string? userId, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<StorePage<ApiKeyDefinition>> ListKeysPageAsync(string? userId, int offset, ListCursor? after, int count, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<ApiKeyDefinition?> FindKeyAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task CreateKeyAsync(ApiKeyDefinition key, CancellationToken cancellationToken, int? maxActiveForUser = null) => throw new NotSupportedException();
        public Task<bool> RevokeKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<(ApiKeyDefinition Key, CredentialOwner Owner)>> FindKeysByPrefixAsync(string prefix, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task TouchKeysAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<EntitlementDefinition>> ListEntitlementsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<EntitlementDefinition?> FindEntitlementAsync(string idOrName, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task CreateEntitlementAsync(EntitlementDefinition entitlement, string headerField, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task UpdateEntitlementAsync(EntitlementDefinition entitlement, DateTimeOffset readAt, string headerField, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task DeleteEntitlementAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<PlanEntitlement>> ListPlanEntitlementsAsync(string? planId, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<PlanEntitlement?> FindPlanEntitlementAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task CreatePlanEntitlementAsync(PlanEntitlement assignment, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<PlanEntitlement?> UpdatePlanEntitlementAsync(string id, string? value, bool? enabled, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task DeletePlanEntitlementAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<UserDefinition?> FindUserByIdentityAsync(string issuer, string subject, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<CredentialOwner?> FindOwnerByIdentityAsync(string issuer, string subject, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<UserIdentity>> ListIdentitiesAsync(string userId, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task LinkIdentityAsync(UserIdentity identity, bool configuration, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<bool> UnlinkIdentityAsync(string issuer, string subject, string userId, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
