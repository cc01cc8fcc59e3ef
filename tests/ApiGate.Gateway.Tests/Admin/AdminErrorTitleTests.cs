using System.Net;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// The admin API titles an error that is an HTTP status with that status's reason phrase, spelled as the gateway's own
/// errors spell it (RFC 9110 §15): a client matching on the title sees one spelling wherever the error comes from.
/// </summary>
public sealed class AdminErrorTitleTests : AdminTestBase
{
    [Fact]
    public async Task GetUnknownRoute_Returns404TitledNotFound()
    {
        // Act
        var response = await GetAsync("/routes/no-such-route");

        // Assert: before, "Not found", while the gateway's 404s say "Not Found"
        var error = AssertError(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal("Not Found", error.GetProperty("title").GetString());
    }

    [Fact]
    public async Task GetUnknownAdminPath_Returns404TitledNotFound()
    {
        // Act
        var response = await GetAsync("/no-such-endpoint");

        // Assert
        var error = AssertError(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal("Not Found", error.GetProperty("title").GetString());
    }

    [Fact]
    public async Task CreateUpstream_BodyNotJson_Returns400TitledBadRequest()
    {
        // Act
        var response = await SendAsync(HttpMethod.Post, "/upstreams", "{not json");

        // Assert: before, "Bad request"
        var error = AssertError(response, HttpStatusCode.BadRequest, "bad_request");
        Assert.Equal("Bad Request", error.GetProperty("title").GetString());
    }

    [Fact]
    public async Task UnknownMethod_Returns405TitledMethodNotAllowed()
    {
        // Act
        var response = await SendAsync(new HttpMethod("FOO"), "/users");

        // Assert: before, "Method not allowed"
        var error = AssertError(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        Assert.Equal("Method Not Allowed", error.GetProperty("title").GetString());
    }

    [Fact]
    public async Task CreateUpstream_FormBody_Returns415TitledUnsupportedMediaType()
    {
        // Act
        var response = await SendAsync(HttpMethod.Post, "/upstreams", "a=b", contentType: "application/x-www-form-urlencoded");

        // Assert: before, "Unsupported media type"
        var error = AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("Unsupported Media Type", error.GetProperty("title").GetString());
    }

    [Fact]
    public async Task CreateUpstream_BodyOverTheLimit_Returns413TitledContentTooLarge()
    {
        // Arrange: one byte past the largest body the admin API reads
        var body = "{\"name\":\"" + new string('a', ApiGate.Gateway.Admin.AdminBody.MaxBytes) + "\"}";

        // Act
        var response = await SendAsync(HttpMethod.Post, "/upstreams", body);

        // Assert: before, "Payload too large", while the gateway's 413 says "Content Too Large"
        var error = AssertError(response, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        Assert.Equal("Content Too Large", error.GetProperty("title").GetString());
    }

    [Fact]
    public async Task UpdatePlan_StaleIfMatch_Returns412TitledPreconditionFailed()
    {
        // Arrange: the plan changed since the version the request names
        AssertData(await PostAsync("/plans", new { id = "silver", name = "Silver" }), HttpStatusCode.Created);
        var stale = (await GetAsync("/plans/silver")).Headers["ETag"];
        AssertData(await PatchAsync("/plans/silver", new { name = "Silver 2" }));

        // Act
        var response = await SendAsync(HttpMethod.Patch, "/plans/silver", new { name = "Silver 3" }, headers: ("If-Match", stale));

        // Assert: before, "Precondition failed"
        var error = AssertError(response, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal("Precondition Failed", error.GetProperty("title").GetString());
    }
}
