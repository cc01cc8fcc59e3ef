using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary><c>apigate webhooks</c> as an operator runs it: refusals name the option, the secret is printed once.</summary>
public sealed class WebhookCommandTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Create_FtpUrl_FailsNamingUrlOptionAndStoresNothing(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);

        // Act
        var result = await store.CliAsync("webhooks", "create", "--url", "ftp://example.com/hooks", "--events", "key.created");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: --url: 'ftp://example.com/hooks' is not an http or https URL", result.Diagnostics);
        Assert.Empty(await store.Store.ListWebhookEndpointsAsync(CancellationToken.None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Create_UnknownEventType_FailsNamingEventsOptionAndTheKnownTypes(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);

        // Act
        var result = await store.CliAsync("webhooks", "create", "--url", "https://example.com/hooks", "--events", "key.created,key.deleted");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: --events: 'key.deleted' is not an event type; one of user.created, key.created", result.Diagnostics);
        Assert.Empty(await store.Store.ListWebhookEndpointsAsync(CancellationToken.None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EndpointCreatedWithAnotherSecretKey_ListGetDisableAndDeleteStillWork(string engine)
    {
        // Arrange: an endpoint created from a shell whose APIGATE_SECRET_KEY differs (a typo, a key changed since), and one without a key
        var store = await engines.CreateAsync(engine);
        var otherShell = new Dictionary<string, string>(store.Environment) { ["APIGATE_SECRET_KEY"] = "another shell's key" };
        var created = await CliRunner.RunAsync(otherShell, "webhooks", "create", "--url", "https://example.com/a", "--events", "key.created", "--json");
        var id = JsonDocument.Parse(created.Output).RootElement.GetProperty("id").GetString()!;
        Assert.Equal(0, (await store.CliAsync("webhooks", "create", "--url", "https://example.com/b", "--events", "key.created")).ExitCode);

        // Act
        var results = new[]
        {
            await store.CliAsync("webhooks", "list"),
            await store.CliAsync("webhooks", "get", id),
            await store.CliAsync("webhooks", "update", id, "--enabled", "false"),
            await store.CliAsync("webhooks", "delete", id),
        };

        // Assert: before, each failed with "cannot be decrypted", and the list failed for every endpoint
        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Diagnostics));
        Assert.Contains(id, results[0].Output);
        Assert.Equal("https://example.com/b", Assert.Single(await store.Store.ListWebhookEndpointsAsync(CancellationToken.None)).Url);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Create_ValidEndpoint_SecretPrintedOnceAndNeverInListGetOrJson(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);

        // Act
        var created = await store.CliAsync("webhooks", "create", "--url", "https://example.com/hooks", "--events", "key.created, usage.threshold", "--description", "billing");
        var secret = created.Output.Trim();
        var id = (await store.Store.ListWebhookEndpointsAsync(CancellationToken.None)).Single().Id;
        var outputs = new[]
        {
            await store.CliAsync("webhooks", "list"),
            await store.CliAsync("webhooks", "list", "--json"),
            await store.CliAsync("webhooks", "get", id),
            await store.CliAsync("webhooks", "get", id, "--json"),
            await store.CliAsync("webhooks", "update", id, "--description", "billing system", "--json"),
        };

        // Assert
        Assert.Equal(0, created.ExitCode);
        Assert.Matches("^whsec_[A-Za-z0-9+/]{43}=$", secret);
        Assert.Contains("not shown again", created.Diagnostics);
        Assert.DoesNotContain(secret, created.Error);
        Assert.All(outputs, o => Assert.Equal(0, o.ExitCode));
        Assert.All(outputs, o => Assert.DoesNotContain(secret[6..], o.Output + o.Error));
        Assert.All(outputs, o => Assert.DoesNotContain("whsec_", o.Output + o.Error));
        var updated = JsonDocument.Parse(outputs[4].Output).RootElement;
        Assert.Equal("billing system", updated.GetProperty("description").GetString());
        Assert.Equal(["key.created", "usage.threshold"], updated.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.False(updated.TryGetProperty("secret", out _));
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task CreateJson_ValidEndpoint_SecretIsTheObjectsSecretField(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);

        // Act
        var created = await store.CliAsync("webhooks", "create", "--url", "https://example.com/hooks", "--events", "key.created", "--json");

        // Assert: the one output besides the plain create that shows it, as docs/webhooks.md says
        Assert.Equal(0, created.ExitCode);
        var json = JsonDocument.Parse(created.Output).RootElement;
        Assert.Matches("^whsec_[A-Za-z0-9+/]{43}=$", json.GetProperty("secret").GetString());
        Assert.Equal((await store.Store.ListWebhookEndpointsAsync(CancellationToken.None)).Single().Id, json.GetProperty("id").GetString());
        Assert.DoesNotContain("whsec_", created.Error);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Redeliver_UnknownDelivery_FailsWithNotFound(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);

        // Act
        var missing = await store.CliAsync("webhooks", "redeliver", "4711");
        var notANumber = await store.CliAsync("webhooks", "redeliver", "abc");

        // Assert
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("no webhook delivery with id '4711'", missing.Diagnostics);
        Assert.Equal(2, notANumber.ExitCode);
        Assert.Contains("'abc' is not a delivery id", notANumber.Diagnostics);
    }
    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Test_DisabledEndpoint_RefusedOnceNamingTheEndpointAndQueuesNothing(string engine)
    {
        // Arrange
        var store = await engines.CreateAsync(engine);
        var created = await store.CliAsync("webhooks", "create", "--url", "https://example.com/a", "--events", "key.created", "--json");
        var id = JsonDocument.Parse(created.Output).RootElement.GetProperty("id").GetString()!;
        Assert.Equal(0, (await store.CliAsync("webhooks", "update", id, "--enabled", "false")).ExitCode);

        // Act
        var result = await store.CliAsync("webhooks", "test", id);

        // Assert: the field is named once ("webhook: webhook '…'" before)
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"error: webhook: endpoint '{id}' is disabled; enable it first (a disabled endpoint is sent nothing)", result.Diagnostics);
        Assert.Empty(await store.Store.ListWebhookDeliveriesAsync(id, 10, CancellationToken.None));
    }
}
