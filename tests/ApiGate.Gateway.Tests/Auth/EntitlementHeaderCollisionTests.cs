using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// Two entitlements that would be sent as one header (names compared ignoring case, with '_' read as '-'): refused when
/// written, and one stored that way before the rule sends the first one's value only, not both joined into one header.
/// </summary>
public sealed class EntitlementHeaderCollisionTests : GatewayTestBase
{
    private string _key = "";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "backend", AuthRequired = true }, reload: false);
        Assert.True((await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String, DefaultValue = "basic" }, CancellationToken.None)).Ok);
        Assert.True((await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "region", ValueType = EntitlementValueType.String, DefaultValue = "eu", HeaderName = "X-Region" }, CancellationToken.None)).Ok);
        _key = (await Gateway.CreateKeyAsync("owner@example.com")).Key;
    }

    [Theory]
    [InlineData("X-Entitlement-Tier", "tier")]
    [InlineData("x-entitlement-TIER", "tier")]
    [InlineData("X_Entitlement_Tier", "tier")]
    [InlineData("x-region", "region")]
    [InlineData("X_REGION", "region")]
    public async Task CreateWithAHeaderNameAnotherEntitlementIsSentAs_RefusedAsConflictNamingItAndNothingWritten(string headerName, string other)
    {
        // Act
        var result = await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "plan_label", ValueType = EntitlementValueType.String, DefaultValue = "x", HeaderName = headerName }, CancellationToken.None);

        // Assert
        Assert.False(result.Ok);
        Assert.Equal((ManagementErrorKind.Conflict, "header_name"), (result.Error!.Kind, result.Error.Field));
        Assert.Contains($"entitlement '{other}'", result.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(await Gateway.Store.ListEntitlementsAsync(CancellationToken.None), e => e.Name == "plan_label");
    }

    [Fact]
    public async Task CreateWhoseDerivedHeaderIsAnotherEntitlementsCustomName_RefusedNamingTheName()
    {
        // Arrange: an entitlement sent as X-Entitlement-Gold by its header name
        Assert.True((await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "premium", ValueType = EntitlementValueType.Boolean, DefaultValue = "true", HeaderName = "X-Entitlement-Gold" }, CancellationToken.None)).Ok);

        // Act: "gold" would be sent as X-Entitlement-Gold too
        var result = await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "gold", ValueType = EntitlementValueType.Boolean, DefaultValue = "false" }, CancellationToken.None);

        // Assert
        Assert.False(result.Ok);
        Assert.Equal((ManagementErrorKind.Conflict, "name"), (result.Error!.Kind, result.Error.Field));
        Assert.Contains("entitlement 'premium'", result.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateToAHeaderNameAnotherEntitlementIsSentAs_RefusedAndTheStoredOneKept()
    {
        // Act
        var result = await Gateway.Entitlements.UpdateAsync("region", new EntitlementChanges { HeaderName = "X-Entitlement-Tier" }, CancellationToken.None);
        var ownNameAgain = await Gateway.Entitlements.UpdateAsync("region", new EntitlementChanges { HeaderName = "x_region", Description = "where" }, CancellationToken.None);

        // Assert: its own header, spelt otherwise, is no conflict
        Assert.Equal((ManagementErrorKind.Conflict, "header_name"), (result.Error!.Kind, result.Error.Field));
        Assert.True(ownNameAgain.Ok);
        Assert.Equal("x_region", (await Gateway.Store.FindEntitlementAsync("region", CancellationToken.None))!.HeaderName);
    }

    [Fact]
    public async Task TwoEntitlementsStoredWithOneHeader_TheBackendGetsTheFirstByNameOnly()
    {
        // Arrange: the header written straight into the table (the store refuses it too), as a store from before the rule may hold it
        await Gateway.Store.CreateEntitlementAsync(new EntitlementDefinition
        {
            Id = "ent_legacy", Name = "vip", ValueType = EntitlementValueType.String, DefaultValue = "forged", HeaderName = "X-Vip", Enabled = true,
        }, "header_name", CancellationToken.None);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Gateway.DatabasePath))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE entitlements SET header_name = 'x-entitlement-tier' WHERE id = 'ent_legacy'; UPDATE config_version SET version = version + 1 WHERE id = 1;";
            Assert.Equal(2, await command.ExecuteNonQueryAsync());
        }

        await Gateway.ReloadAsync();

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/priv/x", "X-API-Key: " + _key);

        // Assert: "tier" comes before "vip"; the two values are not joined into one header
        Assert.Equal(200, response.Status);
        Assert.Equal(["basic"], Assert.Single(Upstream.Received).Headers["X-Entitlement-Tier"]);
    }
}
