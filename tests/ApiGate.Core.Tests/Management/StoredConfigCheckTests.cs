using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Tests.Management;

/// <summary>
/// StoredConfigCheck on upstreams: a value saved before a rule that the gateway still loads and serves is a warning,
/// anything the gateway does not load or cannot use stays a problem (docs/load-balancing.md).
/// </summary>
public sealed class StoredConfigCheckTests
{
    private const string Good = "http://127.0.0.1:9000";

    private const string DotSegmentRule = "its path holds the dot segment '{0}' ('%2e' counts as '.'), so requests would not go to the path as written: "
        + "write the path without '.' or '..' segments";

    private const string TargetsFix = "send url or targets in the same change (CLI --url or --targets) with every target URL valid";

    [Theory]
    [InlineData("http://127.0.0.1:9001/v2/../x", "..")]
    [InlineData("http://127.0.0.1:9001/v2/%2e%2e/x", "%2e%2e")]
    [InlineData("http://127.0.0.1:9001/v2\\.\\x", ".")]
    public void Check_TargetUrlWithADotSegment_AWarningSayingItIsServedAndEveryChangeRefused(string url, string segment)
    {
        // Arrange: the second target as an older build stored it
        var data = Config(Upstream("legacy", [new UpstreamTarget(Good), new UpstreamTarget(url)]));

        // Act
        var found = StoredConfigCheck.Check(data);

        // Assert
        Assert.Empty(found.Problems);
        Assert.Equal(
            "upstream 'legacy': targets[1].url: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, DotSegmentRule, segment)
            + " (stored before that rule): the gateway serves it with the dot segments resolved by the URL parser, as before (/v2/../x sends to /x), "
            + "but every change to the upstream is refused until it is fixed: " + TargetsFix,
            Assert.Single(found.Warnings));
    }

    [Fact]
    public void Check_OnlyABaseUrlWithADotSegment_AWarningForItsOneTarget()
    {
        // Arrange: a row from before target lists, read as its base_url
        var data = Config(Upstream("legacy", [], baseUrl: "http://127.0.0.1:9001/v2/./x"));

        // Act
        var found = StoredConfigCheck.Check(data);

        // Assert
        Assert.Empty(found.Problems);
        Assert.StartsWith("upstream 'legacy': targets[0].url: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, DotSegmentRule, ".") + " (stored before that rule): ",
            Assert.Single(found.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_HealthPathPastTheBound_AWarningSayingItIsProbedAsStored()
    {
        // Arrange
        var data = Config(Upstream("legacy", [new UpstreamTarget(Good)], healthPath: "/" + new string('a', 2100)));

        // Act
        var found = StoredConfigCheck.Check(data);

        // Assert
        Assert.Empty(found.Problems);
        Assert.Equal(
            "upstream 'legacy': health_check.path: is longer than 2048 bytes (stored before that rule): the gateway loads it and probes each target at that path, as before, "
            + "but every change to the upstream is refused until it is fixed: send health_check.path in the same change (CLI --health-path), e.g. /healthz, "
            + "or none to turn active checks off",
            Assert.Single(found.Warnings));
    }

    [Fact]
    public void Check_TargetNotAnAbsoluteUrlWithADotSegment_AProblemOnly()
    {
        // Arrange: the gateway cannot bind it (the config holding it is refused when a route uses the upstream)
        var data = Config(Upstream("legacy", [new UpstreamTarget("/v2/../x")]));

        // Act
        var found = StoredConfigCheck.Check(data);

        // Assert
        Assert.Equal(["upstream 'legacy': targets[0].url: '/v2/../x' is not an absolute http:// or https:// URL"], found.Problems);
        Assert.Empty(found.Warnings);
    }

    [Fact]
    public void Check_TargetWithCredentialsAndADotSegment_TheOlderRuleAProblemTheDotSegmentAWarningNeitherShowsThePassword()
    {
        // Arrange
        var data = Config(Upstream("legacy", [new UpstreamTarget("http://svc:S3cretPW9@127.0.0.1:9001/v2/../x")]));

        // Act
        var found = StoredConfigCheck.Check(data);

        // Assert
        Assert.Equal(["upstream 'legacy': targets[0].url: put credentials in the upstream's auth type and value (auth_type/auth_value; CLI --auth-type/--auth-value), not in the URL"],
            found.Problems);
        Assert.StartsWith("upstream 'legacy': targets[0].url: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, DotSegmentRule, "..") + " (stored before that rule): ",
            Assert.Single(found.Warnings), StringComparison.Ordinal);
        Assert.DoesNotContain("S3cretPW9", string.Concat(found.Problems.Concat(found.Warnings)), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_TargetWeightOutOfRange_StillAProblemNamedAtTheEntry()
    {
        // Arrange: a rule as old as weights
        var data = Config(Upstream("legacy", [new UpstreamTarget(Good, 0)]));

        // Act
        var found = StoredConfigCheck.Check(data);

        // Assert
        Assert.Equal(["upstream 'legacy': targets[0].weight: weight 0 of 'http://127.0.0.1:9000' is not between 1 and 1000"], found.Problems);
        Assert.Empty(found.Warnings);
    }

    private static ConfigData Config(params UpstreamDefinition[] upstreams) => new(1, 1, upstreams, [], [], [], []);

    private static UpstreamDefinition Upstream(string slug, UpstreamTarget[] targets, string? baseUrl = null, string healthPath = "") => new()
    {
        Id = "up_" + slug,
        Name = slug,
        Slug = slug,
        BaseUrl = baseUrl ?? targets[0].Url,
        Targets = targets,
        HealthCheck = HealthCheckSettings.Default with { Path = healthPath },
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };
}
