using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Reload;

/// <summary>
/// An upstream stored before a rule that refuses its value (a target URL with a dot segment) is served as before, and the
/// gateway says so once when it loads a config holding it (event 1008), not on every poll, and never with the URL's
/// password (docs/load-balancing.md).
/// </summary>
public sealed class StoredUpstreamLoadWarningTests : IAsyncLifetime
{
    private readonly CapturedLog _log = new();
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(o => _log.TakeJsonFrom(o, "warn"));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task Load_UpstreamStoredWithADotSegmentInATargetUrl_OneWarningWithEventIdSlugAndFieldWithoutThePassword()
    {
        // Arrange: written straight into the store, as a build before the rule could; the URL carries credentials
        var port = new Uri(_upstream.Url).Port;
        var now = DateTimeOffset.UtcNow;
        await _gateway.Store.CreateUpstreamAsync(new UpstreamDefinition
        {
            Id = "up_dotted",
            Name = "dotted",
            Slug = "dotted",
            BaseUrl = _upstream.Url,
            Targets = [new UpstreamTarget(_upstream.Url), new UpstreamTarget($"http://svc:S3cretPW9@127.0.0.1:{port}/v2/../x")],
            CreatedAt = now,
            UpdatedAt = now,
        }, CancellationToken.None);

        // Act: the config holding it is loaded, then polled again and again with nothing changed
        await _gateway.AddRouteAsync(new RouteInput { Name = "dotted", Path = "/dotted/*", Upstream = "dotted" });
        await _gateway.ReloadAsync();
        await _gateway.WaitForNextPollAsync();
        var text = await _log.UpToMarkerAsync(_gateway);

        // Assert
        var warnings = Lines(text).Where(l => l.GetProperty("EventId").GetInt32() == 1008).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal("Warning", warning.GetProperty("LogLevel").GetString());
        Assert.Equal(
            "Upstream dotted holds a value saved before the rule that refuses it: targets[1].url: its path holds the dot segment '..' ('%2e' counts as '.'), "
            + "so requests would not go to the path as written: write the path without '.' or '..' segments "
            + $"(target http://127.0.0.1:{port}/v2/../x); the gateway serves it with the dot segments resolved by the URL parser, as before (/v2/../x sends to /x), "
            + "but every change to the upstream is refused until it is fixed (docs/load-balancing.md)",
            warning.GetProperty("Message").GetString());
        Assert.Equal("dotted", warning.GetProperty("State").GetProperty("Upstream").GetString());
        Assert.DoesNotContain("S3cretPW9", text, StringComparison.Ordinal);
        Assert.Equal(0, _gateway.Snapshots.ReloadFailures);
    }

    [Fact]
    public async Task Load_NoValueStoredBeforeARule_NoWarning()
    {
        // Arrange
        await _gateway.AddUpstreamAsync("plain", _upstream.Url + "/v2");

        // Act
        await _gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "plain" });
        var text = await _log.UpToMarkerAsync(_gateway);

        // Assert
        Assert.DoesNotContain(Lines(text), l => l.GetProperty("EventId").GetInt32() == 1008);
    }

    private static IEnumerable<JsonElement> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone());
}
