using ApiGate.Core.Usage;

namespace ApiGate.Core.Tests.Usage;

/// <summary>What usage rows are kept apart by: the class of a success, the code of an error (the dashboard's error rate by code).</summary>
public sealed class UsageStatusGroupTests
{
    [Theory]
    [InlineData(101, 1, 1, null)]
    [InlineData(200, 2, 2, null)]
    [InlineData(204, 2, 2, null)]
    [InlineData(304, 3, 3, null)]
    [InlineData(400, 400, 4, 400)]
    [InlineData(429, 429, 4, 429)]
    [InlineData(499, 499, 4, 499)]
    [InlineData(503, 503, 5, 503)]
    [InlineData(599, 599, 5, 599)]
    [InlineData(600, 6, 6, null)]
    [InlineData(1200, 9, 9, null)]
    [InlineData(-1, 9, 9, null)]
    public void GroupOf_Status_ClassForSuccessesCodeForErrors(int status, int group, int statusClass, int? code)
    {
        // Act
        var rollup = new UsageRollup(UsageGranularity.Minute, DateTimeOffset.UnixEpoch, "", "", "", UsageRollup.GroupOf(status), 1, 0, 0, 0, 0, []);

        // Assert
        Assert.Equal((group, statusClass, code), (rollup.StatusGroup, rollup.StatusClass, rollup.ErrorCode));
    }

    [Fact]
    public void Add_EventsOfOneMinute_OneDeltaPerSuccessClassAndPerErrorCode()
    {
        // Arrange
        var aggregate = new UsageAggregate();
        var at = new DateTimeOffset(2026, 12, 3, 4, 30, 0, TimeSpan.Zero);

        // Act
        foreach (var status in new[] { 200, 201, 401, 401, 429, 502 })
        {
            aggregate.Add(new UsageEvent { UserId = "usr_1", KeyId = "key_1", RouteId = "rte_1", UpstreamId = "ups_1", Method = "GET", Path = "/x", ClientIp = "127.0.0.1", RequestId = "r", Status = status, Timestamp = at });
        }

        // Assert
        Assert.Equal(
            [(2, 2L), (401, 2L), (429, 1L), (502, 1L)],
            aggregate.Rollups.OrderBy(d => d.Key, UsageAggregate.RollupOrder).Select(d => (d.Key.StatusGroup, d.Requests)));
    }
}
