using ApiGate.Core.Entitlements;

namespace ApiGate.Core.Tests.Entitlements;

/// <summary>EntitlementCap: what a plan's entitlement headers measure, and which changes take it past a cap.</summary>
public sealed class EntitlementCapTests
{
    private static EntitlementDefinition Entitlement(string name, string defaultValue) => new()
    {
        Id = "ent_" + name,
        Name = name,
        ValueType = EntitlementValueType.String,
        DefaultValue = defaultValue,
    };

    private static PlanEntitlement Value(string entitlement, string value) => new()
    {
        Id = "pe_" + entitlement,
        PlanId = "pro",
        EntitlementId = "ent_" + entitlement,
        Value = value,
    };

    [Fact]
    public void Measure_NonAsciiValue_CountsItsUtf8Bytes()
    {
        // Act: "X-Entitlement-Region" is 20 bytes, "é" 2
        var measured = EntitlementCap.Measure([new EntitlementHeader("X-Entitlement-Region", "é")]);

        // Assert
        Assert.Equal((1, 22), measured);
    }

    [Fact]
    public void Check_PlanAlreadyAboveTheSizeCap_ShrinkingAccepted_GrowingRefused()
    {
        // Arrange: X-Entitlement-A + 8,192 and X-Entitlement-B + 8,192: 16,414 bytes, stored before the cap
        EntitlementDefinition[] entitlements = [Entitlement("a", ""), Entitlement("b", "")];
        PlanEntitlement[] stored = [Value("a", new string('x', 8192)), Value("b", new string('y', 8192))];

        // Act
        var shrunk = EntitlementCap.Check(["pro"], (entitlements, stored), (entitlements, [stored[0], Value("b", new string('y', 8191))]));
        var grown = EntitlementCap.Check(["pro"], (entitlements, stored), (entitlements, [stored[0], Value("b", new string('y', 8193))]));

        // Assert
        Assert.Null(shrunk);
        Assert.Equal(
            new EntitlementCap.Problem(false, "plan 'pro' would send 16415 bytes of entitlement headers (names and values); at most 16384 are allowed per plan"),
            grown);
    }
}
