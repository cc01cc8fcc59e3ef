using System.Diagnostics;
using System.Net;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Every admin request needs a valid, unrevoked admin token; API keys never open the admin API.</summary>
public sealed class AdminAuthTests : AdminTestBase
{
    [Theory]
    [InlineData("/plans")]
    [InlineData("/openapi.json")]
    [InlineData("/no-such-endpoint")]
    public async Task Request_WithoutAuthorization_Returns401WithBearerChallenge(string path)
    {
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/admin" + path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Contains("\"code\":\"unauthorized\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Request_WithWrongToken_Returns401()
    {
        var wrong = AdminTokens.Generate();

        var response = await SendAsync(HttpMethod.Get, "/plans", token: wrong);

        AssertError(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("Bearer realm=\"apigate-admin\"", response.Headers["WWW-Authenticate"]);
        Assert.DoesNotContain(wrong, response.Raw);
    }

    [Fact]
    public async Task Request_WithApiKey_Returns401EvenForAValidKey()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("owner@example.com");
        using var viaHeader = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/admin/plans");
        viaHeader.Headers.Add("X-API-Key", key);

        var asBearer = await SendAsync(HttpMethod.Get, "/plans", token: key);
        using var withHeader = await Gateway.Client.SendAsync(viaHeader);

        AssertError(asBearer, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Contains("API keys do not open the admin API", asBearer.Raw);
        Assert.Equal(HttpStatusCode.Unauthorized, withHeader.StatusCode);
    }

    [Fact]
    public async Task Request_WithValidToken_RecordsLastUse()
    {
        var response = await GetAsync("/plans");
        await Gateway.Service<ApiGate.Gateway.Limits.UsageFlusher>().FlushAsync(CancellationToken.None); // the request only noted it in memory

        Assert.Equal(HttpStatusCode.OK, response.Status);
        var stored = Assert.Single(await Gateway.Store.ListAdminTokensAsync(CancellationToken.None));
        Assert.NotNull(stored.LastUsedAt);
    }

    [Fact]
    public async Task LastUseFlusher_NoCredentialUsed_SleepsUntilOneIs_ThenWritesItAndSleepsAgain()
    {
        // Arrange: nothing used since start (the base class's token was created, not used)
        var tracker = Gateway.Service<ApiGate.Gateway.Identity.KeyUsageTracker>();
        await Poll.UntilAsync(() => tracker.FlusherWaiting, () => "the flusher kept waking with nothing to write");

        // Act: one admin request
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/plans")).Status);

        // Assert: woken by the use, it writes the time without anyone calling it, then sleeps again once the token is let go
        await Poll.UntilAsync(async () => (await Gateway.Store.ListAdminTokensAsync(CancellationToken.None)).Single().LastUsedAt is not null,
            () => "the last use was not written");
        await Poll.UntilAsync(() => tracker.FlusherWaiting, () => "the flusher did not go back to sleep");
    }

    [Fact]
    public async Task RevokedToken_FromAnotherProcess_IsRefusedWithinOneSecond()
    {
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/plans")).Status); // trusted now, and cached

        var revoked = await Gateway.CliAsync("admin", "tokens", "revoke", "tests");
        Assert.Equal(0, revoked.ExitCode);
        var clock = Stopwatch.StartNew();
        var status = HttpStatusCode.OK;
        while (status == HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            status = (await GetAsync("/plans")).Status;
            if (status == HttpStatusCode.OK)
            {
                await Task.Delay(50);
            }
        }

        // The promise is 1 s (a verified token is trusted for at most that long); the bound leaves slack for a loaded machine.
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"still accepted after {clock.Elapsed.TotalMilliseconds} ms");
        Assert.Contains("revoked", (await GetAsync("/plans")).Raw);
    }

    [Fact]
    public async Task TokenCreatedWhileServing_WorksAtOnce()
    {
        var created = await Gateway.CliAsync("admin", "tokens", "create", "--name", "late");
        var token = created.Output.Trim(); // stdout holds only the token

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/plans", token: token)).Status);
    }
}

/// <summary>With no admin token in the store, the admin API refuses everything and says how to create one.</summary>
public sealed class AdminWithoutTokenTests : GatewayTestBase
{
    private protected override Task SetUpAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("/admin/plans")]
    [InlineData("/admin/openapi.json")]
    [InlineData("/admin")]
    public async Task Request_NoTokenConfigured_Returns401NamingTheCommand(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Authorization = new("Bearer", AdminTokens.Generate());

        using var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("apigate admin tokens create --name", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RevokingTheOnlyToken_ClosesTheApiAgain()
    {
        var created = await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("only", CancellationToken.None);
        using var before = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/admin/plans");
        before.Headers.Authorization = new("Bearer", created.Value!.Token);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.SendAsync(before)).StatusCode);

        await new AdminTokenService(Gateway.Store, TimeProvider.System).RevokeAsync("only", CancellationToken.None);
        await Task.Delay(AdminTrust + TimeSpan.FromMilliseconds(200));
        using var after = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/admin/plans");
        after.Headers.Authorization = new("Bearer", created.Value.Token);
        using var response = await Gateway.Client.SendAsync(after);

        using var anonymous = await Gateway.Client.GetAsync(Gateway.Url + "/admin/plans");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("revoked", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("apigate admin tokens create", await anonymous.Content.ReadAsStringAsync());
    }

    private static TimeSpan AdminTrust => ApiGate.Gateway.Admin.AdminAuthenticator.TrustFor;
}
