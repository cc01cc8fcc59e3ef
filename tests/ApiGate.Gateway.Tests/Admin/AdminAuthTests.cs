using System.Net;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

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
    public async Task RevokedToken_FromAnotherProcess_IsRefusedOnceItsOneSecondOfTrustEnds()
    {
        // Arrange: a gateway of its own on a clock the test moves (the second a verified token is trusted is then the
        // gateway's second, not a shared machine's), with a token it has verified and now trusts
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await TestGateway.StartAsync(timeProvider: clock);
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("revoked", CancellationToken.None)).Value!.Token;
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, token, HttpMethod.Get, "/plans")).Status);

        // Act: the CLI revokes it through its own store connection (as another process does); the trust runs out
        var revoked = await gateway.CliAsync("admin", "tokens", "revoke", "revoked");
        clock.Advance(TimeSpan.FromSeconds(1)); // the promised second, not AdminAuthenticator.TrustFor: a longer trust breaks the promise
        var after = await SendAsync(gateway, token, HttpMethod.Get, "/plans");

        // Assert: a second after it was verified the store is asked again, and answers that it is revoked
        Assert.Equal(0, revoked.ExitCode);
        AssertError(after, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Contains("the admin token has been revoked", after.Raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenCreatedWhileServing_WorksAtOnce()
    {
        var created = await Gateway.CliAsync("admin", "tokens", "create", "--name", "late");
        var token = created.Output.Trim(); // stdout holds only the token

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/plans", token: token)).Status);
    }

    [Theory]
    [InlineData("same token twice", "the request has 2 Authorization headers: send one, with one admin token (Authorization: Bearer <token>)")]
    [InlineData("two tokens", "the request has 2 Authorization headers: send one, with one admin token (Authorization: Bearer <token>)")]
    [InlineData("unknown token, then a valid one", "the request has 2 Authorization headers: send one, with one admin token (Authorization: Bearer <token>)")]
    [InlineData("two tokens in one header", "the Authorization header holds more than one credential (a comma-separated list): send one admin token (Authorization: Bearer <token>)")]
    public async Task Request_WithMoreThanOneCredential_Returns401SayingSoAndChangesNothing(string shape, string detail)
    {
        // Arrange: every token sent is a real admin token but the unknown one, so "not an admin token" would be wrong
        var other = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("other", CancellationToken.None)).Value!.Token;
        AssertData(await PostAsync("/plans", new { id = "kept", name = "Kept" }), HttpStatusCode.Created);
        string[] lines = shape switch
        {
            "same token twice" => ["Authorization: Bearer " + Token, "Authorization: Bearer " + Token],
            "two tokens" => ["Authorization: Bearer " + Token, "Authorization: Bearer " + other],
            "unknown token, then a valid one" => ["Authorization: Bearer " + AdminTokens.Generate(), "Authorization: Bearer " + Token],
            _ => ["Authorization: Bearer " + Token + ", Bearer " + other],
        };
        var request = "DELETE /admin/plans/kept HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n" + string.Concat(lines.Select(l => l + "\r\n")) + "\r\n";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));

        // Assert
        Assert.Equal(401, response.Status);
        Assert.Equal("Bearer realm=\"apigate-admin\"", response.Headers["WWW-Authenticate"]);
        var error = System.Text.Json.JsonDocument.Parse(response.Body).RootElement.GetProperty("errors")[0];
        Assert.Equal("unauthorized", error.GetProperty("code").GetString());
        Assert.Equal(detail, error.GetProperty("detail").GetString());
        Assert.DoesNotContain(Token, response.Body);
        Assert.DoesNotContain(other, response.Body);
        AssertData(await GetAsync("/plans/kept"));
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
