using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>A gateway with one admin token, and methods that call its admin API over HTTP.</summary>
public abstract class AdminTestBase : GatewayTestBase
{
    /// <summary>The admin token those methods send.</summary>
    private protected string Token { get; private set; } = "";

    private protected override async Task SetUpAsync()
    {
        var created = await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("tests", CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        Token = created.Value!.Token;
    }

    /// <summary>
    /// Sends a request to the admin API; <paramref name="body"/> is serialized as JSON unless it is a string (sent as is),
    /// with <paramref name="headers"/> besides the admin token.
    /// </summary>
    private protected Task<AdminResponse> SendAsync(
        HttpMethod method, string path, object? body = null, string? token = null, string contentType = "application/json",
        params (string Name, string Value)[] headers) =>
        SendAsync(Gateway, token ?? Token, method, path, body, contentType, headers);

    /// <summary>The same for any gateway and admin token (tests that are not admin API tests).</summary>
    internal static async Task<AdminResponse> SendAsync(
        TestGateway gateway, string token, HttpMethod method, string path, object? body = null, string contentType = "application/json",
        params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, gateway.Url + "/admin" + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        foreach (var (name, value) in headers)
        {
            Assert.True(request.Headers.TryAddWithoutValidation(name, value), name);
        }

        if (body is not null)
        {
            var text = body as string ?? JsonSerializer.Serialize(body);
            request.Content = new StringContent(text, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using var response = await gateway.Client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        var json = raw.Length == 0 ? default : JsonDocument.Parse(raw).RootElement.Clone();
        return new AdminResponse(response.StatusCode, json, raw, response.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase),
            response.Content.Headers.ContentType?.MediaType);
    }

    private protected Task<AdminResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    private protected Task<AdminResponse> PostAsync(string path, object? body = null) => SendAsync(HttpMethod.Post, path, body ?? new { });

    private protected Task<AdminResponse> PatchAsync(string path, object body) => SendAsync(HttpMethod.Patch, path, body);

    private protected Task<AdminResponse> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    /// <summary>Asserts the response is one error document with this status, code and (when given) pointer or parameter.</summary>
    internal static JsonElement AssertError(AdminResponse response, HttpStatusCode status, string code, string? pointer = null, string? parameter = null)
    {
        Assert.True(response.Status == status, $"expected {(int)status}, got {(int)response.Status}: {response.Raw}");
        var error = Assert.Single(response.Json.GetProperty("errors").EnumerateArray().ToList());
        Assert.Equal(((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), error.GetProperty("status").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("detail").GetString()));
        if (pointer is not null)
        {
            Assert.Equal(pointer, error.GetProperty("source").GetProperty("pointer").GetString());
        }

        if (parameter is not null)
        {
            Assert.Equal(parameter, error.GetProperty("source").GetProperty("parameter").GetString());
        }

        return error;
    }

    /// <summary>Asserts success and returns <c>data</c>.</summary>
    internal static JsonElement AssertData(AdminResponse response, HttpStatusCode status = HttpStatusCode.OK)
    {
        Assert.True(response.Status == status, $"expected {(int)status}, got {(int)response.Status}: {response.Raw}");
        Assert.Equal("application/json", response.ContentType);
        return response.Json.GetProperty("data");
    }
}

/// <summary>An admin API response: status, parsed body (default when empty), raw body, headers.</summary>
internal sealed record AdminResponse(HttpStatusCode Status, JsonElement Json, string Raw, IReadOnlyDictionary<string, string> Headers, string? ContentType);
