using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// Rotating <c>APIGATE_SECRET_KEY</c> as docs/scaling.md tells an operator to: two gateways on one store, restarted
/// one at a time with the new key and the old one as <c>APIGATE_SECRET_KEY_PREVIOUS</c>, <c>apigate store rekey</c>
/// once, then restarted with the new key alone. The upstream records what it receives, so every request shows the gateway
/// still sends the right credential.
/// </summary>
public sealed class SecretKeyRotationTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string OldKey = "old-key-2f8b61";
    private const string NewKey = "new-key-e03c94";
    private const string Credential = "upstream-cred-91d7";

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Serve_KeyRotatedAcrossTwoInstances_ForwardsTheRightCredentialBeforeDuringAndAfter(string engine)
    {
        // Arrange: two instances with the old key, a route to an upstream that needs the credential, and the forms key
        // (made by the first page served)
        var dsn = await engines.NewDsnAsync(engine);
        var log = new CapturedLog();
        await using var upstream = await TestUpstream.StartAsync();
        var one = await StartAsync(engine, dsn, OldKey, null, log);
        var two = await StartAsync(engine, dsn, OldKey, null, log);
        await one.AddUpstreamAsync("billing", upstream.Url, new UpstreamInput { AuthType = "bearer", AuthValue = Credential });
        await one.AddRouteAsync(new RouteInput { Name = "bill", Path = "/bill/*", Upstream = "billing" });
        await two.ReloadAsync();
        using (var page = await one.Client.GetAsync(one.Url + "/ui/login"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        var statuses = new List<(string Step, HttpStatusCode Status)>();
        async Task SendAsync(string step, params TestGateway[] gateways)
        {
            foreach (var gateway in gateways)
            {
                using var response = await gateway.Client.GetAsync(gateway.Url + "/bill/invoices");
                statuses.Add((step, response.StatusCode));
            }
        }

        await SendAsync("before", one, two);

        // Act 1: restart one instance at a time with the new key and the old one as the previous key; meanwhile the
        // other still runs with the old key alone
        await one.DisposeAsync();
        one = await StartAsync(engine, dsn, NewKey, OldKey, log);
        await SendAsync("rolling", one, two);
        await two.DisposeAsync();
        two = await StartAsync(engine, dsn, NewKey, OldKey, log);
        await SendAsync("restarted", one, two);

        // Act 2: the command, once, while both serve; a config change after it makes both load the rewritten store
        var rekey = await CliRunner.RunAsync(new Dictionary<string, string>
        {
            ["APIGATE_DATABASE_DRIVER"] = engine, ["APIGATE_DATABASE_DSN"] = dsn, ["APIGATE_SECRET_KEY"] = NewKey, ["APIGATE_SECRET_KEY_PREVIOUS"] = OldKey,
        }, "store", "rekey");
        await SendAsync("rekeyed", one, two);
        await one.AddRouteAsync(new RouteInput { Name = "other", Path = "/other/*", Upstream = "billing" });
        await two.ReloadAsync();
        await SendAsync("reloaded", one, two);

        // Act 3: restart both without the previous key
        await one.DisposeAsync();
        await two.DisposeAsync();
        one = await StartAsync(engine, dsn, NewKey, null, log);
        two = await StartAsync(engine, dsn, NewKey, null, log);
        await SendAsync("after", one, two);
        using var formsPage = await two.Client.GetAsync(two.Url + "/ui/login");
        await one.DisposeAsync();
        await two.DisposeAsync();

        // Assert: every request reached the upstream with its credential; the forms key moved too (an instance that
        // cannot read it does not start, and its page would not render); nothing printed or logged a secret
        Assert.Equal(0, rekey.ExitCode);
        Assert.Contains("2 re-encrypted (from the previous key)", rekey.Output, StringComparison.Ordinal);
        Assert.All(statuses, s => Assert.Equal((s.Step, HttpStatusCode.OK), s));
        Assert.Equal(12, statuses.Count);
        Assert.Equal(12, upstream.Received.Count);
        Assert.All(upstream.Received, r => Assert.Equal(["Bearer " + Credential], r.Headers["Authorization"]));
        Assert.Equal(HttpStatusCode.OK, formsPage.StatusCode);
        var written = log.Text + rekey.Output + rekey.Error;
        Assert.NotEmpty(log.Text);
        foreach (var secret in new[] { Credential, OldKey, NewKey })
        {
            Assert.DoesNotContain(secret, written, StringComparison.Ordinal);
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Serve_InstanceWithTheOldKeyAlone_ACredentialWrittenWithTheNewKey_KeepsServingAndSaysWhy(string engine)
    {
        // Arrange: an instance with the old key serving a route, and one already restarted with the new key
        var dsn = await engines.NewDsnAsync(engine);
        var log = new CapturedLog();
        await using var upstream = await TestUpstream.StartAsync();
        await using var old = await StartAsync(engine, dsn, OldKey, null, log);
        await old.AddUpstreamAsync("billing", upstream.Url, new UpstreamInput { AuthType = "bearer", AuthValue = Credential });
        await old.AddRouteAsync(new RouteInput { Name = "bill", Path = "/bill/*", Upstream = "billing" });
        var servingVersion = old.Snapshots.Current!.Version;
        await using var rotated = await StartAsync(engine, dsn, NewKey, OldKey, log);

        // Act: the restarted instance writes a credential with the new key (too early: docs/scaling.md says to wait
        // until every instance runs with both keys); the old one looks for changes
        await rotated.AddUpstreamAsync("reports", upstream.Url, new UpstreamInput { AuthType = "bearer", AuthValue = Credential });
        await old.ReloadAsync();
        await old.ReloadAsync(); // the same version again: not reported twice
        using var response = await old.Client.GetAsync(old.Url + "/bill/invoices");

        // Assert: it keeps serving what it has and says why it cannot load the change — not a store outage
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(servingVersion, old.Snapshots.Current!.Version);
        var written = await log.UpToMarkerAsync(old);
        var reported = $"still serving version {servingVersion}: a stored secret (upstream credential, webhook signing secret or the forms key) cannot be decrypted: APIGATE_SECRET_KEY differs from the key it was written with";
        Assert.Contains(reported, written, StringComparison.Ordinal);
        Assert.Equal(written.IndexOf(reported, StringComparison.Ordinal), written.LastIndexOf(reported, StringComparison.Ordinal));
        Assert.DoesNotContain("Checking the store for config changes failed", written, StringComparison.Ordinal);
        foreach (var secret in new[] { Credential, OldKey, NewKey })
        {
            Assert.DoesNotContain(secret, written, StringComparison.Ordinal);
        }
    }

    private static Task<TestGateway> StartAsync(string engine, string dsn, string key, string? previous, CapturedLog log) =>
        TestGateway.StartAsync(options =>
        {
            options.DatabaseDriver = engine;
            options.DatabaseDsn = dsn;
            options.SecretKey = key;
            options.SecretKeyPrevious = previous ?? "";
            options.LogLevel = "debug";
            options.LogWriter = log.Writer;
        });
}
