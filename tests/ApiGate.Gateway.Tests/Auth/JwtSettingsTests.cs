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

        var error = Assert.Throws<ArgumentException>(() => new ApiGate.Gateway.Configuration.GatewayOptionsValidator().ThrowIfInvalid(options));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
