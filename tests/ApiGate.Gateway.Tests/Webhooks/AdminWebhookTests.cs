using System.Net;
using ApiGate.Gateway.Tests.Admin;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary><c>/admin/webhooks</c>: the same rules as the CLI, the secret only in the create response.</summary>
public sealed class AdminWebhookTests : AdminTestBase
{
    [Fact]
    public async Task Post_ValidEndpoint_SecretOnlyInCreateResponseMeta()
    {
        // Act
        var created = await PostAsync("/webhooks", new { url = "https://example.com/hooks", events = new[] { "key.created", "plan.changed" }, description = "crm" });
        var id = created.Json.GetProperty("data").GetProperty("id").GetString();
        var list = await GetAsync("/webhooks");
        var one = await GetAsync($"/webhooks/{id}");

        // Assert
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var secret = created.Json.GetProperty("meta").GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret);
        Assert.Equal("no-store", created.Headers["Cache-Control"]);
        Assert.False(created.Json.GetProperty("data").TryGetProperty("secret", out _));
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal(id, list.Json.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, one.Status);
        Assert.DoesNotContain(secret, list.Raw);
        Assert.DoesNotContain(secret, one.Raw);
        Assert.DoesNotContain("whsec_", list.Raw + one.Raw);
    }

    [Fact]
    public async Task Post_FileUrl_422PointingAtUrl()
    {
        // Act
        var response = await PostAsync("/webhooks", new { url = "file:///etc/passwd", events = new[] { "key.created" } });

        // Assert
        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/url");
    }

    [Fact]
    public async Task Post_UnknownEvent_422PointingAtEvents()
    {
        // Act
        var response = await PostAsync("/webhooks", new { url = "https://example.com/hooks", events = new[] { "everything" } });

        // Assert
        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/events");
    }

    [Fact]
    public async Task PostTest_UnknownEndpoint_404()
    {
        // Act
        var response = await PostAsync("/webhooks/wh_missing/test");

        // Assert
        AssertError(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task GetDeliveries_DeliveryAttemptedMoreThanListed_NewestAttemptsAndCount_GetDeliveryHasAll()
    {
        // Arrange: a disabled endpoint (the gateway's worker leaves it alone) with a delivery attempted 12 times
        var created = await new ApiGate.Core.Management.WebhookService(Gateway.Store, TimeProvider.System).CreateAsync(
            new ApiGate.Core.Management.WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["user.created"], Enabled = false }, CancellationToken.None);
        var endpoint = created.Value!.Endpoint.Id;
        var now = DateTimeOffset.UtcNow;
        await Gateway.Store.AddWebhookEventAsync(ApiGate.Core.Webhooks.WebhookPayloads.Test(endpoint, now), endpoint, CancellationToken.None);
        var delivery = Assert.Single(await Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 1, CancellationToken.None));
        for (var i = 0; i < 12; i++)
        {
            await Gateway.Store.RecordWebhookAttemptAsync(new ApiGate.Core.Webhooks.WebhookAttempt(delivery.Id, now.AddSeconds(i), 500, 3, $"attempt {i}"), "tests",
                delivery.StartedAt, ApiGate.Core.Webhooks.WebhookDeliveryStatus.Pending, now, CancellationToken.None);
        }

        // Act
        var listed = await GetAsync($"/webhooks/{endpoint}/deliveries");
        var single = await GetAsync($"/webhooks/deliveries/{delivery.Id}");

        // Assert: the listing carries the newest 10 attempts and the count of all 12; the delivery on its own all 12
        Assert.Equal(HttpStatusCode.OK, listed.Status);
        var item = Assert.Single(listed.Json.GetProperty("data").EnumerateArray());
        Assert.Equal(12, item.GetProperty("attempt_count").GetInt32());
        Assert.Equal(Enumerable.Range(2, 10).Reverse().Select(i => $"attempt {i}"), item.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("error").GetString()));
        Assert.Equal(HttpStatusCode.OK, single.Status);
        Assert.Equal(12, single.Json.GetProperty("data").GetProperty("attempt_count").GetInt32());
        Assert.Equal(Enumerable.Range(0, 12).Reverse().Select(i => $"attempt {i}"),
            single.Json.GetProperty("data").GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("error").GetString()));
    }

    [Theory]
    [InlineData("4711", "no webhook delivery with id '4711'")]
    [InlineData("abc", "'abc' is not a delivery id (a number, as `webhooks deliveries` lists them)")]
    public async Task GetDelivery_NoSuchDelivery_404NamingTheId(string id, string detail)
    {
        // Act
        var response = await GetAsync($"/webhooks/deliveries/{id}");

        // Assert
        var error = AssertError(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(detail, error.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("4711", "no webhook delivery with id '4711'")]
    [InlineData("abc", "'abc' is not a delivery id (a number, as `webhooks deliveries` lists them)")]
    [InlineData("-1", "'-1' is not a delivery id (a number, as `webhooks deliveries` lists them)")]
    public async Task PostRedeliver_NoSuchDelivery_404NamingTheId(string id, string detail)
    {
        // Act: an id in the path that names no delivery, whether or not it could
        var response = await PostAsync($"/webhooks/deliveries/{id}/redeliver");

        // Assert: not found, as openapi.json describes the action; no field to point at
        var error = AssertError(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(detail, error.GetProperty("detail").GetString());
        Assert.False(error.TryGetProperty("source", out _));
    }
}
