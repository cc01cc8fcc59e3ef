using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity.Jwt;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// JWT bearer tokens on routes with <c>auth_scheme</c> jwt / key_or_jwt, against a real discovery document and JWKS
/// served on loopback, with tokens signed by keys generated here.
/// </summary>
public sealed class JwtTests : IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private TestIssuer _issuer = null!;
    private TestGateway _gateway = null!;
    private RsaSecurityKey _rsa = null!;
    private ECDsaSecurityKey _ec = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _issuer = await TestIssuer.StartAsync();
        _rsa = TestIssuer.NewRsaKey("rsa-1");
        _ec = TestIssuer.NewEcKey("ec-1");
        _issuer.Publish(_rsa, _ec);
        _gateway = await StartGatewayAsync("create");
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _issuer.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<TestGateway> StartGatewayAsync(string unknownUser)
    {
        var gateway = await TestGateway.StartAsync(o => Configure(o, unknownUser));
        await gateway.AddUpstreamAsync("backend", _upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        await gateway.AddRouteAsync(new RouteInput { Name = "either", Path = "/either/*", Upstream = "backend", AuthRequired = true, AuthScheme = "key_or_jwt" });
        return gateway;
    }

    private void Configure(GatewayOptions options, string unknownUser)
    {
        options.JwtIssuer = _issuer.Url;
        options.JwtAudience = TestIssuer.Audience;
        options.JwtUnknownUser = unknownUser;
        options.JwtRefreshInterval = TimeSpan.FromHours(1); // only the first unknown kid may cause a fetch within a test
    }

    [Fact]
    public async Task ValidRsaToken_NewSubject_Returns200AndCreatesUserOnDefaultPlan()
    {
        var token = _issuer.Token(_rsa, "subject-rsa", "rsa@example.com");

        var response = await SendAsync(_gateway, "/jwt/items", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var user = (await _gateway.Users.GetAsync("rsa@example.com", CancellationToken.None)).Value!;
        Assert.Equal("free", user.PlanId);
        var received = Assert.Single(_upstream.Received);
        Assert.Equal(user.Id, received.Headers["X-User-ID"].Single());
        Assert.Equal("jwt_" + user.Id, received.Headers["X-Key-ID"].Single());
        Assert.Equal(user.Id, (await _gateway.Store.FindUserByIdentityAsync(_issuer.Url, "subject-rsa", CancellationToken.None))!.Id);
    }

    [Fact]
    public async Task TwoBearerTokens_Refused401AndNoUserCreated()
    {
        // Arrange: a valid token and a second Authorization header, so which one counts would be ambiguous
        var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/jwt/items");
        request.Headers.TryAddWithoutValidation("Authorization",
            ["Bearer " + _issuer.Token(_rsa, "subject-twice", "twice@example.com"), "Bearer " + _issuer.Token(_rsa, "subject-other", "other@example.com")]);

        // Act
        var response = await _gateway.Client.SendAsync(request);

        // Assert
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_upstream.Received);
        Assert.False((await _gateway.Users.GetAsync("twice@example.com", CancellationToken.None)).Ok);
        Assert.False((await _gateway.Users.GetAsync("other@example.com", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task TwoAuthorizationHeadersWithDifferentTokens_Refused400AmbiguousAndNoUserCreated()
    {
        // Arrange: two header lines (HttpClient would join them into one), each a valid token of another subject
        var first = _issuer.Token(_rsa, "subject-first", "first@example.com");
        var second = _issuer.Token(_rsa, "subject-second", "second@example.com");

        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, "/jwt/items", "Authorization: Bearer " + first, "Authorization: Bearer " + second);

        // Assert: two callers, refused as two keys are (it was "401 missing_token: A bearer token is required")
        Assert.Equal(400, response.Status);
        Assert.Equal("ambiguous_credentials", response.ErrorCode);
        Assert.Contains("more than one different credential", response.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(first.Split('.')[1], response.Body, StringComparison.Ordinal);
        Assert.Empty(_upstream.Received);
        Assert.Empty(await _gateway.Users.ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("/jwt/items")]
    [InlineData("/either/items")]
    public async Task SameTokenInTwoAuthorizationHeaders_AcceptedAsOneToken(string path)
    {
        // Arrange: one token on two header lines (a client and a proxy both adding it), as the same key twice is one key
        var token = _issuer.Token(_rsa, "subject-repeated", "repeated@example.com");

        // Act
        var response = await RawHttp.GetAsync(_gateway.Url, path, "Authorization: Bearer " + token, "Authorization: Bearer " + token);

        // Assert: the token's caller (it was 401 missing_token on jwt, and 401 invalid_api_key on key_or_jwt: the token read as a key)
        Assert.Equal(200, response.Status);
        var user = (await _gateway.Users.GetAsync("repeated@example.com", CancellationToken.None)).Value!;
        Assert.Equal(user.Id, Assert.Single(_upstream.Received).Headers["X-User-ID"].Single());
    }

    [Fact]
    public async Task ValidEcToken_Returns200()
    {
        var response = await SendAsync(_gateway, "/jwt/items", _issuer.Token(_ec, "subject-ec", "ec@example.com"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ClockSkewSetToZero_TokenExpiredSecondsAgo_RefusedAsExpired()
    {
        // Arrange: APIGATE_JWT_CLOCK_SKEW=0s (documented range 0–10m) through the settings parser; a token that expired
        // 30 s ago is within the default 60 s tolerance but must be refused without any
        await using var strict = await TestGateway.StartAsync(o =>
        {
            Configure(o, "create");
            GatewaySettings.Get("jwt.clock_skew").Apply(o, "0s");
        });
        await strict.AddUpstreamAsync("backend", _upstream.Url);
        await strict.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        var now = DateTime.UtcNow;
        var expired = _issuer.Token(_rsa, "skew-0", "skew0@example.com", notBefore: now.AddMinutes(-10), expires: now.AddSeconds(-30));
        var valid = _issuer.Token(_rsa, "skew-0", "skew0@example.com");

        // Act
        var refused = await SendAsync(strict, "/jwt/items", expired);
        var accepted = await SendAsync(strict, "/jwt/items", valid);

        // Assert
        Assert.Equal(TimeSpan.Zero, strict.Options.JwtClockSkew);
        await AuthenticationTests.AssertErrorAsync(refused, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Contains("the token has expired", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Theory]
    [InlineData("expired", "the token has expired")]
    [InlineData("not-yet", "the token is not valid yet (nbf)")]
    [InlineData("audience", "the token's audience is not accepted")]
    [InlineData("issuer", "the token's issuer is not accepted")]
    [InlineData("audience-trailing-slash", "the token's audience is not accepted")]
    [InlineData("audience-other-case", "the token's audience is not accepted")]
    [InlineData("issuer-trailing-slash", "the token's issuer is not accepted")]
    [InlineData("none", "")]
    [InlineData("hs256-public-key", "the token's signing algorithm is not accepted")]
    [InlineData("rs384", "the token's signing algorithm is not accepted")]
    [InlineData("garbage", "the token is malformed")]
    [InlineData("nbf-after-exp", "the token's lifetime is not valid (nbf is not before exp)")]
    [InlineData("nbf-equals-exp", "the token's lifetime is not valid (nbf is not before exp)")] // valid at no instant, now included
    public async Task InvalidToken_401InvalidTokenWithChallengeAndReason_NeverEchoesToken(string kind, string reason)
    {
        var now = DateTime.UtcNow;
        var token = kind switch
        {
            "expired" => _issuer.Token(_rsa, "s", "s@example.com", notBefore: now.AddHours(-2), expires: now.AddHours(-1)),
            "not-yet" => _issuer.Token(_rsa, "s", "s@example.com", notBefore: now.AddHours(1), expires: now.AddHours(2)),
            "audience" => _issuer.Token(_rsa, "s", "s@example.com", audience: "someone-else"),
            "issuer" => _issuer.Token(_rsa, "s", "s@example.com", issuer: "http://127.0.0.1:1/other"),
            "audience-trailing-slash" => _issuer.Token(_rsa, "s", "s@example.com", audience: TestIssuer.Audience + "/"),
            "audience-other-case" => _issuer.Token(_rsa, "s", "s@example.com", audience: TestIssuer.Audience.ToUpperInvariant()),
            "issuer-trailing-slash" => _issuer.Token(_rsa, "s", "s@example.com", issuer: _issuer.Url + "/"),
            "none" => _issuer.UnsignedToken("s"),
            "hs256-public-key" => _issuer.HmacWithPublicKeyToken(_rsa, "s"),
            "rs384" => _issuer.Token(_rsa, "s", "s@example.com", algorithm: Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha384), // the issuer's own key
            "nbf-after-exp" => _issuer.RawRsaToken(_rsa, "s", "s@example.com",
                notBefore: new DateTimeOffset(now.AddMinutes(30)).ToUnixTimeSeconds(), expires: new DateTimeOffset(now.AddMinutes(-30)).ToUnixTimeSeconds()),
            "nbf-equals-exp" => _issuer.RawRsaToken(_rsa, "s", "s@example.com",
                notBefore: new DateTimeOffset(now).ToUnixTimeSeconds(), expires: new DateTimeOffset(now).ToUnixTimeSeconds()),
            _ => "eyJhbGciOiJSUzI1NiJ9.not-json.sig",
        };

        var response = await SendAsync(_gateway, "/jwt/items", token);

        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer error=\"invalid_token\"", challenge, StringComparison.Ordinal);
        Assert.Contains(reason, challenge, StringComparison.Ordinal);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(token.Split('.')[1], body, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[1], challenge, StringComparison.Ordinal);
        Assert.Empty(_upstream.Received);
        Assert.Empty(await _gateway.Users.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task UnknownKid_AfterIssuerRotatesKeys_NewKeyFetchedAndTokenAccepted()
    {
        // Arrange: the gateway has the issuer's first key set cached
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(_gateway, "/jwt/a", _issuer.Token(_rsa, "rotating", "rotating@example.com"))).StatusCode);
        Assert.Equal(1, _issuer.JwksFetches);
        var next = TestIssuer.NewRsaKey("rsa-2");
        _issuer.Publish(_rsa, next);
        var token = _issuer.Token(next, "rotating", "rotating@example.com");

        // Act: the unknown kid makes the gateway fetch the keys again (in the background: a few tries, bounded)
        var status = HttpStatusCode.Unauthorized;
        for (var i = 0; i < 50 && status != HttpStatusCode.OK; i++)
        {
            status = (await SendAsync(_gateway, "/jwt/b", token)).StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(100);
            }
        }

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, _issuer.JwksFetches);
    }

    [Fact]
    public async Task FloodOfUnknownKids_AllRefused_IssuerKeysFetchedAtMostOnceMore()
    {
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(_gateway, "/jwt/a", _issuer.Token(_rsa, "s1", "s1@example.com"))).StatusCode);

        var bogus = TestIssuer.NewRsaKey("bogus");
        for (var i = 0; i < 30; i++)
        {
            var response = await SendAsync(_gateway, "/jwt/a", _issuer.Token(new RsaSecurityKey(bogus.Rsa) { KeyId = "bogus-" + i }, "s1", "s1@example.com"));
            await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        }

        Assert.InRange(_issuer.JwksFetches, 1, 2);
    }

    [Fact]
    public async Task UnknownUser_RefuseMode_403AndNoUserCreated()
    {
        await using var refusing = await StartGatewayAsync("refuse");

        var response = await SendAsync(refusing, "/jwt/items", _issuer.Token(_rsa, "stranger", "stranger@example.com"));

        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Forbidden, "unknown_user");
        Assert.Empty(await refusing.Users.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ParallelFirstRequests_SameNewSubject_CreateExactlyOneUser()
    {
        var token = _issuer.Token(_rsa, "crowd", "crowd@example.com");
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return (await SendAsync(_gateway, "/jwt/items", token)).StatusCode;
        })).ToList();

        start.Set();
        var statuses = await Task.WhenAll(tasks);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Single(await _gateway.Users.ListAsync(CancellationToken.None));
        // One lookup resolves the subject for every request waiting on it. Creating the user changes the configuration,
        // and the first request under the newer snapshot looks the (by then linked) subject up once more: at most one
        // lookup per configuration version — never one per request.
        Assert.InRange(_gateway.Service<JwtAuthenticator>().Lookups, 1, 2);
    }

    [Fact]
    public async Task LinkedUser_QuotaAndUsageCountedAsForKeys()
    {
        // Arrange: a user on a plan of two requests a month, linked to the token's subject
        Assert.True((await _gateway.Plans.CreateAsync(new PlanInput { Id = "two", Name = "Two", RequestsPerMonth = 2 }, CancellationToken.None)).Ok);
        var user = (await _gateway.Users.CreateAsync(new UserChanges { Email = "linked@example.com", Plan = "two" }, CancellationToken.None)).Value!;
        Assert.True((await _gateway.Users.LinkIdentityAsync(user.Id, new IdentityLink(_issuer.Url, "linked-subject"), CancellationToken.None)).Ok);
        await _gateway.ReloadAsync();
        var token = _issuer.Token(_rsa, "linked-subject");

        // Act
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await SendAsync(_gateway, "/jwt/items", token));
        }

        var recorder = _gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        await _gateway.StopAsync(); // drains the usage queue

        // Assert
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired], responses.Select(r => r.StatusCode));
        Assert.Equal(["1", "2", "2"], responses.Select(r => r.Headers.GetValues("X-Quota-Used").Single()));
        Assert.Equal(2, recorder.Written);
        Assert.Single(await _gateway.Users.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task KeyOrJwtRoute_AcceptsBoth_JwtRouteRefusesAnApiKey()
    {
        var (key, _, _) = await _gateway.CreateKeyAsync("keyed@example.com");
        var token = _issuer.Token(_rsa, "either", "either@example.com");

        var byKey = await SendAsync(_gateway, "/either/x", key);
        var byToken = await SendAsync(_gateway, "/either/x", token);
        var keyOnJwtRoute = await SendAsync(_gateway, "/jwt/x", key);
        var nothing = await SendAsync(_gateway, "/jwt/x", null);

        Assert.Equal(HttpStatusCode.OK, byKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byToken.StatusCode);
        await AuthenticationTests.AssertErrorAsync(keyOnJwtRoute, HttpStatusCode.Unauthorized, "invalid_token");
        await AuthenticationTests.AssertErrorAsync(nothing, HttpStatusCode.Unauthorized, "missing_token");
        Assert.Equal("Bearer", nothing.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task KeyOrJwtRoute_TokenAndADifferentCallersKey_400AmbiguousNothingForwarded()
    {
        // Arrange
        var (key, _, _) = await _gateway.CreateKeyAsync("other@example.com");
        var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/either/x");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + _issuer.Token(_rsa, "both", "both@example.com"));
        request.Headers.TryAddWithoutValidation("X-API-Key", key);

        // Act
        var response = await _gateway.Client.SendAsync(request);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, "ambiguous_credentials");
        Assert.Empty(_upstream.Received);
    }

    [Fact]
    public async Task CriticalHeaderExtension_Refused401()
    {
        var token = _issuer.Token(_rsa, "crit", "crit@example.com", extraHeader: new Dictionary<string, object> { ["crit"] = new[] { "exp-ext" }, ["exp-ext"] = 1 });

        var response = await SendAsync(_gateway, "/jwt/x", token);

        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Contains("crit", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Empty(await _gateway.Users.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task EmailNotVerifiedOrTakenByAnotherUser_403NoUserCreatedAndTheAnswerDoesNotSayWhichAddressesExist()
    {
        // Arrange
        await _gateway.Users.CreateAsync(new UserChanges { Email = "taken@example.com" }, CancellationToken.None);
        var unverified = _issuer.Token(_rsa, "unverified", "someone@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = false });
        var taken = _issuer.Token(_rsa, "squatter", "TAKEN@example.com");
        var verified = _issuer.Token(_rsa, "verified", "verified@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = true });

        // Act
        var unverifiedResponse = await SendAsync(_gateway, "/jwt/x", unverified);
        var takenResponse = await SendAsync(_gateway, "/jwt/x", taken);
        var verifiedResponse = await SendAsync(_gateway, "/jwt/x", verified);

        // Assert
        var unverifiedError = await AuthenticationTests.AssertErrorAsync(unverifiedResponse, HttpStatusCode.Forbidden, "unknown_user");
        var takenError = await AuthenticationTests.AssertErrorAsync(takenResponse, HttpStatusCode.Forbidden, "unknown_user");
        Assert.Contains("no verified 'email' claim", unverifiedError, StringComparison.Ordinal);
        Assert.DoesNotContain("taken@example.com", takenError, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("exists", takenError, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, verifiedResponse.StatusCode);
        Assert.Equal(["taken@example.com", "verified@example.com"], (await _gateway.Users.ListAsync(CancellationToken.None)).Select(u => u.Email).Order());
    }

    internal static Task<HttpResponseMessage> SendAsync(TestGateway gateway, string path, string? bearer)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + path);
        if (bearer is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
        }

        return gateway.Client.SendAsync(request);
    }
}
