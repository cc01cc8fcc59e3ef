using ApiGate.Core.Entitlements;
using CsCheck;

namespace ApiGate.Core.Tests.Entitlements;

/// <summary>EntitlementResolver.Resolve and HeaderNameOf (SPEC §3.4).</summary>
public sealed class EntitlementResolverTests
{
    private const string Plan = "pro";

    private static EntitlementDefinition Entitlement(string id, string name, string defaultValue, bool enabled = true, string headerName = "") => new()
    {
        Id = id,
        Name = name,
        DefaultValue = defaultValue,
        Enabled = enabled,
        HeaderName = headerName,
    };

    private static PlanEntitlement Assignment(string planId, string entitlementId, string value, bool enabled = true) => new()
    {
        Id = $"pe_{planId}_{entitlementId}",
        PlanId = planId,
        EntitlementId = entitlementId,
        Value = value,
        Enabled = enabled,
    };

    [Fact]
    public void Resolve_NoAssignments_ReturnsEveryEnabledEntitlementWithItsDefault()
    {
        // Arrange
        EntitlementDefinition[] entitlements =
        [
            Entitlement("ent_1", "webhooks", "false"),
            Entitlement("ent_2", "max_api_keys", "3"),
        ];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, []);

        // Assert
        Assert.Equal(
            [new("X-Entitlement-Max-Api-Keys", "3"), new("X-Entitlement-Webhooks", "false")],
            headers);
    }

    [Fact]
    public void Resolve_EnabledAssignmentForPlan_WinsOverDefault()
    {
        // Arrange
        EntitlementDefinition[] entitlements = [Entitlement("ent_1", "max_api_keys", "3")];
        PlanEntitlement[] assignments = [Assignment(Plan, "ent_1", "25")];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, assignments);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Entitlement-Max-Api-Keys", "25")], headers);
    }

    [Fact]
    public void Resolve_DisabledAssignment_FallsBackToDefault()
    {
        // Arrange
        EntitlementDefinition[] entitlements = [Entitlement("ent_1", "webhooks", "false")];
        PlanEntitlement[] assignments = [Assignment(Plan, "ent_1", "true", enabled: false)];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, assignments);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Entitlement-Webhooks", "false")], headers);
    }

    [Fact]
    public void Resolve_DisabledEntitlement_IsOmittedEvenWhenAssigned()
    {
        // Arrange
        EntitlementDefinition[] entitlements =
        [
            Entitlement("ent_1", "webhooks", "false", enabled: false),
            Entitlement("ent_2", "sso", "false"),
        ];
        PlanEntitlement[] assignments = [Assignment(Plan, "ent_1", "true")];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, assignments);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Entitlement-Sso", "false")], headers);
    }

    [Fact]
    public void Resolve_AnotherPlansAssignment_IsIgnored()
    {
        // Arrange
        EntitlementDefinition[] entitlements = [Entitlement("ent_1", "max_api_keys", "3")];
        PlanEntitlement[] assignments = [Assignment("enterprise", "ent_1", "1000")];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, assignments);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Entitlement-Max-Api-Keys", "3")], headers);
    }

    [Fact]
    public void Resolve_AssignmentsForSeveralPlans_EachPlanGetsItsOwnValue()
    {
        // Arrange
        EntitlementDefinition[] entitlements = [Entitlement("ent_1", "max_api_keys", "3")];
        PlanEntitlement[] assignments =
        [
            Assignment("enterprise", "ent_1", "1000"),
            Assignment(Plan, "ent_1", "25"),
            Assignment("free", "ent_1", "1", enabled: false),
        ];

        // Act
        var pro = EntitlementResolver.Resolve(Plan, entitlements, assignments);
        var enterprise = EntitlementResolver.Resolve("enterprise", entitlements, assignments);
        var free = EntitlementResolver.Resolve("free", entitlements, assignments);

        // Assert
        Assert.Equal("25", Assert.Single(pro).Value);
        Assert.Equal("1000", Assert.Single(enterprise).Value);
        Assert.Equal("3", Assert.Single(free).Value);
    }

    [Fact]
    public void ResolveAll_AnyPlansAndAssignments_GivesEachPlanWhatResolvingItAloneByTheRuleGives()
    {
        // Every plan at once (how a snapshot resolves them) against the rule applied to one plan at a time: its enabled
        // assignment (the last one written, for a duplicate), else the default, for each enabled entitlement by name.
        var entitlementGen = Gen.Select(Gen.Int[0, 5], Gen.Bool, Gen.Int[0, 3]).Select((n, enabled, value) => (n, enabled, value));
        var assignmentGen = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 6], Gen.Int[0, 9], Gen.Bool).Select((plan, n, value, enabled) =>
            Assignment("plan_" + plan, "ent_" + n, "v" + value, enabled));
        Gen.Select(entitlementGen.Array[0, 6], assignmentGen.Array[0, 20]).Sample((rawEntitlements, assignments) =>
        {
            var entitlements = rawEntitlements.DistinctBy(e => e.n)
                .Select(e => Entitlement("ent_" + e.n, "feature_" + e.n, "d" + e.value, e.enabled)).ToArray();
            string[] plans = ["plan_0", "plan_1", "plan_2", "plan_3"];

            var all = EntitlementResolver.ResolveAll(plans, entitlements, assignments);

            foreach (var plan in plans)
            {
                var expected = entitlements.Where(e => e.Enabled).OrderBy(e => e.Name, StringComparer.Ordinal)
                    .Select(e => new EntitlementHeader(
                        EntitlementResolver.HeaderNameOf(e),
                        assignments.LastOrDefault(a => a.Enabled && a.PlanId == plan && a.EntitlementId == e.Id)?.Value ?? e.DefaultValue))
                    .ToArray();
                Assert.Equal(expected, all[plan]);
            }
        });
    }

    [Fact]
    public void Resolve_AssignmentForUnknownEntitlement_AddsNothing()
    {
        // Arrange
        EntitlementDefinition[] entitlements = [Entitlement("ent_1", "sso", "false")];
        PlanEntitlement[] assignments = [Assignment(Plan, "ent_missing", "true")];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, assignments);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Entitlement-Sso", "false")], headers);
    }

    [Fact]
    public void Resolve_CustomHeaderName_IsUsed()
    {
        // Arrange
        EntitlementDefinition[] entitlements = [Entitlement("ent_1", "max_api_keys", "3", headerName: "X-Max-Keys")];
        PlanEntitlement[] assignments = [Assignment(Plan, "ent_1", "10")];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, assignments);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Max-Keys", "10")], headers);
    }

    [Theory]
    [InlineData("x-entitlement-tier")]
    [InlineData("X_Entitlement_Tier")]
    public void Resolve_TwoEntitlementsSentAsOneHeader_OnlyTheFirstByNameIsSent(string otherHeader)
    {
        // Arrange: "vip" would be sent as the header "tier" derives (compared ignoring case, '_' read as '-')
        EntitlementDefinition[] entitlements = [Entitlement("ent_2", "vip", "forged", headerName: otherHeader), Entitlement("ent_1", "tier", "basic")];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, []);

        // Assert
        Assert.Equal([new EntitlementHeader("X-Entitlement-Tier", "basic")], headers);
    }

    [Fact]
    public void Resolve_UnorderedEntitlements_ReturnsHeadersOrderedByName()
    {
        // Arrange: ids and header overrides deliberately in a different order from the names
        EntitlementDefinition[] entitlements =
        [
            Entitlement("ent_a", "webhooks", "true"),
            Entitlement("ent_b", "analytics", "basic", headerName: "X-Z-Analytics"),
            Entitlement("ent_c", "max_api_keys", "3"),
            Entitlement("ent_d", "custom_domains", "0"),
        ];

        // Act
        var headers = EntitlementResolver.Resolve(Plan, entitlements, []);

        // Assert
        Assert.Equal(
            ["X-Z-Analytics", "X-Entitlement-Custom-Domains", "X-Entitlement-Max-Api-Keys", "X-Entitlement-Webhooks"],
            headers.Select(h => h.Name));
    }

    [Fact]
    public void Resolve_NoEntitlements_ReturnsEmpty()
    {
        // Act
        var headers = EntitlementResolver.Resolve(Plan, [], [Assignment(Plan, "ent_1", "true")]);

        // Assert
        Assert.Empty(headers);
    }

    [Theory]
    [InlineData("max_api_keys", "X-Entitlement-Max-Api-Keys")]
    [InlineData("webhooks", "X-Entitlement-Webhooks")]
    [InlineData("sso", "X-Entitlement-Sso")]
    [InlineData("custom-domains", "X-Entitlement-Custom-Domains")]
    [InlineData("MAX_API_KEYS", "X-Entitlement-Max-Api-Keys")]
    [InlineData("api_v2_access", "X-Entitlement-Api-V2-Access")]
    public void HeaderNameOf_NoOverride_DerivesTitleCaseFromName(string name, string expected)
    {
        // Arrange
        var entitlement = Entitlement("ent_1", name, "");

        // Act
        var header = EntitlementResolver.HeaderNameOf(entitlement);

        // Assert
        Assert.Equal(expected, header);
    }

    [Fact]
    public void HeaderNameOf_Override_ReturnsOverrideVerbatim()
    {
        // Arrange
        var entitlement = Entitlement("ent_1", "max_api_keys", "", headerName: "X-Plan-Keys");

        // Act
        var header = EntitlementResolver.HeaderNameOf(entitlement);

        // Assert
        Assert.Equal("X-Plan-Keys", header);
    }
}
