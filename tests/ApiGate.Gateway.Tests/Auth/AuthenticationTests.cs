using System.Net;
using System.Text.Json;
using ApiGate.Core.Identity;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Auth;

public sealed class AuthenticationTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.AuthAllowQueryKey = true;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "public", Path = "/public/*", Upstream = "backend", AuthRequired = false });
    }

    [Fact]
    public async Task NoCredential_Returns401MissingApiKey()
    {
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/private/x");

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task KeyAfterBearerAndATab_IsReadAndNotForwarded()
    {
        // Arrange: a tab after the scheme, which lenient clients send and the forwarder already strips as a credential
        var (key, user, _) = await Gateway.CreateKeyAsync("tab@example.com");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/private/tab", "Authorization: Bearer\t" + key);

        // Assert: authenticated as that key's user (it was "401 missing_api_key: An API key is required")
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last();
        Assert.Equal(user.Id, received.Headers["X-User-ID"][0]);
        Assert.False(received.Headers.ContainsKey("Authorization"));
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
        var (_, user, _) = await Gateway.CreateKeyAsync("expired@example.com");
        var fullKey = ApiKeys.Generate("ak_");
        await Gateway.Store.CreateKeyAsync(new ApiKeyDefinition
        {
            Id = "key_expired",
            UserId = user.Id,
            Prefix = ApiKeys.PrefixOf(fullKey),
            Hash = ApiKeys.Hash(fullKey),
            ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1),
            CreatedAt = DateTimeOffset.UtcNow.AddDays(-1),
        }, CancellationToken.None);
        await Gateway.ReloadAsync();

        await AssertErrorAsync(await SendAsync("/private/x", fullKey), HttpStatusCode.Unauthorized, "key_expired");
    }

    [Fact]
    public async Task RevokedKey_Returns401KeyRevoked_AndSuspendedUser403()
    {
        var (key, user, record) = await Gateway.CreateKeyAsync("revoke@example.com");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);
        var (otherKey, other, _) = await Gateway.CreateKeyAsync("suspend@example.com");

        await Gateway.Keys.RevokeAsync(record.Id, CancellationToken.None);
        await Gateway.Users.UpdateAsync(other.Email, new UserChanges { Status = UserStatus.Suspended }, CancellationToken.None);
        await Gateway.ReloadAsync();

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
        await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "webhooks", ValueType = EntitlementValueType.Boolean, DefaultValue = "false" }, CancellationToken.None);
        await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "max_api_keys", ValueType = EntitlementValueType.Number, DefaultValue = "2" }, CancellationToken.None);
        await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String, DefaultValue = "basic", HeaderName = "X-Tier" }, CancellationToken.None);
        var (key, user, record) = await Gateway.CreateKeyAsync("headers@example.com", new PlanInput { Id = "pro", Name = "Pro", RateLimitPerMinute = 600 }, reload: false);
        await Gateway.PlanEntitlements.CreateAsync(new PlanEntitlementInput { Plan = "pro", Entitlement = "webhooks", Value = "true" }, CancellationToken.None);
        await Gateway.ReloadAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/private/x" + (where == "query" ? "?api_key=" + key + "&keep=1" : "?keep=1"));
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

        var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Upstream.Received.Last();
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
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/public/x");
        request.Headers.Add("X-User-ID", "spoofed");
        request.Headers.Add("X-API-Key", "ak_whatever");

        var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Upstream.Received.Last();
        Assert.False(received.Headers.ContainsKey("X-User-ID"));
        Assert.False(received.Headers.ContainsKey("X-API-Key"));
        Assert.False(response.Headers.Contains("X-RateLimit-Limit"));
    }

    [Fact]
    public async Task KnownKey_IsServedFromCache_WithoutDatabaseLookups()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("cache@example.com");
        var authenticator = Gateway.Service<Identity.ApiKeyAuthenticator>();
        await SendAsync("/private/x", key);
        var before = Interlocked.Read(ref authenticator.Lookups);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);
        }

        Assert.Equal(before, Interlocked.Read(ref authenticator.Lookups));
    }

    [Fact]
    public async Task KnownKey_RoutesUpstreamsAndItsPlanChanged_StillServedFromCacheWithTheNewPlan_AKeyChangeReadsItAgain()
    {
        // Arrange: a key in the cache, then a route, an upstream and the key's own plan changed and applied.
        var (key, _, _) = await Gateway.CreateKeyAsync("kept@example.com", new PlanInput { Id = "kept", Name = "Kept", RateLimitPerMinute = 600 });
        var authenticator = Gateway.Service<Identity.ApiKeyAuthenticator>();
        var limitBefore = int.Parse(Assert.Single((await SendAsync("/private/x", key)).Headers.GetValues("X-RateLimit-Limit")), System.Globalization.CultureInfo.InvariantCulture);
        var before = Interlocked.Read(ref authenticator.Lookups);
        var versionBefore = Gateway.Snapshots.Current!.Version;
        await Gateway.AddUpstreamAsync("cache-extra", "http://127.0.0.1:9");
        await Gateway.AddRouteAsync(new RouteInput { Name = "cache-extra", Path = "/cache-extra/*", Upstream = "cache-extra" });
        Assert.True((await Gateway.Plans.UpdateAsync("kept", new PlanInput { Id = "kept", Name = "Kept", RateLimitPerMinute = 900 }, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();

        // Act
        var afterConfigChanges = await SendAsync("/private/x", key);
        var lookupsAfterConfigChanges = Interlocked.Read(ref authenticator.Lookups);
        await Gateway.CreateKeyAsync("kept2@example.com"); // a new key: what a cached key stands for may have changed
        var afterKeyChange = await SendAsync("/private/x", key);

        // Assert: three reloads and no store read, yet the plan's new limit applies; a key change empties the cache.
        Assert.True(Gateway.Snapshots.Current!.Version >= versionBefore + 3);
        Assert.Equal(HttpStatusCode.OK, afterConfigChanges.StatusCode);
        Assert.Equal((limitBefore + 300).ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(afterConfigChanges.Headers.GetValues("X-RateLimit-Limit"))); // capacity = rate + burst
        Assert.Equal(before, lookupsAfterConfigChanges);
        Assert.Equal(HttpStatusCode.OK, afterKeyChange.StatusCode);
        Assert.Equal(before + 1, Interlocked.Read(ref authenticator.Lookups));
    }

    [Fact]
    public async Task RevocationAndSuspensionByCli_WhileTrafficFlows_AreObservedAtTheNextPoll()
    {
        // Arrange: an unlimited plan, so the only refusals the traffic can see are the ones under test.
        var (key, _, record) = await Gateway.CreateKeyAsync("live@example.com", new PlanInput { Id = "unlimited", Name = "Unlimited" });
        var (otherKey, other, _) = await Gateway.CreateKeyAsync("live2@example.com", new PlanInput { Id = "unlimited2", Name = "Unlimited 2" });
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("/private/x", key)).StatusCode);

        // Act: each change made by the CLI (its own store connection, as another process's) while requests keep coming
        var afterRevoke = await ChangeWhileTrafficFlowsAsync(key, () => Gateway.CliAsync("keys", "revoke", record.Id), HttpStatusCode.Unauthorized);
        var afterSuspend = await ChangeWhileTrafficFlowsAsync(otherKey, () => Gateway.CliAsync("users", "deactivate", other.Email), HttpStatusCode.Forbidden);

        // Assert: the first poll that began after the CLI's commit applied each change (the gateway polls every 100 ms
        // here, 250 ms by default; counted, not timed, as the machine is shared)
        await AssertErrorAsync(afterRevoke, HttpStatusCode.Unauthorized, "key_revoked");
        await AssertErrorAsync(afterSuspend, HttpStatusCode.Forbidden, "user_suspended");
    }

    /// <summary>
    /// Makes <paramref name="change"/> while requests with <paramref name="key"/> flow (until the first refusal, which must
    /// come after the change and be <paramref name="expected"/>); returns the answer to a request sent once a poll that
    /// began after the change has run.
    /// </summary>
    private async Task<HttpResponseMessage> ChangeWhileTrafficFlowsAsync(string key, Func<Task<CliResult>> change, HttpStatusCode expected)
    {
        using var stop = new CancellationTokenSource();
        var sent = 0;
        var changing = 0;
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var status = (await SendAsync("/private/x", key)).StatusCode;
                Interlocked.Increment(ref sent);
                if (status != HttpStatusCode.OK)
                {
                    Assert.True(Volatile.Read(ref changing) == 1, $"refused with {status} before the change was made");
                    Assert.Equal(expected, status);
                    return;
                }
            }
        });

        await Poll.UntilAsync(() => Volatile.Read(ref sent) >= 5 || traffic.IsCompleted); // traffic flows before the change
        Volatile.Write(ref changing, 1);
        Assert.Equal(0, (await change()).ExitCode);
        await Gateway.WaitForNextPollAsync();
        var after = await SendAsync("/private/x", key);
        await stop.CancelAsync();
        await traffic;
        return after;
    }

    private Task<HttpResponseMessage> SendAsync(string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.TryAddWithoutValidation("X-API-Key", key);
        return Gateway.Client.SendAsync(request);
    }

    /// <summary>Asserts a JSON:API error with this status and code; returns its detail.</summary>
    internal static async Task<string> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/vnd.api+json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), error.GetProperty("status").GetString());
        return error.GetProperty("detail").GetString() ?? "";
    }
}
