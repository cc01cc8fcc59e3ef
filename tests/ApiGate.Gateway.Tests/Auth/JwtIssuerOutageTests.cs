using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// The JWT issuer failing, answering garbage or hanging: tokens get 503 jwt_unavailable while the gateway has no keys,
/// requests never fetch the keys themselves (one fetch at a time, at most one per interval, whatever the traffic),
/// keys fetched before stay in use, and the gateway recovers on its own.
/// </summary>
public sealed class JwtIssuerOutageTests : IAsyncLifetime
{
    private readonly CapturedLog _log = new(); // read while the gateway writes: under the writer's lock
    private TestUpstream _upstream = null!;
    private TestIssuer _issuer = null!;
    private RsaSecurityKey _rsa = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _issuer = await TestIssuer.StartAsync();
        _rsa = TestIssuer.NewRsaKey("rsa-1");
        _issuer.Publish(_rsa);
    }

    public async Task DisposeAsync()
    {
        await _issuer.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<TestGateway> StartGatewayAsync()
    {
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.JwtIssuer = _issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
            o.JwtRefreshInterval = TimeSpan.FromHours(1);
            o.LogLevel = "info";
            o.LogWriter = _log.Writer;
        });
        await gateway.AddUpstreamAsync("backend", _upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        return gateway;
    }

    [Theory]
    [InlineData(IssuerMode.Failing)]
    [InlineData(IssuerMode.Garbage)]
    public async Task IssuerBrokenAtStart_503UnavailableOneFetchForAllRequestsThenRecoversOnItsOwn(IssuerMode mode)
    {
        // Arrange
        _issuer.Mode = mode;
        await using var gateway = await StartGatewayAsync();
        var token = _issuer.Token(_rsa, "outage", "outage@example.com");

        // Act: ten requests while the issuer is broken
        var refused = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++)
        {
            refused.Add(await JwtTests.SendAsync(gateway, "/jwt/x", token));
        }

        var fetchesWhileBroken = _issuer.DiscoveryFetches;
        _issuer.Mode = IssuerMode.Ok;
        var status = HttpStatusCode.ServiceUnavailable;
        for (var i = 0; i < 100 && status != HttpStatusCode.OK; i++) // the gateway asks again within 5 s; bounded
        {
            status = (await JwtTests.SendAsync(gateway, "/jwt/x", token)).StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(100);
            }
        }

        // Assert
        foreach (var response in refused)
        {
            await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable, "jwt_unavailable");
        }

        Assert.InRange(fetchesWhileBroken, 1, 2); // the start-up fetch (and at most one retry), not one per request
        Assert.Equal(HttpStatusCode.OK, status);
        var log = await LogAsync("readable again");
        Assert.Single(AllIndexesOf(log, "Cannot read the JWT issuer's signing keys; JWT routes answer 503 jwt_unavailable until it does"));
        Assert.Contains("The JWT issuer's signing keys are readable again (1 key(s))", log, StringComparison.Ordinal);
        Assert.DoesNotContain(token, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IssuerHangingAtStart_ParallelRequestsAnswered503WithoutQueueingFetches()
    {
        // Arrange: the issuer answers after 15 s, longer than the gateway's fetch timeout
        _issuer.Mode = IssuerMode.Slow;
        await using var gateway = await StartGatewayAsync();
        var forged = _issuer.UnsignedToken("attacker");

        // Act: six at once, each a token nobody signed
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => JwtTests.SendAsync(gateway, "/jwt/x", forged)));

        // Assert: every one answered without a fetch of its own
        foreach (var response in responses)
        {
            await AuthenticationTests.AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable, "jwt_unavailable");
        }

        Assert.Equal(1, _issuer.DiscoveryFetches);
    }

    [Fact]
    public async Task IssuerDownAfterKeysWereRead_KnownKeysStillAcceptedUnknownKidRefused401()
    {
        // Arrange
        await using var gateway = await StartGatewayAsync();
        Assert.Equal(HttpStatusCode.OK, (await JwtTests.SendAsync(gateway, "/jwt/a", _issuer.Token(_rsa, "kept", "kept@example.com"))).StatusCode);
        _issuer.Mode = IssuerMode.Failing;

        // Act
        var unknownKid = await JwtTests.SendAsync(gateway, "/jwt/b", _issuer.Token(TestIssuer.NewRsaKey("rotated"), "kept", "kept@example.com"));
        var known = await JwtTests.SendAsync(gateway, "/jwt/c", _issuer.Token(_rsa, "kept", "kept@example.com"));

        // Assert
        await AuthenticationTests.AssertErrorAsync(unknownKid, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
    }

    /// <summary>The log once it has <paramref name="expected"/> (lines are written in the background; bounded wait).</summary>
    private async Task<string> LogAsync(string expected)
    {
        for (var i = 0; i < 100 && !_log.Text.Contains(expected, StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
        }

        return _log.Text;
    }

    private static IEnumerable<int> AllIndexesOf(string text, string value)
    {
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            yield return at;
        }
    }
}
