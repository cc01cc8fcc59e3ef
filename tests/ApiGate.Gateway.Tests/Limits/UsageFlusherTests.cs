using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>The last-use flush on a graceful stop.</summary>
public sealed class UsageFlusherTests
{
    [Fact]
    public async Task StopAsync_StopTimeAlreadySpentWithTimesPending_ReturnsWithoutThrowing()
    {
        // Arrange: a stop whose time ran out while the store was locked (the final drain's token is cancelled).
        await using var temp = await TempStore.CreateAsync();
        using var writer = TestStoreWriter.Create();
        var keys = new KeyUsageTracker();
        using var flusher = new UsageFlusher(keys, temp.Store, writer, TimeProvider.System, NullLogger<UsageFlusher>.Instance);
        await flusher.StartAsync(CancellationToken.None);
        keys.Touch("key_1", DateTimeOffset.UtcNow);
        using var spent = new CancellationTokenSource();
        await spent.CancelAsync();

        // Act
        var thrown = await Record.ExceptionAsync(() => flusher.StopAsync(spent.Token));

        // Assert
        Assert.Null(thrown);
    }
}
