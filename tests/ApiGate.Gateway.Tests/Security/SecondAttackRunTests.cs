using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// What a second attack run found after the issue 10 fixes, kept so it cannot come back: Tomcat-style dot segments with
/// ';' parameters, a %u escape left for a second decoder, an API key in a second Authorization line, custom entitlement
/// headers sent by the client, and reserved endpoints reached through a path only Kestrel's normalisation resolves.
/// </summary>
public sealed class SecondAttackRunTests : GatewayTestBase
{
    private string _key = "";
    private string _userId = "";

    private protected override void Configure(GatewayOptions options) => options.UpstreamUrl = Upstream.Url + "/dflt";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url + "/base");
        await Gateway.AddRouteAsync(new RouteInput { Name = "pub", Path = "/pub/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "rx", Path = "/rx/.+", MatchType = "regex", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "tpl", Path = "/tpl/*", PathRewrite = "/v2/$1", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "expr", Path = "/expr/*", PathRewrite = "'/v3' + path.substring(5)", Upstream = "backend" }, reload: false);
        await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String, DefaultValue = "basic", HeaderName = "X-Tier" }, CancellationToken.None);
        await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "beta", ValueType = EntitlementValueType.Boolean, DefaultValue = "false", HeaderName = "X-Beta", Enabled = false }, CancellationToken.None);
        var created = await Gateway.CreateKeyAsync("owner@example.com");
        (_key, _userId) = (created.Key, created.User.Id);
    }

    [Theory]
    [InlineData("/pub")]
    [InlineData("/rx")]
    [InlineData("/tpl")]
    [InlineData("/expr")]
    [InlineData("/nomatch")]
    public async Task DotSegmentWithParametersOrPercentU_AnyRouteKind_Returns400InvalidPath(string route)
    {
        // Tomcat, Jetty and Spring read '..;x' as '..' (so /pub/..;/priv/x is their /priv/x); IIS decodes %u002e to '.'.
        string[] attacks = ["..;", "..;jsessionid=1", ".;", "%2e%2e;", "%2e%2e%3b", ".%2e;x", "%25u002e%25u002e", "%25U002E%25U002E"];
        foreach (var attack in attacks)
        {
            // Arrange
            var target = $"{route}/{attack}/priv/x";

            // Act (with a key: the default upstream requires one)
            var response = await RawHttp.GetAsync(Gateway.Url, target, "X-API-Key: " + _key);

            // Assert
            Assert.True(response.Status == 400, $"{target}: {response.Status}");
            Assert.True(response.ErrorCode == "invalid_path", $"{target}: {response.ErrorCode}");
            Assert.Empty(Upstream.Received);
        }
    }

    [Theory]
    [InlineData("/pub/x;v=1/y", "/base/pub/x;v=1/y")]
    [InlineData("/pub/..x;/y", "/base/pub/..x;/y")]
    [InlineData("/pub/%25uzzzz", "/base/pub/%25uzzzz")]
    public async Task ParametersOutsideDotSegments_AreForwardedVerbatim(string target, string expected)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal(expected, Assert.Single(Upstream.Received).RawTarget);
    }

    [Theory]
    [InlineData("/priv/x")]
    [InlineData("/pub/x")]
    public async Task KeyInSecondAuthorizationLine_IsNotForwarded(string path)
    {
        // Act: the joined value starts with "Basic", but the key is in it and /priv authenticates with it.
        var response = await RawHttp.GetAsync(Gateway.Url, path, "Authorization: Basic Zm9vOmJhcg==", "Authorization: Bearer " + _key);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.False(received.Headers.ContainsKey("Authorization"));
        Assert.DoesNotContain(received.Headers, h => h.Value.Any(v => v.Contains(_key, StringComparison.Ordinal)));
        if (path == "/priv/x")
        {
            Assert.Equal(_userId, received.Headers["X-User-ID"][0]);
        }
    }

    [Fact]
    public async Task BearerKeyAfterTab_OnPublicRoute_IsNotForwarded()
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/pub/x", "Authorization: bearer\t" + _key);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.False(received.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task CustomEntitlementHeaderFromClient_OnPublicRoute_IsNotForwarded()
    {
        // Act: X-Tier is the gateway's on authenticated routes; a public route must not let the client set it.
        var response = await RawHttp.GetAsync(Gateway.Url, "/pub/x", "X-Tier: enterprise", "x-beta: true");

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.False(received.Headers.ContainsKey("X-Tier"));
        Assert.False(received.Headers.ContainsKey("X-Beta"));
    }

    [Fact]
    public async Task DisabledEntitlementHeaderFromClient_OnAuthenticatedRoute_IsNotForwarded()
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/priv/x", "X-API-Key: " + _key, "X-Tier: enterprise", "X-Beta: true");

        // Assert: X-Tier carries the plan's value (the default), X-Beta (disabled) is not sent at all.
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal(["basic"], received.Headers["X-Tier"]);
        Assert.False(received.Headers.ContainsKey("X-Beta"));
    }

    [Theory]
    [InlineData("/pub/%2e%2e/health")]
    [InlineData("/pub/../health")]
    [InlineData("/pub/%2e%2e/admin/routes")]
    [InlineData("/pub/../admin/routes")]
    [InlineData("/x/%2E%2E/admin")]
    public async Task ReservedPathOnlyAfterDotSegmentRemoval_Returns400InvalidPath(string target)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("/admin/routes/a%1B%5B31mb", "the path contains a control character")]
    [InlineData("/admin/routes/a%2Fb", "the path contains an encoded slash (%2F)")]
    [InlineData("/admin/routes/a%FFb", "the path is not valid UTF-8 (an overlong or truncated sequence)")]
    public async Task AdminPathRefusedByThePathRule_Returns400InvalidPathNamingItsProblem(string target, string problem)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert: the refusal says what is wrong with the path, not that it names the admin API after dot segments
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.Contains($"\"detail\":\"The request path was refused: {problem}. See Path safety", response.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/health", 200)]
    [InlineData("/%68ealth", 200)]
    [InlineData("/admin/routes", 401)]
    [InlineData("/%61dmin/routes", 401)]
    public async Task ReservedPathAsSent_IsStillServed(string target, int status)
    {
        // Act: an encoded letter decodes to the same path under the rule, so it names the endpoint as sent.
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert
        Assert.Equal(status, response.Status);
        Assert.Empty(Upstream.Received);
    }
}
