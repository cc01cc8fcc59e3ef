using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Dapper;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Deleting a webhook endpoint while an event is being queued for it (a test event, or any event it subscribes to)
/// leaves no delivery behind for the deleted endpoint: the delivery lands first and is deleted with the endpoint, or
/// the event finds the endpoint gone and queues nothing for it.
/// </summary>
public sealed class ConcurrentWebhookDeleteTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const int Rounds = 20;

    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeleteEndpoint_TestEventQueuedAtOnce_NoDeliveryLeftForIt(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);
        var webhooks = new WebhookService(store.Store, TimeProvider.System);
        await using var raw = await store.OpenRawAsync();

        for (var round = 1; round <= Rounds; round++)
        {
            var endpoint = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, None)).Value!.Endpoint;

            // Act
            var results = await Task.WhenAll(
                Task.Run(async () => (await webhooks.DeleteAsync(endpoint.Id, None)).Ok),
                Task.Run(async () => (await webhooks.TestAsync(endpoint.Id, None)).Error?.Kind is null or ManagementErrorKind.NotFound));

            // Assert
            Assert.All(results, Assert.True);
            Assert.Equal(0L, await raw.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM webhook_deliveries d WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id)"));
        }
    }
}
