using System.Net;
using ApiGate.Gateway.Proxies;
using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The rule for "the browser used TLS" behind a proxy: only a trusted proxy's word counts, and only its first entry.</summary>
public sealed class BrowserTlsTests
{
    [Theory]
    [InlineData(true, "https", true)]
    [InlineData(true, " HTTPS , http", true)]        // the outermost proxy's scheme comes first
    [InlineData(true, "http, https", false)]         // a later hop's https does not make the browser's connection TLS
    [InlineData(true, "", false)]
    [InlineData(false, "https", false)]              // anybody else's X-Forwarded-Proto counts for nothing
    public void Apply_ForwardedProto_SchemeHttpsOnlyWhenATrustedProxySaysTheBrowserUsedIt(bool viaTrustedProxy, string forwardedProto, bool expectHttps)
    {
        // Arrange
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        if (forwardedProto.Length > 0)
        {
            context.Request.Headers["X-Forwarded-Proto"] = forwardedProto;
        }

        if (viaTrustedProxy)
        {
            context.Features.Set(new ForwardedClientFeature(IPAddress.Loopback, "203.0.113.7, 127.0.0.1"));
        }

        // Act
        BrowserTls.Apply(context);

        // Assert
        Assert.Equal(expectHttps, context.Request.IsHttps);
    }

    [Fact]
    public void Apply_DuplicatedForwardedProtoHeaders_FirstValueDecides()
    {
        // Arrange: the header sent twice (two field lines) by a trusted proxy
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Forwarded-Proto"] = new Microsoft.Extensions.Primitives.StringValues(["https", "http"]);
        context.Features.Set(new ForwardedClientFeature(IPAddress.Loopback, "127.0.0.1"));

        // Act
        BrowserTls.Apply(context);

        // Assert
        Assert.True(context.Request.IsHttps);
    }
}
