using ApiGate.Gateway.Tests.Admin;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The plans' visible flag through the admin API (what the portal's plan page lists).</summary>
public sealed class PlanVisibilityAdminTests : AdminTestBase
{
    [Fact]
    public async Task PatchPlan_Visible_StoredAndReturned()
    {
        // Arrange
        AssertData(await PostAsync("/plans", new { id = "pro", name = "Pro", price_monthly = 4900 }), System.Net.HttpStatusCode.Created);

        // Act
        var shown = AssertData(await PatchAsync("/plans/pro", new { visible = true }));
        var read = AssertData(await GetAsync("/plans/pro"));
        var hidden = AssertData(await PatchAsync("/plans/pro", new { visible = false }));

        // Assert
        Assert.True(shown.GetProperty("visible").GetBoolean());
        Assert.True(read.GetProperty("visible").GetBoolean());
        Assert.False(hidden.GetProperty("visible").GetBoolean());
        Assert.False((await Gateway.Store.FindPlanAsync("pro", CancellationToken.None))!.Visible);
    }
}
