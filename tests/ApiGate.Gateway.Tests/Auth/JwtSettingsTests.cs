namespace ApiGate.Gateway.Tests.Auth;

/// <summary>The <c>APIGATE_JWT_*</c> settings checked at start, each problem naming its setting.</summary>
public sealed class JwtSettingsTests
{
    [Theory]
    [InlineData("", "RS256,ES256", "create", "jwt.audience (APIGATE_JWT_AUDIENCE): required with jwt.issuer")]
    [InlineData("api", "HS256", "create", "jwt.algorithms (APIGATE_JWT_ALGORITHMS): 'HS256' is not accepted")]
    [InlineData("api", "none", "create", "jwt.algorithms (APIGATE_JWT_ALGORITHMS): 'NONE' is not accepted")]
    [InlineData("api", "RS256", "maybe", "jwt.unknown_user (APIGATE_JWT_UNKNOWN_USER): 'maybe' is not one of create, refuse")]
    public void Validate_BadJwtSetting_RefusedNamingIt(string audience, string algorithms, string unknownUser, string expected)
    {
        var options = new ApiGate.Gateway.Configuration.GatewayOptions
        {
            JwtIssuer = "https://issuer.example.com", JwtAudience = audience, JwtAlgorithms = algorithms, JwtUnknownUser = unknownUser,
        };

        var error = Assert.Throws<ArgumentException>(() => new ApiGate.Gateway.Hosting.GatewayOptionsValidator().ThrowIfInvalid(options));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://gate:s3cret-pw@issuer.example.com/", "jwt.issuer (APIGATE_JWT_ISSUER): 'https://***@issuer.example.com/' has a user and password in it")]
    [InlineData("ftp://gate:s3cret-pw@issuer.example.com/", "jwt.issuer (APIGATE_JWT_ISSUER): 'ftp://***@issuer.example.com/' is not an http(s) URL")]
    public void Validate_IssuerWithAPassword_RefusedWithoutShowingIt(string issuer, string expected)
    {
        // Arrange
        var options = new ApiGate.Gateway.Configuration.GatewayOptions { JwtIssuer = issuer, JwtAudience = "api" };

        // Act
        var error = Assert.Throws<ArgumentException>(() => new ApiGate.Gateway.Hosting.GatewayOptionsValidator().ThrowIfInvalid(options));

        // Assert
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HS256", "create", 0, "jwt.algorithms (APIGATE_JWT_ALGORITHMS): 'HS256' is not accepted")]
    [InlineData("RS256", "maybe", 0, "jwt.unknown_user (APIGATE_JWT_UNKNOWN_USER): 'maybe' is not one of create, refuse")]
    [InlineData("RS256", "create", 11, "jwt.clock_skew (APIGATE_JWT_CLOCK_SKEW): must be between 0 and 10m")]
    public void Validate_BadJwtSettingWithoutAnIssuer_RefusedNamingIt(string algorithms, string unknownUser, int skewMinutes, string expected)
    {
        // Arrange: no jwt.issuer; the bad value was accepted until the issuer was set
        var options = new ApiGate.Gateway.Configuration.GatewayOptions
        {
            JwtAlgorithms = algorithms, JwtUnknownUser = unknownUser, JwtClockSkew = TimeSpan.FromMinutes(skewMinutes),
        };

        // Act
        var error = Assert.Throws<ArgumentException>(() => new ApiGate.Gateway.Hosting.GatewayOptionsValidator().ThrowIfInvalid(options));

        // Assert
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_JwtRoutesWithoutAnIssuer_WarnedWhenTheConfigurationLoads()
    {
        // Arrange: no APIGATE_JWT_ISSUER, so every token is refused
        var log = new Infrastructure.CapturedLog();
        await using var upstream = await Infrastructure.TestUpstream.StartAsync();
        await using var gateway = await Infrastructure.TestGateway.StartAsync(o => (o.LogWriter, o.LogFormat, o.LogLevel) = (log.Writer, "console", "info"));
        await gateway.AddUpstreamAsync("backend", upstream.Url);

        // Act
        await gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "tokens", Path = "/t/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        await gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "either", Path = "/e/*", Upstream = "backend", AuthRequired = true, AuthScheme = "key_or_jwt" });
        await gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "keys", Path = "/k/*", Upstream = "backend", AuthRequired = true, AuthScheme = "key" });

        // Assert: the operator hears it from the gateway, not from the callers (log lines are written by the log writer
        // thread, a moment after)
        var text = log.Text;
        for (var i = 0; i < 100 && !text.Contains("Route either takes JWTs", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
            text = log.Text;
        }

        Assert.Contains("Route tokens takes JWTs (auth_scheme jwt) but jwt.issuer (APIGATE_JWT_ISSUER) is not set", text, StringComparison.Ordinal);
        Assert.Contains("Route either takes JWTs (auth_scheme key_or_jwt)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Route keys takes JWTs", text, StringComparison.Ordinal);
    }
}
