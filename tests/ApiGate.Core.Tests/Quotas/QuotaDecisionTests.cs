using ApiGate.Core.Quotas;

namespace ApiGate.Core.Tests.Quotas;

/// <summary>QuotaDecision.Remaining: units left, never negative, -1 for unlimited plans.</summary>
public sealed class QuotaDecisionTests
{
    private static readonly DateTimeOffset Reset = new(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1000, 0, 1000)]
    [InlineData(1000, 400, 600)]
    [InlineData(1000, 999, 1)]
    [InlineData(1000, 1000, 0)]   // exactly at the limit
    [InlineData(1000, 1200, 0)]   // over (overage)
    [InlineData(1, 1, 0)]
    [InlineData(0, 0, -1)]        // unlimited
    [InlineData(0, 5000, -1)]
    [InlineData(-1, 5000, -1)]    // unlimited, the other spelling
    public void Remaining_LimitAndUsed_ReturnsUnitsLeft(long limit, long used, long expected)
    {
        // Arrange
        var decision = new QuotaDecision(Allowed: true, Overage: false, limit, used, Reset);

        // Act
        var remaining = decision.Remaining;

        // Assert
        Assert.Equal(expected, remaining);
    }
}
