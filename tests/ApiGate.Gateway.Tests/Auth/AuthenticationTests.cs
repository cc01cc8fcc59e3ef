using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Auth;

public sealed class AuthenticationTests : IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(o => o.AuthAllowQueryKey = true);
        await _gateway.AddUpstreamAsync("backend", _upstream.Url);
        await _gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "public", Path = "/public/*", Upstream = "backend", AuthRequired = false });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task NoCredential_Returns401MissingApiKey()
    {
        var response = await _gateway.Client.GetAsync(_gateway.Url + "/private/x");

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
        Assert.Empty(_upstream.Received);
    }

    [Theory]
    [InlineData("not-a-key")]
    [InlineData("ak_0123")]
    [InlineData("ak_0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("AK_0000000000000000000000000000000000000000000000000000000000000000")]
    public async Task MalformedOrUnknownKey_Returns401InvalidApiKey(string key)
    {
        var response = await SendAsync("/private/x", key);

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Fact]
    public async Task ExpiredKey_Returns401KeyExpired()
    {
        var (_, user, _) = await _gateway.CreateKeyAsync("expired@example.com");
        var fullKey = ApiKeys.Generate("ak_");
        await _gateway.Store.CreateKeyAsync(new ApiKeyDefinition
        {
            Id = "key_expired",
            UserId = user.Id,
            Prefix = ApiKeys.PrefixOf(fullKey),
            Hash = ApiKeys.Hash(fullKey),
            ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1),
            CreatedAt = DateTimeOffset.UtcNow.AddDays(-1),
        }, CancellationToken.None);
        await _gateway.ReloadAsync();

        await AssertErrorAsync(await SendAsync("/private/x", fullKey), HttpStatusCode.Unauthorized, "key_expired");
    }

    [Fact]
    public async Task RevokedKey_Returns401KeyRevoked_AndSuspendedUser403()
    {
        var (key, user, record) = await _gateway.CreateKeyAsync("revoke@example.com");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);
        var (otherKey, other, _) = await _gateway.CreateKeyAsync("suspend@example.com");

        await _gateway.Identity.RevokeKeyAsync(record.Id, CancellationToken.None);
        await _gateway.Identity.UpdateUserAsync(other.Email, new UserInput { Status = "suspended" }, CancellationToken.None);
        await _gateway.ReloadAsync();

        await AssertErrorAsync(await SendAsync("/private/x", key), HttpStatusCode.Unauthorized, "key_revoked");
        await AssertErrorAsync(await SendAsync("/private/x", otherKey), HttpStatusCode.Forbidden, "user_suspended");
        Assert.Equal(user.Id, record.UserId);
    }

    [Theory]
    [InlineData("bearer")]
    [InlineData("header")]
    [InlineData("query")]
    public async Task ValidKey_InjectsIdentityAndEntitlementHeaders_AndStripsCredential(string where)
    {
        await _gateway.Identity.CreateEntitlementAsync(new EntitlementInput { Name = "webhooks", ValueType = "boolean", DefaultValue = "false" }, CancellationToken.None);
        await _gateway.Identity.CreateEntitlementAsync(new EntitlementInput { Name = "max_api_keys", ValueType = "number", DefaultValue = "2" }, CancellationToken.None);
        await _gateway.Identity.CreateEntitlementAsync(new EntitlementInput { Name = "tier", ValueType = "string", DefaultValue = "basic", HeaderName = "X-Tier" }, CancellationToken.None);
        var (key, user, record) = await _gateway.CreateKeyAsync("headers@example.com", new PlanInput { Id = "pro", Name = "Pro", RateLimitPerMinute = 600 }, reload: false);
        await _gateway.Identity.CreatePlanEntitlementAsync(new PlanEntitlementInput { Plan = "pro", Entitlement = "webhooks", Value = "true" }, CancellationToken.None);
        await _gateway.ReloadAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/private/x" + (where == "query" ? "?api_key=" + key + "&keep=1" : "?keep=1"));
        if (where == "bearer")
        {
            request.Headers.Add("Authorization", "Bearer " + key);
        }
        else if (where == "header")
        {
            request.Headers.Add("X-API-Key", key);
        }

        request.Headers.Add("X-User-ID", "spoofed");
        request.Headers.Add("X-Entitlement-Webhooks", "spoofed");

        var response = await _gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.Equal([user.Id], received.Headers["X-User-ID"]);
        Assert.Equal([record.Id], received.Headers["X-Key-ID"]);
        Assert.Equal(["pro"], received.Headers["X-Plan-ID"]);
        Assert.Equal(["true"], received.Headers["X-Entitlement-Webhooks"]);
        Assert.Equal(["2"], received.Headers["X-Entitlement-Max-Api-Keys"]);
        Assert.Equal(["basic"], received.Headers["X-Tier"]);
        Assert.False(received.Headers.ContainsKey("Authorization"));
        Assert.False(received.Headers.ContainsKey("X-API-Key"));
        Assert.Equal("?keep=1", received.Query);
        Assert.DoesNotContain(key, string.Join("|", received.Headers.SelectMany(h => h.Value)) + received.Query);
        Assert.True(response.Headers.Contains("X-RateLimit-Limit"));
        Assert.True(response.Headers.Contains("X-Quota-Used"));
    }

    [Fact]
    public async Task PublicRoute_SkipsAuth_StripsSpoofedIdentity_AndKeepsNoLimitHeaders()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/public/x");
        request.Headers.Add("X-User-ID", "spoofed");
        request.Headers.Add("X-API-Key", "ak_whatever");

        var response = await _gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = _upstream.Received.Last();
        Assert.False(received.Headers.ContainsKey("X-User-ID"));
        Assert.False(received.Headers.ContainsKey("X-API-Key"));
        Assert.False(response.Headers.Contains("X-RateLimit-Limit"));
    }

    [Fact]
    public async Task KnownKey_IsServedFromCache_WithoutDatabaseLookups()
    {
        var (key, _, _) = await _gateway.CreateKeyAsync("cache@example.com");
        var authenticator = _gateway.Service<Identity.ApiKeyAuthenticator>();
        await SendAsync("/private/x", key);
        var before = Interlocked.Read(ref authenticator.Lookups);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);
        }

        Assert.Equal(before, Interlocked.Read(ref authenticator.Lookups));
    }

    [Fact]
    public async Task RevocationAndSuspensionByCli_WhileTrafficFlows_AreObservedWithinOneSecond()
    {
        var (key, _, record) = await _gateway.CreateKeyAsync("live@example.com");
        var (otherKey, other, _) = await _gateway.CreateKeyAsync("live2@example.com");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var revokedSeen = Stopwatch.StartNew();
        var suspendedSeen = Stopwatch.StartNew();
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && (await SendAsync("/private/x", key)).StatusCode == HttpStatusCode.OK)
            {
            }

            revokedSeen.Stop();
            while (!stop.IsCancellationRequested && (await SendAsync("/private/x", otherKey)).StatusCode == HttpStatusCode.OK)
            {
            }

            suspendedSeen.Stop();
        });

        await Task.Delay(200);
        revokedSeen.Restart();
        Assert.Equal(0, (await _gateway.CliAsync("keys", "revoke", record.Id)).ExitCode);
        revokedSeen.Restart();
        await Task.Delay(1500);
        suspendedSeen.Restart();
        Assert.Equal(0, (await _gateway.CliAsync("users", "deactivate", other.Email)).ExitCode);
        suspendedSeen.Restart();
        await traffic;

        // The gateway polls every 100 ms here (250 ms by default); the bound leaves slack for a loaded CI machine.
        Assert.True(revokedSeen.Elapsed < TimeSpan.FromSeconds(2.5), $"revocation seen after {revokedSeen.ElapsedMilliseconds} ms");
        Assert.True(suspendedSeen.Elapsed < TimeSpan.FromSeconds(2.5), $"suspension seen after {suspendedSeen.ElapsedMilliseconds} ms");
        await AssertErrorAsync(await SendAsync("/private/x", key), HttpStatusCode.Unauthorized, "key_revoked");
        await AssertErrorAsync(await SendAsync("/private/x", otherKey), HttpStatusCode.Forbidden, "user_suspended");
    }

    private Task<HttpResponseMessage> SendAsync(string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + path);
        request.Headers.TryAddWithoutValidation("X-API-Key", key);
        return _gateway.Client.SendAsync(request);
    }

    internal static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/vnd.api+json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), error.GetProperty("status").GetString());
    }
}
