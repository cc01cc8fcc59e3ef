using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// Actions (enable, disable, activate, revoke, test, redeliver) and DELETE take no fields: no body, an empty one or
/// <c>{}</c> is accepted; any other body is refused the way a create or update refuses it (415 not JSON, 400 invalid
/// JSON, 422 naming the member) and changes nothing — so a cross-site form post cannot revoke a key or disable a route.
/// </summary>
public sealed class AdminActionBodyTests : AdminTestBase
{
    private const string Form = "application/x-www-form-urlencoded";

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "r2", Path = "/r2/*", Upstream = "backend" });
    }

    [Theory]
    [InlineData("POST", "/revoke")]
    [InlineData("DELETE", "")]
    public async Task RevokeOrDeleteKey_FormBody_Returns415AndKeyStaysValid(string method, string suffix)
    {
        // Arrange
        var (_, _, key) = await Gateway.CreateKeyAsync("ann@example.com");

        // Act
        var response = await SendRawAsync(new HttpMethod(method), $"/keys/{key.Id}{suffix}", "a=b", Form);

        // Assert
        AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Null((await Gateway.Store.FindKeyAsync(key.Id, CancellationToken.None))!.RevokedAt);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData(Form)]
    [InlineData(null)]
    public async Task DisableRoute_NonJsonBody_Returns415AndRouteStaysEnabled(string? contentType)
    {
        // Act
        var response = await SendRawAsync(HttpMethod.Post, "/routes/r2/disable", "x", contentType);

        // Assert
        AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.True((await Gateway.Store.FindRouteAsync("r2", CancellationToken.None))!.Enabled);
    }

    [Fact]
    public async Task DeleteRoute_TextPlainBody_Returns415AndRouteKept()
    {
        // Act
        var response = await SendRawAsync(HttpMethod.Delete, "/routes/r2", "please", "text/plain");

        // Assert
        AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.NotNull(await Gateway.Store.FindRouteAsync("r2", CancellationToken.None));
    }

    [Fact]
    public async Task DisableRoute_InvalidJson_Returns400AndRouteStaysEnabled()
    {
        // Act
        var response = await SendRawAsync(HttpMethod.Post, "/routes/r2/disable", "not json at all", "application/json");

        // Assert
        AssertError(response, HttpStatusCode.BadRequest, "bad_request");
        Assert.True((await Gateway.Store.FindRouteAsync("r2", CancellationToken.None))!.Enabled);
    }

    [Theory]
    [InlineData("""{"enabled": false}""", "/enabled")]
    [InlineData("""{"data": {"enabled": false}}""", "/data/enabled")]
    public async Task EnablePlan_BodyWithMember_Returns422NamingItAndPlanStaysDisabled(string body, string pointer)
    {
        // Arrange
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Name = "ct", Enabled = false }, CancellationToken.None)).Ok);

        // Act
        var response = await SendRawAsync(HttpMethod.Post, "/plans/ct/enable", body, "application/json");

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.Contains("takes no fields", error.GetProperty("detail").GetString());
        Assert.False((await Gateway.Store.FindPlanAsync("ct", CancellationToken.None))!.Enabled);
    }

    [Fact]
    public async Task DeleteUser_BodyWithMember_Returns422AndUserKept()
    {
        // Arrange
        await Gateway.CreateKeyAsync("ann@example.com");

        // Act
        var response = await SendRawAsync(HttpMethod.Delete, "/users/ann@example.com", """{"force": true}""", "application/json");

        // Assert
        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/force");
        Assert.NotNull(await Gateway.Store.FindUserAsync("ann@example.com", CancellationToken.None));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", "text/plain")]
    [InlineData("", Form)]
    [InlineData("", null)]
    [InlineData("", "application/json")]
    [InlineData("{}", "application/json")]
    [InlineData("""{"data": {}}""", "application/vnd.api+json")]
    public async Task DisableRoute_NoBodyEmptyBodyOrEmptyObject_Returns200AndDisables(string? body, string? contentType)
    {
        // Act
        var response = await SendRawAsync(HttpMethod.Post, "/routes/r2/disable", body, contentType);

        // Assert
        Assert.False(AssertData(response).GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task DisableRoute_EmptyChunkedTextBody_Returns200AndDisables()
    {
        // Act: no Content-Length, a chunked body that ends at once
        var response = await SendRawAsync(HttpMethod.Post, "/routes/r2/disable", "", "text/plain", chunked: true);

        // Assert
        Assert.False(AssertData(response).GetProperty("enabled").GetBoolean());
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", "text/plain")]
    [InlineData("{}", "application/json")]
    public async Task DeleteRoute_NoBodyEmptyBodyOrEmptyObject_Returns204(string? body, string? contentType)
    {
        // Act
        var response = await SendRawAsync(HttpMethod.Delete, "/routes/r2", body, contentType);

        // Assert
        Assert.Equal(HttpStatusCode.NoContent, response.Status);
        Assert.Null(await Gateway.Store.FindRouteAsync("r2", CancellationToken.None));
    }

    [Fact]
    public async Task RevokeKey_NoBody_Returns200AndRevokes()
    {
        // Arrange
        var (_, _, key) = await Gateway.CreateKeyAsync("ann@example.com");

        // Act
        var response = await SendRawAsync(HttpMethod.Post, $"/keys/{key.Id}/revoke", null, null);

        // Assert
        Assert.NotEqual(JsonValueKind.Null, AssertData(response).GetProperty("revoked_at").ValueKind);
    }

    [Fact]
    public async Task DeactivateUser_TextPlainBody_Returns415AndUserStaysActive()
    {
        // Arrange
        await Gateway.CreateKeyAsync("ann@example.com");

        // Act
        var response = await SendRawAsync(HttpMethod.Post, "/users/ann@example.com/deactivate", "x", "text/plain");

        // Assert
        AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal(Core.Identity.UserStatus.Active, (await Gateway.Store.FindUserAsync("ann@example.com", CancellationToken.None))!.Status);
    }

    /// <summary>
    /// Sends <paramref name="body"/> exactly as given (null: no body at all) with <paramref name="contentType"/> (null:
    /// no Content-Type header), optionally chunked instead of with a Content-Length.
    /// </summary>
    private async Task<AdminResponse> SendRawAsync(HttpMethod method, string path, string? body, string? contentType, bool chunked = false)
    {
        using var request = new HttpRequestMessage(method, Gateway.Url + "/admin" + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        if (body is not null)
        {
            request.Content = chunked ? new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))) : new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }

            if (chunked)
            {
                request.Headers.TransferEncodingChunked = true;
            }
        }

        using var response = await Gateway.Client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        var json = raw.Length == 0 ? default : JsonDocument.Parse(raw).RootElement.Clone();
        return new AdminResponse(response.StatusCode, json, raw, response.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase),
            response.Content.Headers.ContentType?.MediaType);
    }
}
