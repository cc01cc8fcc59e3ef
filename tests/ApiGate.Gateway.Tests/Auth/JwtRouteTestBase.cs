using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>
/// A test class with a real upstream, a real JWT issuer publishing one RSA key (<c>rsa-1</c>), and a gateway trusting it
/// with one JWT route, <c>/jwt/*</c>: started before each test and stopped after.
/// </summary>
public abstract class JwtRouteTestBase : IAsyncLifetime
{
    internal TestUpstream Upstream { get; private set; } = null!;

    internal TestIssuer Issuer { get; private set; } = null!;

    internal TestGateway Gateway { get; private set; } = null!;

    internal RsaSecurityKey Rsa { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await TestUpstream.StartAsync();
        Issuer = await TestIssuer.StartAsync();
        Rsa = TestIssuer.NewRsaKey("rsa-1");
        Issuer.Publish(Rsa);
        Gateway = await TestGateway.StartAsync(o =>
        {
            o.JwtIssuer = Issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
            o.JwtRefreshInterval = TimeSpan.FromHours(1);
        });
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "jwt", Path = "/jwt/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Issuer.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
