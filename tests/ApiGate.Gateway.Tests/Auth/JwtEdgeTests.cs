using System.Net;
using System.Security.Cryptography;
using ApiGate.Core.Management;
using ApiGate.Gateway.Identity.Jwt;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// JWT edge cases found by an attack run: what a token holder whose subject cannot become a user costs the store, and
/// tokens that name no <c>kid</c>.
/// </summary>
public sealed class JwtEdgeTests : JwtRouteTestBase
{
    [Fact]
    public async Task SubjectWhoseEmailBelongsToAnotherUser_RepeatedRequests_StoreAskedOncePerConfigVersion()
    {
        // Arrange: the token's (verified) email is already another user's, so no user can be created for its subject
        await Gateway.Users.CreateAsync(new UserChanges { Email = "taken@example.com" }, CancellationToken.None);
        await Gateway.ReloadAsync();
        var token = Issuer.Token(Rsa, "squatter", "taken@example.com");
        var jwt = Gateway.Service<JwtAuthenticator>();

        // Act: the same token again and again (a token holder can send it as fast as it likes: the refusal comes before
        // the rate limit)
        for (var i = 0; i < 10; i++)
        {
            var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);
            await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Forbidden, "unknown_user");
        }

        // Assert: like an unknown API key or a subject without an email, the refusal is remembered for the config version
        // (nothing the gateway can do changes it until the configuration changes); not three store round trips and a
        // warning per request
        Assert.InRange(jwt.Lookups, 1, 2);
    }

    [Fact]
    public async Task SubjectWhoseEmailBelongsToAnotherUser_TheWarningNamesTheSubjectAndIssuerToLink()
    {
        // Arrange: the 403 tells the caller nothing and points the operator at the log; linking needs the subject
        var log = new CapturedLog();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.JwtIssuer = Issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
            o.LogLevel = "info";
            o.LogWriter = log.Writer;
        });
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        await gateway.Users.CreateAsync(new UserChanges { Email = "taken@example.com" }, CancellationToken.None);
        await gateway.ReloadAsync();

        // Act
        var response = await JwtTests.SendAsync(gateway, "/jwt/x", Issuer.Token(Rsa, "auth0|squatter-7", "taken@example.com"));

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Forbidden, "unknown_user");
        for (var i = 0; i < 100 && !log.Text.Contains("auth0|squatter-7", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
        }

        var line = Assert.Single(log.Text.ReplaceLineEndings("\n").Split('\n'), l => l.Contains("No user created", StringComparison.Ordinal));
        Assert.Contains("'auth0|squatter-7' of " + Issuer.Url, line, StringComparison.Ordinal);
        Assert.Contains("taken@example.com", line, StringComparison.Ordinal);
        Assert.Contains("apigate users link-identity", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubjectWhoseEmailBelongsToAnotherUser_OperatorLinksItThroughTheAdminApi_ActsAsThatUserUntilUnlinked()
    {
        // Arrange: the refusal for the subject is remembered (above); the operator decides the subject is that user
        var user = (await Gateway.Users.CreateAsync(new UserChanges { Email = "ann@example.com" }, CancellationToken.None)).Value!;
        await Gateway.ReloadAsync();
        var token = Issuer.Token(Rsa, "ann-at-issuer", "ann@example.com");
        await AuthenticationTests.AssertErrorAsync(await JwtTests.SendAsync(Gateway, "/jwt/x", token), HttpStatusCode.Forbidden, "unknown_user");
        var admin = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("tests", CancellationToken.None)).Value!.Token;

        // Act
        var badIssuer = await Admin.AdminTestBase.SendAsync(Gateway, admin, HttpMethod.Post, "/users/ann@example.com/identities", """{"subject":"ann-at-issuer","issuer":"ftp://x"}""");
        var linked = await Admin.AdminTestBase.SendAsync(Gateway, admin, HttpMethod.Post, "/users/ann@example.com/identities", """{"data":{"subject":"ann-at-issuer"}}""");
        var afterLink = await JwtTests.SendAsync(Gateway, "/jwt/x", token);
        var listed = await Admin.AdminTestBase.SendAsync(Gateway, admin, HttpMethod.Get, $"/users/{user.Id}/identities");
        var unlinked = await Admin.AdminTestBase.SendAsync(Gateway, admin, HttpMethod.Delete, $"/users/{user.Id}/identities?subject=ann-at-issuer");
        var afterUnlink = await JwtTests.SendAsync(Gateway, "/jwt/x", token);
        var unlinkedAgain = await Admin.AdminTestBase.SendAsync(Gateway, admin, HttpMethod.Delete, $"/users/{user.Id}/identities?subject=ann-at-issuer");

        // Assert: the link is a configuration change, so the remembered refusal goes at once (no restart, no wait)
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badIssuer.Status);
        Assert.Equal("/issuer", badIssuer.Json.GetProperty("errors")[0].GetProperty("source").GetProperty("pointer").GetString());
        Assert.Equal(HttpStatusCode.Created, linked.Status);
        Assert.Equal(Issuer.Url, linked.Json.GetProperty("data").GetProperty("issuer").GetString()); // the gateway's issuer by default
        Assert.Equal(user.Id, linked.Json.GetProperty("data").GetProperty("user_id").GetString());
        Assert.Equal(HttpStatusCode.OK, afterLink.StatusCode);
        Assert.Equal(user.Id, Upstream.Received.Last().Headers["X-User-ID"].Single());
        Assert.Equal("ann-at-issuer", Assert.Single(listed.Json.GetProperty("data").EnumerateArray().ToList()).GetProperty("subject").GetString());
        Assert.Equal(HttpStatusCode.NoContent, unlinked.Status);
        await AuthenticationTests.AssertErrorAsync(afterUnlink, HttpStatusCode.Forbidden, "unknown_user");
        Assert.Equal(HttpStatusCode.NotFound, unlinkedAgain.Status);
        var audit = (await Gateway.Store.ListAdminAuditAsync(10, CancellationToken.None)).Where(r => r.Path.EndsWith("/identities", StringComparison.Ordinal)).ToList();
        Assert.Contains(audit, r => r.Method == "DELETE" && r.Note.Contains("Unlinked subject 'ann-at-issuer'", StringComparison.Ordinal)); // the query is not in the path kept
        Assert.Contains(audit, r => r.Method == "POST" && r.Status == 201 && r.Note.Contains("Linked subject 'ann-at-issuer'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TokenWithoutKid_SignedWithTheIssuersOnlyKey_Accepted()
    {
        // Arrange: kid is optional (RFC 7515 §4.1.4); an issuer with one key may leave it out
        var token = Issuer.Token(new RsaSecurityKey(Rsa.Rsa), "no-kid", "no-kid@example.com");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task TokenWithoutKid_SignedWithAKeyTheIssuerDoesNotHave_Refused401SayingNoKeyVerifiesIt()
    {
        // Arrange: without a kid every published key is tried; the reason says that none verified it, not that the
        // token named a key the issuer does not publish (it named none)
        using var other = RSA.Create(2048);
        var token = Issuer.Token(new RsaSecurityKey(other), "no-kid-forged", "no-kid-forged@example.com");
        var forwarded = Upstream.Received.Count;

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal(
            "Bearer error=\"invalid_token\", error_description=\"the token names no key (kid) and none of the issuer's keys verifies its signature\"",
            response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(forwarded, Upstream.Received.Count);
    }

    [Fact]
    public async Task TokenNamingAnUnpublishedKid_SignedWithAPublishedKey_Refused401AndKeysReadAgain()
    {
        // Arrange: a kid names the key that signed (RFC 7515 §4.1.4); one the issuer does not publish is not checked
        // against every published key in turn (each an RSA verification a flood of made-up kids would multiply), the
        // keys are read again in case the issuer rotated
        Assert.Equal(HttpStatusCode.OK, (await JwtTests.SendAsync(Gateway, "/jwt/x", Issuer.Token(Rsa, "kid-a", "kid-a@example.com"))).StatusCode);
        var fetches = Issuer.JwksFetches;
        var forwarded = Upstream.Received.Count;
        var token = Issuer.Token(new RsaSecurityKey(Rsa.Rsa) { KeyId = "not-published" }, "kid-b", "kid-b@example.com");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        for (var i = 0; i < 50 && Issuer.JwksFetches == fetches; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(fetches + 1, Issuer.JwksFetches);
        Assert.Equal(forwarded, Upstream.Received.Count);
    }

    [Fact]
    public async Task IssuerAnswersAHugeJwks_NotReadWhole_TokensGet503()
    {
        // Arrange: an issuer whose JWKS (its key, then 64 MB of padding) is far larger than any real one: the gateway would
        // hold all of it (as bytes and as a string) in memory, and again on every retry
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        var url = "";
        var p = Rsa.Rsa.ExportParameters(false);
        var jwk = $"{{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"rsa-1\",\"n\":\"{Base64UrlEncoder.Encode(p.Modulus)}\",\"e\":\"{Base64UrlEncoder.Encode(p.Exponent)}\"}}";
        var padding = new string('x', 64 << 20);
        app.MapGet("/.well-known/openid-configuration", () => Results.Text($"{{\"issuer\":\"{url}\",\"jwks_uri\":\"{url}/jwks\"}}", "application/json"));
        app.MapGet("/jwks", () => Results.Text($"{{\"keys\":[{jwk}],\"padding\":\"{padding}\"}}", "application/json"));
        await app.StartAsync();
        url = app.Urls.First();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.JwtIssuer = url;
            o.JwtAudience = TestIssuer.Audience;
        });
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        var token = Issuer.Token(Rsa, "big", "big@example.com", issuer: url);

        // Act: for long enough that the whole body could be read (a few seconds on loopback)
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            statuses.Add((await JwtTests.SendAsync(gateway, "/jwt/x", token)).StatusCode);
            await Task.Delay(500);
        }

        // Assert: an issuer document past the size limit is a failed fetch (as one that is not JSON), not keys
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(1024)]
    public async Task IssuerPublishesAShortRsaKey_TokenSignedWithIt_Refused401NamingTheKeySizeWithoutRefetching(int bits)
    {
        // Arrange: next to its good key the issuer publishes an RSA key too short to trust (RFC 7518 §3.3 asks for 2048
        // bits; 512 bits are factored in hours), so whoever factors it can sign any subject's tokens
        var weak = TestIssuer.NewRsaKey("weak", bits);
        Issuer.Publish(Rsa, weak);
        var log = new CapturedLog();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.JwtIssuer = Issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
            o.JwtRefreshInterval = TimeSpan.FromHours(1);
            o.LogWriter = log.Writer;
        });
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        var forged = Issuer.RawRsaToken(weak, "victim", "victim@example.com");

        // Act
        var good = await JwtTests.SendAsync(gateway, "/jwt/x", Issuer.Token(Rsa, "good", "good@example.com"));
        var refused = await JwtTests.SendAsync(gateway, "/jwt/x", forged);
        var again = await JwtTests.SendAsync(gateway, "/jwt/x", forged);

        // Assert: the good key is used, the short one is not, and the refusal says why without making the gateway read
        // the issuer's keys again (the short key would be left out again)
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        await AuthenticationTests.AssertErrorAsync(refused, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal("Bearer error=\"invalid_token\", error_description=\"the token is signed with an RSA key shorter than 2048 bits\"",
            refused.Headers.WwwAuthenticate.ToString());
        await AuthenticationTests.AssertErrorAsync(again, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Single(Upstream.Received);
        Assert.False((await gateway.Users.GetAsync("victim@example.com", CancellationToken.None)).Ok);
        Assert.Equal(1, gateway.Service<JwtAuthenticator>().KeyFetches);
        Assert.Contains($"publishes the RSA key 'weak' of {bits} bits", await log.UpToMarkerAsync(gateway), StringComparison.Ordinal);
    }

    /// <summary>A gateway whose callers are identified by the token's email (APIGATE_JWT_USER_CLAIM=email), with one JWT route at /jwt/*.</summary>
    private async Task<TestGateway> StartIdentifiedByEmailAsync()
    {
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.JwtIssuer = Issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
            o.JwtUserClaim = "email";
        });
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        return gateway;
    }

    [Fact]
    public async Task UserClaimIsEmail_TokenWithTheSameEmailMarkedUnverified_DoesNotActAsTheLinkedUser()
    {
        // Arrange: the caller is identified by its email (APIGATE_JWT_USER_CLAIM=email); the victim's verified token linked
        // its address to its user
        await using var gateway = await StartIdentifiedByEmailAsync();
        var victim = Issuer.Token(Rsa, "victim-subject", "victim@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = true });
        Assert.Equal(HttpStatusCode.OK, (await JwtTests.SendAsync(gateway, "/jwt/x", victim)).StatusCode);
        var victimUser = (await gateway.Users.GetAsync("victim@example.com", CancellationToken.None)).Value!;

        // Act: another account at the issuer that typed the victim's address but never proved it
        var attacker = Issuer.Token(Rsa, "attacker-subject", "victim@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = false });
        var response = await JwtTests.SendAsync(gateway, "/jwt/x", attacker);

        // Assert: the issuer says nobody proved that address, so it identifies no one (the gateway already will not create a
        // user from it); the upstream never sees the victim's id for this token
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(Upstream.Received.Skip(1), r => r.Headers["X-User-ID"].Contains(victimUser.Id));
    }

    [Fact]
    public async Task UserClaimIsEmail_SubjectThatIsAJsonNumber_AcceptedAsTheEmailsUser()
    {
        // Arrange: the caller is identified by its email (APIGATE_JWT_USER_CLAIM=email), so sub identifies no one here and
        // its JSON type is not the gateway's to judge
        await using var gateway = await StartIdentifiedByEmailAsync();
        var token = Issuer.Token(Rsa, "unused", "numbered@example.com",
            extraClaims: new Dictionary<string, object> { ["sub"] = 12345, ["email_verified"] = true });

        // Act
        var response = await JwtTests.SendAsync(gateway, "/jwt/x", token);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((await gateway.Users.GetAsync("numbered@example.com", CancellationToken.None)).Ok);
    }

    [Theory]
    [InlineData("nul\u0000subject", "holds a control character")]
    [InlineData("line\nbreak", "holds a control character")]
    [InlineData(null, "is longer than 255 characters")]
    public async Task SubjectNoUserCanBeLinkedTo_RefusedAsAnInvalidToken_NoUserCreatedOrLinked(string? subject, string reason)
    {
        // Arrange: a signed token whose subject the store cannot hold (PostgreSQL's text has no NUL) or an operator could
        // not link (over 255 characters); null stands for 256 characters
        subject ??= new string('s', 256);
        var token = Issuer.Token(Rsa, subject, "odd-subject@example.com");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False((await Gateway.Users.GetAsync("odd-subject@example.com", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task SubjectThatIsAJsonNumber_Refused401NamingTheClaim_NoUserCreatedOrLinked()
    {
        // Arrange: a signed token whose sub is a number (RFC 7519 §4.1.2: a StringOrURI, so a string); before, its text
        // (12345) was taken as the subject and a user created and linked to it
        var token = Issuer.Token(Rsa, "unused", "number-subject@example.com", extraClaims: new Dictionary<string, object> { ["sub"] = 12345 });

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal("Bearer error=\"invalid_token\", error_description=\"the token's 'sub' claim is not a string\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Empty(Upstream.Received);
        Assert.False((await Gateway.Users.GetAsync("number-subject@example.com", CancellationToken.None)).Ok);
        Assert.Null(await Gateway.Store.FindUserByIdentityAsync(Issuer.Url, "12345", CancellationToken.None));
    }

    [Theory]
    [InlineData("boolean")]
    [InlineData("object")]
    [InlineData("array")]
    public async Task SubjectThatIsAJsonBooleanObjectOrArray_Refused401AsMalformed(string kind)
    {
        // Arrange: the token library itself reads sub as a string and refuses these
        object subject = kind switch
        {
            "boolean" => true,
            "object" => new Dictionary<string, object> { ["id"] = 1 },
            _ => new[] { "a", "b" },
        };
        var token = Issuer.Token(Rsa, "unused", "typed-subject@example.com", extraClaims: new Dictionary<string, object> { ["sub"] = subject });

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal("Bearer error=\"invalid_token\", error_description=\"the token is malformed\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Empty(Upstream.Received);
        Assert.False((await Gateway.Users.GetAsync("typed-subject@example.com", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task SubjectThatIsANumberWrittenAsAString_Accepted()
    {
        // Arrange
        var token = Issuer.Token(Rsa, "12345", "digits-subject@example.com");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var user = (await Gateway.Users.GetAsync("digits-subject@example.com", CancellationToken.None)).Value!;
        Assert.Equal(user.Id, (await Gateway.Store.FindUserByIdentityAsync(Issuer.Url, "12345", CancellationToken.None))!.Id);
    }

    [Fact]
    public async Task Subject255CharactersLong_Accepted()
    {
        // Arrange
        var token = Issuer.Token(Rsa, new string('s', 255), "long-subject@example.com");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
    [Theory]
    [InlineData("unverified")]
    [InlineData("no-email")]
    public async Task NewSubjectRefusedForWantOfAVerifiedEmail_ItsNextTokenCarriesOne_UserCreatedWithoutAnyConfigChange(string first)
    {
        // Arrange: the subject's first token cannot create a user (the address not proved yet, or an access token issued
        // without the email scope); once the address is proved the issuer's next token carries it, verified
        var before = first == "unverified"
            ? Issuer.Token(Rsa, "late-verifier", "late@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = false })
            : Issuer.Token(Rsa, "late-verifier");
        var after = Issuer.Token(Rsa, "late-verifier", "late@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = true });
        var refused = await JwtTests.SendAsync(Gateway, "/jwt/x", before);

        // Act: no configuration, user or link changes in between
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", after);

        // Assert: the refusal was the first token's, not the subject's (it was remembered until the configuration changed)
        await AuthenticationTests.AssertErrorAsync(refused, HttpStatusCode.Forbidden, "unknown_user");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var user = (await Gateway.Users.GetAsync("late@example.com", CancellationToken.None)).Value!;
        Assert.Equal(user.Id, (await Gateway.Store.FindUserByIdentityAsync(Issuer.Url, "late-verifier", CancellationToken.None))!.Id);
        Assert.Equal(user.Id, Assert.Single(Upstream.Received).Headers["X-User-ID"].Single());
    }

    [Fact]
    public async Task NewSubjectWithoutAVerifiedEmail_RepeatedRequests_StoreAskedOnce()
    {
        // Arrange: a token that can never create a user, sent again and again
        var token = Issuer.Token(Rsa, "never-verified", "never@example.com", extraClaims: new Dictionary<string, object> { ["email_verified"] = false });
        var jwt = Gateway.Service<JwtAuthenticator>();

        // Act
        for (var i = 0; i < 10; i++)
        {
            await AuthenticationTests.AssertErrorAsync(await JwtTests.SendAsync(Gateway, "/jwt/x", token), HttpStatusCode.Forbidden, "unknown_user");
        }

        // Assert: the refusal is remembered for tokens like it (no store read each)
        Assert.Equal(1, jwt.Lookups);
    }
}
