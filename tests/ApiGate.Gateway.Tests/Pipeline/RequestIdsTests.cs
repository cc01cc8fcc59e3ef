using ApiGate.Gateway.Pipeline;

namespace ApiGate.Gateway.Tests.Pipeline;

public sealed class RequestIdsTests
{
    [Fact]
    public void New_ManyIdsFromSeveralThreads_AllDistinctAnd32LowerCaseHex()
    {
        // Arrange
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();

        // Act
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 25_000; i++)
            {
                ids.Add(RequestIds.New());
            }
        });

        // Assert
        Assert.Equal(100_000, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{32}$", id));
    }
}
