using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using ApiGate.Gateway.Tests.Admin;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Reload;

/// <summary>
/// Routes changed, deleted and created again with the same path through the admin API while requests run: every
/// request is answered by one whole version of the route (its upstream, rewrite and request transform together), or
/// by no route at all between a delete and the create after it — never by a mix, never with a 5xx.
/// </summary>
public sealed class ChangesUnderTrafficTests : AdminTestBase, IAsyncLifetime
{
    private TestUpstream _second = null!;

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        _second = await TestUpstream.StartAsync();
        AssertData(await PostAsync("/upstreams", new { name = "a", url = Upstream.Url }), HttpStatusCode.Created);
        AssertData(await PostAsync("/upstreams", new { name = "b", url = _second.Url }), HttpStatusCode.Created);
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _second.DisposeAsync();
    }

    [Fact]
    public async Task RouteSwappedDeletedAndRecreated_UnderTraffic_EachRequestSeesOneWholeVersion()
    {
        // Arrange
        AssertData(await PostAsync("/routes", Version("a")), HttpStatusCode.Created);
        var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
        var mixed = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var writesDone = false;
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            // Bounded in count and in time; keeps going until the writer has finished.
            for (var i = 0; i < 5_000 && !stop.IsCancellationRequested && !Volatile.Read(ref writesDone); i++)
            {
                using var response = await Gateway.Client.GetAsync(Gateway.Url + "/swap/ping?n=" + i);
                statuses.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                    var path = echo.GetProperty("path").GetString();
                    var port = echo.GetProperty("port").GetInt32();
                    if (!(path == "/a/ping" && port == Upstream.Port) && !(path == "/b/ping" && port == _second.Port))
                    {
                        mixed.Enqueue($"{path} from port {port}");
                    }
                }
            }
        })).ToList();

        // Act: swap in one PATCH, then delete and create again, alternating versions.
        var writes = new List<HttpStatusCode>();
        for (var round = 0; round < 30; round++)
        {
            var next = round % 2 == 0 ? "b" : "a";
            writes.Add((await PatchAsync("/routes/swap", Version(next))).Status);
            writes.Add((await DeleteAsync("/routes/swap")).Status);
            writes.Add((await PostAsync("/routes", Version(next == "a" ? "b" : "a"))).Status);
        }

        Volatile.Write(ref writesDone, true);
        await Task.WhenAll(clients);

        // Assert
        Assert.All(writes, status => Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NoContent or HttpStatusCode.Created, status.ToString()));
        Assert.Empty(mixed);
        Assert.True(statuses.GetValueOrDefault(HttpStatusCode.OK) > 0);
        Assert.All(statuses.Keys, status => Assert.True(status is HttpStatusCode.OK or HttpStatusCode.NotFound, $"{(int)status}: {statuses[status]} times"));
        var wrongHeader = Upstream.Received.Concat(_second.Received)
            .Where(r => r.Path.StartsWith("/a/", StringComparison.Ordinal) || r.Path.StartsWith("/b/", StringComparison.Ordinal))
            .Where(r => !r.Headers.TryGetValue("X-Version", out var v) || v.Single() != r.Path[1..2])
            .Select(r => r.Path + " with X-Version " + string.Join(",", r.Headers.GetValueOrDefault("X-Version") ?? []))
            .ToList();
        Assert.Empty(wrongHeader);
    }

    [Theory]
    [InlineData("key")]
    [InlineData("user")]
    public async Task KeyRevokedOrUserSuspended_UnderTraffic_EveryRequestSentAfterTheAnswerIsRefused(string what)
    {
        // Arrange: a key in steady use, so it is cached, and lookups under way when the change lands.
        AssertData(await PostAsync("/routes", new { name = "keyed", path = "/keyed/*", upstream = "a", auth_required = true }), HttpStatusCode.Created);
        AssertData(await PostAsync("/users", new { email = "busy@example.com" }), HttpStatusCode.Created);
        var created = await PostAsync("/keys", new { user = "busy@example.com" });
        var keyId = AssertData(created, HttpStatusCode.Created).GetProperty("id").GetString();
        var key = created.Json.GetProperty("meta").GetProperty("key").GetString()!;
        var acknowledged = 0;
        var servedAfter = new ConcurrentQueue<string>();
        var refusedAfter = 0;
        var servedBefore = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            // Bounded in count on each side of the answer (and in time): a client that ran out of requests before the
            // change was answered would leave nothing sent after it to check.
            var (sentBefore, sentAfter) = (0, 0);
            while (sentBefore < 20_000 && sentAfter < 400 && !stop.IsCancellationRequested)
            {
                var after = Volatile.Read(ref acknowledged) == 1;
                if (after)
                {
                    sentAfter++;
                }
                else
                {
                    sentBefore++;
                }

                using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/keyed/x");
                request.Headers.Add("X-API-Key", key);
                using var response = await Gateway.Client.SendAsync(request);
                if (!after)
                {
                    Interlocked.Increment(ref servedBefore);
                    continue;
                }

                if (response.StatusCode == HttpStatusCode.OK)
                {
                    servedAfter.Enqueue(await response.Content.ReadAsStringAsync());
                }
                else
                {
                    Interlocked.Increment(ref refusedAfter);
                }

                if (Volatile.Read(ref refusedAfter) >= 50)
                {
                    return;
                }
            }
        })).ToList();
        await Poll.UntilAsync(() => Volatile.Read(ref servedBefore) >= 50);

        // Act
        var change = what == "key" ? await PostAsync($"/keys/{keyId}/revoke") : await PostAsync("/users/busy@example.com/deactivate");
        Volatile.Write(ref acknowledged, 1);
        await Task.WhenAll(clients);
        using var last = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/keyed/x");
        last.Headers.Add("X-API-Key", key);
        using var refused = await Gateway.Client.SendAsync(last);

        // Assert: no request sent after the answer was served; each is refused with the change's own error.
        AssertData(change);
        Assert.Empty(servedAfter);
        Assert.True(refusedAfter > 0);
        Assert.Equal(what == "key" ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains(what == "key" ? "key_revoked" : "user_suspended", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlanLimitsLoweredThenRaised_CountersKept_ApplyFromTheNextRequest()
    {
        // Arrange: ten requests counted on a plan with room to spare.
        AssertData(await PostAsync("/plans", new { id = "metered", name = "Metered", rate_limit_per_minute = 600, requests_per_month = 1000 }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "keyed", path = "/keyed/*", upstream = "a", auth_required = true }), HttpStatusCode.Created);
        AssertData(await PostAsync("/users", new { email = "metered@example.com", plan = "metered" }), HttpStatusCode.Created);
        var key = (await PostAsync("/keys", new { user = "metered@example.com" })).Json.GetProperty("meta").GetProperty("key").GetString()!;
        var first = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++)
        {
            first.Add(await SendWithKeyAsync(key));
        }

        // Act: quota lowered to two more requests, then raised again; then the rate limit lowered below what the bucket holds.
        AssertData(await PatchAsync("/plans/metered", new { requests_per_month = 12 }));
        var lowered = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            lowered.Add(await SendWithKeyAsync(key));
        }

        AssertData(await PatchAsync("/plans/metered", new { requests_per_month = 1000 }));
        using var raised = await SendWithKeyAsync(key);
        AssertData(await PatchAsync("/plans/metered", new { rate_limit_per_minute = 1 }));
        var slowed = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++)
        {
            slowed.Add(await SendWithKeyAsync(key));
        }

        // Assert: the month's count goes on across the changes (never reset); the smaller bucket caps what was left.
        Assert.All(first, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal("10", first[^1].Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired, HttpStatusCode.PaymentRequired], lowered.Select(r => r.StatusCode));
        Assert.Equal("12", lowered[1].Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal(HttpStatusCode.OK, raised.StatusCode);
        Assert.Equal("13", raised.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal("1000", raised.Headers.GetValues("X-Quota-Limit").Single());
        var served = slowed.TakeWhile(r => r.StatusCode == HttpStatusCode.OK).Count();
        Assert.InRange(served, 1 + Gateway.Options.RateLimitBurst, 1 + Gateway.Options.RateLimitBurst + 1); // capacity 1 + burst, and a token the refill may add meanwhile
        Assert.Equal(HttpStatusCode.TooManyRequests, slowed[served].StatusCode);
        Assert.Equal((1 + Gateway.Options.RateLimitBurst).ToString(System.Globalization.CultureInfo.InvariantCulture), slowed[served].Headers.GetValues("X-RateLimit-Limit").Single());
    }

    [Fact]
    public async Task StoreVersionsGoBack_BackupRestoredInPlace_KeyRevokedAfterwardsIsRefused()
    {
        // Arrange: a key in use (cached under the store's identity version), then the store's versions set back as a
        // backup taken earlier and restored into the same file (sqlite3 .restore) leaves them.
        AssertData(await PostAsync("/routes", new { name = "keyed", path = "/keyed/*", upstream = "a", auth_required = true }), HttpStatusCode.Created);
        AssertData(await PostAsync("/users", new { email = "restored@example.com" }), HttpStatusCode.Created);
        var created = await PostAsync("/keys", new { user = "restored@example.com" });
        var keyId = AssertData(created, HttpStatusCode.Created).GetProperty("id").GetString();
        var key = created.Json.GetProperty("meta").GetProperty("key").GetString()!;
        using var before = await SendWithKeyAsync(key);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Gateway.DatabasePath))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE identity_version SET version = 1 WHERE id = 1; UPDATE config_version SET version = 1 WHERE id = 1;";
            await command.ExecuteNonQueryAsync();
        }

        await Gateway.ReloadAsync();
        using var restored = await SendWithKeyAsync(key);

        // Act: the key is revoked after the restore.
        AssertData(await PostAsync($"/keys/{keyId}/revoke"));
        using var after = await SendWithKeyAsync(key);

        // Assert
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Contains("key_revoked", await after.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> SendWithKeyAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/keyed/x");
        request.Headers.Add("X-API-Key", key);
        var response = await Gateway.Client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static object Version(string name) => new
    {
        name = "swap",
        path = "/swap/*",
        upstream = name,
        path_rewrite = $"/{name}/$1",
        request_transform = "{\"headers\":{\"set\":{\"X-Version\":\"" + name + "\"}}}",
        auth_required = false,
    };
}
