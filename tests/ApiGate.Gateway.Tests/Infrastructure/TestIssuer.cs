using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A real OIDC issuer on loopback for JWT tests: a discovery document and a JWKS of keys the test generates (RSA and
/// EC), which the test can rotate, and tokens signed with them. Counts JWKS fetches.
/// </summary>
internal sealed class TestIssuer : IAsyncDisposable
{
    public const string Audience = "apigate-tests";

    private readonly WebApplication _app;
    private volatile SecurityKey[] _published = [];
    private int _jwksFetches;
    private int _discoveryFetches;

    private TestIssuer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The issuer URL (<c>iss</c>), also the base of its discovery document.</summary>
    public string Url { get; }

    /// <summary>How many times the JWKS was served.</summary>
    public int JwksFetches => Volatile.Read(ref _jwksFetches);

    /// <summary>How many times the discovery document was asked for (whatever the answer).</summary>
    public int DiscoveryFetches => Volatile.Read(ref _discoveryFetches);

    /// <summary>How the discovery document is answered: <see cref="IssuerMode.Ok"/>, a 500, text that is not JSON, or after 15 s.</summary>
    public IssuerMode Mode { get; set; }

    /// <summary>A new RSA key (kid <paramref name="kid"/>) of <paramref name="bits"/> bits.</summary>
    public static RsaSecurityKey NewRsaKey(string kid, int bits = 2048) => new(RSA.Create(bits)) { KeyId = kid };

    /// <summary>A new P-256 key (kid <paramref name="kid"/>).</summary>
    public static ECDsaSecurityKey NewEcKey(string kid) => new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid };

    /// <summary>Replaces the published key set (rotation).</summary>
    public void Publish(params SecurityKey[] keys) => _published = keys;

    /// <summary>A signed token; defaults: this issuer, <see cref="Audience"/>, valid for an hour from now.</summary>
    public string Token(SecurityKey key, string subject, string? email = null, string? issuer = null, string? audience = null,
        DateTime? notBefore = null, DateTime? expires = null, IReadOnlyDictionary<string, object>? extraClaims = null,
        IDictionary<string, object>? extraHeader = null, string? algorithm = null)
    {
        var now = DateTime.UtcNow;
        // A "sub" in extraClaims is written instead of subject (a claim of another JSON type than a string).
        var claims = new Dictionary<string, object>(extraClaims ?? new Dictionary<string, object>());
        claims.TryAdd("sub", subject);
        if (email is not null)
        {
            claims["email"] = email;
        }

        algorithm ??= key switch
        {
            RsaSecurityKey => SecurityAlgorithms.RsaSha256,
            ECDsaSecurityKey => SecurityAlgorithms.EcdsaSha256,
            _ => SecurityAlgorithms.HmacSha256,
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Url,
            Audience = audience ?? Audience,
            Claims = claims,
            IssuedAt = notBefore ?? now,
            NotBefore = notBefore ?? now.AddMinutes(-1),
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = new SigningCredentials(key, algorithm),
            AdditionalHeaderClaims = extraHeader,
        });
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with valid claims.</summary>
    public string UnsignedToken(string subject)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""");
        var payload = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = Url, ["aud"] = Audience, ["sub"] = subject, ["email"] = subject + "@example.com", ["nbf"] = now - 60, ["exp"] = now + 3600,
        }));
        return header + "." + payload + ".";
    }

    /// <summary>
    /// An RS256 token signed with <paramref name="key"/> directly, for keys the token library refuses to sign with (RSA
    /// shorter than 2048 bits) or for times it refuses to write (nbf after exp): this issuer, <see cref="Audience"/>,
    /// valid for an hour unless <paramref name="notBefore"/> / <paramref name="expires"/> (unix seconds) say otherwise.
    /// </summary>
    public string RawRsaToken(RsaSecurityKey key, string subject, string email, long? notBefore = null, long? expires = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new Dictionary<string, object> { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = key.KeyId }));
        var payload = Base64UrlEncoder.Encode(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = Url, ["aud"] = Audience, ["sub"] = subject, ["email"] = email, ["nbf"] = notBefore ?? now - 60, ["exp"] = expires ?? now + 3600,
        }));
        var signature = key.Rsa.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return header + "." + payload + "." + Base64UrlEncoder.Encode(signature);
    }

    /// <summary>An HS256 token whose secret is the RSA public key's bytes, under that key's kid (algorithm confusion).</summary>
    public string HmacWithPublicKeyToken(RsaSecurityKey rsa, string subject)
    {
        var publicKey = Encoding.ASCII.GetBytes(rsa.Rsa.ExportSubjectPublicKeyInfoPem());
        return Token(new SymmetricSecurityKey(publicKey) { KeyId = rsa.KeyId }, subject, subject + "@example.com");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    /// <summary>Starts an issuer whose endpoints serve the published keys.</summary>
    public static async Task<TestIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        TestIssuer? issuer = null;
        app.MapGet("/.well-known/openid-configuration", async (CancellationToken aborted) =>
        {
            Interlocked.Increment(ref issuer!._discoveryFetches);
            switch (issuer.Mode)
            {
                case IssuerMode.Failing:
                    return Results.StatusCode(500);
                case IssuerMode.Garbage:
                    return Results.Text("<html>maintenance</html>", "application/json");
                case IssuerMode.Slow:
                    await Task.Delay(TimeSpan.FromSeconds(15), aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    break;
            }

            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = issuer.Url,
                ["jwks_uri"] = issuer.Url + "/jwks",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256", "ES256" },
            });
        });
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref issuer!._jwksFetches);
            return Results.Json(new { keys = issuer._published.Select(Jwk).ToArray() });
        });
        await app.StartAsync();
        issuer = new TestIssuer(app, app.Urls.First());
        return issuer;
    }

    private static Dictionary<string, string> Jwk(SecurityKey key)
    {
        switch (key)
        {
            case RsaSecurityKey rsa:
                var p = rsa.Rsa.ExportParameters(false);
                return new() { ["kty"] = "RSA", ["use"] = "sig", ["kid"] = rsa.KeyId, ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent) };
            case ECDsaSecurityKey ec:
                var q = ec.ECDsa.ExportParameters(false);
                return new() { ["kty"] = "EC", ["use"] = "sig", ["crv"] = "P-256", ["kid"] = ec.KeyId, ["x"] = Base64UrlEncoder.Encode(q.Q.X), ["y"] = Base64UrlEncoder.Encode(q.Q.Y) };
            default:
                throw new ArgumentException("only RSA and EC keys are published", nameof(key));
        }
    }
}

/// <summary>How a <see cref="TestIssuer"/> answers for its discovery document.</summary>
public enum IssuerMode
{
    Ok,
    Failing,
    Garbage,
    Slow,
}
