using System.Net;
using System.Security.Cryptography;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// A JWT whose payload or header names a member twice (RFC 7519 §4, RFC 7515 §4): refused with 401 naming it once its
/// signature verifies, since the token library and the gateway could each act on another of the two values.
/// </summary>
public sealed class JwtDuplicateClaimTests : JwtRouteTestBase
{
    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>The claims of a valid token for <paramref name="subject"/>, as JSON members without braces, for a payload written by hand.</summary>
    private string Claims(string subject, string email, string? exp = null) =>
        $"\"iss\":\"{Issuer.Url}\",\"aud\":\"{TestIssuer.Audience}\",\"sub\":\"{subject}\",\"email\":\"{email}\",\"nbf\":{Now - 60},{exp ?? $"\"exp\":{Now + 3600}"}";

    /// <summary>An RS256 token of this header and payload JSON, exactly as written, signed with <paramref name="key"/>.</summary>
    private static string Signed(RsaSecurityKey key, string header, string payload)
    {
        var signingInput = Base64UrlEncoder.Encode(header) + "." + Base64UrlEncoder.Encode(payload);
        var signature = key.Rsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64UrlEncoder.Encode(signature);
    }

    private const string Header = """{"alg":"RS256","typ":"JWT","kid":"rsa-1"}""";

    private async Task AssertRefusedAsync(string token, string reason)
    {
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        var detail = await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal($"The bearer token was refused: {reason}.", detail);
        Assert.Equal($"Bearer error=\"invalid_token\", error_description=\"{reason}\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task SubGivenTwiceWithDifferentValues_Refused401NamingSub_NoUserCreatedOrLinked()
    {
        // Arrange: before, the gateway's own type check read the first sub and the token library another
        var token = Signed(Rsa, Header, "{" + Claims("alice", "dup-sub@example.com") + ",\"sub\":\"mallory\"}");

        // Act and Assert
        await AssertRefusedAsync(token, "the token has the claim 'sub' more than once");
        Assert.False((await Gateway.Users.GetAsync("dup-sub@example.com", CancellationToken.None)).Ok);
        Assert.Null(await Gateway.Store.FindUserByIdentityAsync(Issuer.Url, "alice", CancellationToken.None));
        Assert.Null(await Gateway.Store.FindUserByIdentityAsync(Issuer.Url, "mallory", CancellationToken.None));
    }

    [Fact]
    public async Task SubGivenTwiceOnceEscaped_Refused401NamingSub()
    {
        // Arrange: "s\u0075b" is the name sub written with an escape
        var token = Signed(Rsa, Header, "{" + Claims("alice", "escaped-sub@example.com") + ",\"s\\u0075b\":\"mallory\"}");

        // Act and Assert
        await AssertRefusedAsync(token, "the token has the claim 'sub' more than once");
        Assert.False((await Gateway.Users.GetAsync("escaped-sub@example.com", CancellationToken.None)).Ok);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ExpGivenTwiceOneExpiredOneNot_Refused401NamingExp_InEitherOrder(bool expiredFirst)
    {
        // Arrange: whichever of the two the token library reads, the token is refused for the repetition
        var expired = $"\"exp\":{Now - 3600}";
        var valid = $"\"exp\":{Now + 3600}";
        var token = Signed(Rsa, Header, "{" + Claims("bob", "dup-exp@example.com", expiredFirst ? expired + "," + valid : valid + "," + expired) + "}");

        // Act and Assert
        await AssertRefusedAsync(token, "the token has the claim 'exp' more than once");
        Assert.False((await Gateway.Users.GetAsync("dup-exp@example.com", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task IssGivenTwiceOneAnotherIssuer_Refused401NamingIss()
    {
        // Arrange
        var token = Signed(Rsa, Header, "{" + Claims("carol", "dup-iss@example.com") + ",\"iss\":\"https://elsewhere.example\"}");

        // Act and Assert
        await AssertRefusedAsync(token, "the token has the claim 'iss' more than once");
    }

    [Theory]
    [InlineData("""{"alg":"RS256","alg":"RS256","typ":"JWT","kid":"rsa-1"}""", "alg")]
    [InlineData("""{"alg":"RS256","typ":"JWT","kid":"rsa-1","kid":"rsa-1"}""", "kid")]
    public async Task HeaderParameterGivenTwice_Refused401NamingIt(string header, string parameter)
    {
        // Arrange
        var token = Signed(Rsa, header, "{" + Claims("dave", "dup-header@example.com") + "}");

        // Act and Assert
        await AssertRefusedAsync(token, $"the token's header has the parameter '{parameter}' more than once");
        Assert.False((await Gateway.Users.GetAsync("dup-header@example.com", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task ForgedTokenWithADuplicateClaim_KeepsItsSignatureRefusal()
    {
        // Arrange: signed by a key the issuer does not hold, under the issuer's kid
        var forger = TestIssuer.NewRsaKey("rsa-1");
        var token = Signed(forger, Header, "{" + Claims("erin", "forged@example.com", $"\"exp\":{Now - 3600},\"exp\":{Now + 3600}") + "}");

        // Act and Assert: the signature is what is wrong with it
        await AssertRefusedAsync(token, "the token's signature is not valid");
    }

    [Fact]
    public async Task UnsignedTokenWithADuplicateClaim_KeepsItsUnsignedRefusal()
    {
        // Arrange: alg none, sub twice
        var unsigned = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""") + "." +
                       Base64UrlEncoder.Encode("{" + Claims("frank", "unsigned@example.com") + ",\"sub\":\"other\"}") + ".";
        var plain = Issuer.UnsignedToken("frank");
        var expected = await AuthenticationTests.AssertErrorAsync(await JwtTests.SendAsync(Gateway, "/jwt/x", plain), HttpStatusCode.Unauthorized, "invalid_token");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", unsigned);

        // Assert: refused as any unsigned token is, not for the repetition
        Assert.Equal(expected, await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_token"));
        Assert.DoesNotContain("more than once", expected, StringComparison.Ordinal);
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task TokenWithoutADuplicate_Accepted()
    {
        // Arrange: the same hand-written JSON, each member once
        var token = Signed(Rsa, Header, "{" + Claims("grace", "grace@example.com") + "}");

        // Act
        var response = await JwtTests.SendAsync(Gateway, "/jwt/x", token);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(Upstream.Received);
        Assert.NotNull(await Gateway.Store.FindUserByIdentityAsync(Issuer.Url, "grace", CancellationToken.None));
    }
}
