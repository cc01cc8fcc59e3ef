using System.Net;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using ApiGate.Gateway.Hosting;
using Microsoft.AspNetCore.Http;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>One <c>ApiGate.Admin</c> log line per admin API request, without the admin token or any created secret.</summary>
public sealed class AdminAuditLogTests : AdminTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options, "trace"); // everything the gateway logs at all
    }

    [Fact]
    public async Task AuditEndpoint_AfterChangesAndARefusal_ListsTheAdmittedChangesNewestFirstWithoutSecrets()
    {
        // Arrange: two admitted changes (one returns a secret), a read, and a refused change
        AssertData(await PostAsync("/users", new { email = "trail@example.com" }), HttpStatusCode.Created);
        var created = await PostAsync("/keys", new { user = "trail@example.com", name = "ci" });
        var newKey = created.Json.GetProperty("meta").GetProperty("key").GetString()!;
        AssertData(await GetAsync("/users"));
        using (var anonymous = new HttpRequestMessage(HttpMethod.Delete, Gateway.Url + "/admin/plans/free"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Gateway.Client.SendAsync(anonymous)).StatusCode);
        }

        // Act
        var all = await GetAsync("/audit");
        var newest = await GetAsync("/audit?limit=1");

        // Assert
        var rows = AssertData(all).EnumerateArray().ToList();
        Assert.Equal(["POST /admin/keys", "POST /admin/users"], rows.Select(r => r.GetProperty("method").GetString() + " " + r.GetProperty("path").GetString()));
        Assert.All(rows, r => Assert.Equal("tests", r.GetProperty("token_name").GetString()));
        Assert.Equal(201, rows[0].GetProperty("status").GetInt32());
        Assert.Single(AssertData(newest).EnumerateArray());
        Assert.DoesNotContain(newKey, all.Json.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Change_AuditReadWhileTheChangesRequestIsStillFinishing_TrailHoldsItsRowEveryTime()
    {
        // Arrange: the change's request is held once its answer has gone out, where it counts itself in the admin
        // request metric (synchronously, on the request's thread), until the trail has been read
        var id = AssertData(await PostAsync("/users", new { email = "own-change@example.com" }), HttpStatusCode.Created).GetProperty("id").GetString();
        using var trailRead = new ManualResetEventSlim();
        using var listener = HoldAdminRequestsWhenCounted(HttpMethods.Patch, trailRead);

        for (var i = 0; i < 5; i++)
        {
            trailRead.Reset();
            try
            {
                // Act: the trail is read on another connection as soon as the change's answer arrives
                using var change = new HttpRequestMessage(HttpMethod.Patch, Gateway.Url + "/admin/users/" + id)
                {
                    Content = new StringContent($$"""{"name": "name {{i}}"}""", Encoding.UTF8, "application/json"),
                };
                change.Headers.Authorization = new("Bearer", Token);
                using var answer = await Gateway.Client.SendAsync(change, HttpCompletionOption.ResponseHeadersRead);
                var audit = await GetAsync("/audit?limit=1");

                // Assert: the row was written before the answer was sent, not after it
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                var row = Assert.Single(AssertData(audit).EnumerateArray());
                Assert.Equal(("PATCH", "/admin/users/" + id, 200),
                    (row.GetProperty("method").GetString(), row.GetProperty("path").GetString(), row.GetProperty("status").GetInt32()));
            }
            finally
            {
                trailRead.Set();
            }
        }
    }

    /// <summary>Blocks each admin request of <paramref name="method"/> of this gateway where it is counted, until <paramref name="release"/> is set.</summary>
    private MeterListener HoldAdminRequestsWhenCounted(string method, ManualResetEventSlim release)
    {
        var meters = Gateway.Service<System.Diagnostics.Metrics.IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "apigate.admin.requests")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "method" && (string?)tag.Value == method)
                {
                    release.Wait(TimeSpan.FromSeconds(30)); // a bound so a broken test ends; the test sets it at once
                }
            }
        });
        listener.Start();
        return listener;
    }

    [Fact]
    public async Task AuditTrail_MadeUpMethodAndOptionsRefusedWith405_LeftOutWhileARefusedPostIsKept()
    {
        // Arrange: with a valid token, a made-up method and OPTIONS (no endpoint takes either), and a POST where only
        // GET is mapped: all three answered 405
        AssertError(await SendAsync(new HttpMethod("FOO"), "/users"), HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        AssertError(await SendAsync(HttpMethod.Options, "/users"), HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        AssertError(await PostAsync("/audit"), HttpStatusCode.MethodNotAllowed, "method_not_allowed");

        // Act
        var audit = await GetAsync("/audit");
        await Gateway.StopAsync();

        // Assert: the trail holds the refused change only; the log has a line for each request
        var row = Assert.Single(AssertData(audit).EnumerateArray());
        Assert.Equal("POST /admin/audit 405", $"{row.GetProperty("method").GetString()} {row.GetProperty("path").GetString()} {row.GetProperty("status").GetInt32()}");
        Assert.Equal(["FOO /admin/users 405", "OPTIONS /admin/users 405", "POST /admin/audit 405"],
            AuditLines(_log.Text).Where(l => l.GetProperty("Method").GetString() != "GET")
                .Select(l => $"{l.GetProperty("Method").GetString()} {l.GetProperty("Path").GetString()} {l.GetProperty("Status").GetInt32()}"));
    }

    [Fact]
    public async Task KeyPastedWhereAnIdBelongs_AuditRowAndLogLineHoldOnlyItsShownPrefix()
    {
        // Arrange: an operator revokes a key by the key itself instead of its id
        var (apiKey, _, _) = await Gateway.CreateKeyAsync("pasted@example.com");

        // Act
        AssertError(await DeleteAsync("/keys/" + apiKey), HttpStatusCode.NotFound, "not_found");
        var audit = await GetAsync("/audit");
        await Gateway.StopAsync();

        // Assert
        var row = Assert.Single(AssertData(audit).EnumerateArray());
        Assert.Equal("/admin/keys/" + apiKey[..12] + "***", row.GetProperty("path").GetString());
        Assert.DoesNotContain(apiKey[12..40], audit.Json.GetRawText(), StringComparison.Ordinal);
        var output = _log.Text;
        Assert.Contains("/admin/keys/" + apiKey[..12] + "***", output, StringComparison.Ordinal);
        Assert.DoesNotContain(apiKey[12..40], output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyPastedWhereAnIdBelongs_WithoutAnAdminToken_RefusalWarningNamesTheBasePathAndOnlyTheKeysShownPrefix()
    {
        // Arrange: someone without an admin token tries to revoke a key by the key itself
        var (apiKey, _, _) = await Gateway.CreateKeyAsync("refused@example.com");

        // Act
        using (var anonymous = new HttpRequestMessage(HttpMethod.Delete, Gateway.Url + "/admin/keys/" + apiKey))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Gateway.Client.SendAsync(anonymous)).StatusCode);
        }

        await Gateway.StopAsync();

        // Assert: the refusal's warning (7001) names the path as the request line (7020) does, the key cut to its prefix
        var output = _log.Text;
        Assert.DoesNotContain(apiKey[12..40], output, StringComparison.Ordinal);
        var refusal = Assert.Single(LinesOf(output, 7001));
        Assert.Equal("DELETE", refusal.GetProperty("Method").GetString());
        Assert.Equal("/admin/keys/" + apiKey[..12] + "***", refusal.GetProperty("Path").GetString());
    }

    [Fact]
    public async Task AdminRequest_PathWithLineSeparatorAndBidiOverride_LoggedAsUnicodeEscapes()
    {
        // Arrange: the client's path, decoded, carries a line separator and a right-to-left override
        const string path = "/upstreams/x%E2%80%A8y%E2%80%AEz";

        // Act
        AssertError(await GetAsync(path), HttpStatusCode.NotFound, "not_found");
        await Gateway.StopAsync();

        // Assert: the generic JSON formatter writes them escaped, as the access line does; read back they are unchanged
        var output = _log.Text;
        Assert.DoesNotContain(output, c => c is '\u2028' or '\u202E');
        Assert.Contains("x\\u2028y\\u202Ez", output, StringComparison.Ordinal);
        Assert.Equal("/admin/upstreams/x\u2028y\u202Ez", Assert.Single(AuditLines(output)).GetProperty("Path").GetString());
    }

    [Fact]
    public async Task AdminRequests_EachLoggedOnceWithTokenIdentity_NeverASecret()
    {
        // Arrange
        var token = (await Gateway.Store.FindAdminTokenAsync("tests", CancellationToken.None))!;
        var (apiKey, _, _) = await Gateway.CreateKeyAsync("existing@example.com");

        // Act: a write that returns a secret, a read with a query, refusals with no token, a wrong token and an API key.
        AssertData(await PostAsync("/users", new { email = "audited@example.com" }), HttpStatusCode.Created);
        var created = await PostAsync("/keys", new { user = "audited@example.com", name = "ci" });
        var newKey = created.Json.GetProperty("meta").GetProperty("key").GetString()!;
        AssertData(await GetAsync("/keys?user=audited@example.com&page[size]=1"));
        AssertError(await GetAsync("/upstreams/missing"), HttpStatusCode.NotFound, "not_found");
        var wrongToken = "agt_" + new string('0', 64);
        AssertError(await SendAsync(HttpMethod.Get, "/plans", token: wrongToken), HttpStatusCode.Unauthorized, "unauthorized");
        AssertError(await SendAsync(HttpMethod.Get, "/plans", token: apiKey), HttpStatusCode.Unauthorized, "unauthorized");
        using (var anonymous = new HttpRequestMessage(HttpMethod.Delete, Gateway.Url + "/admin/plans/free"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Gateway.Client.SendAsync(anonymous)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/health")).StatusCode); // not an admin request
        await Gateway.StopAsync();

        // Assert
        var output = _log.Text;
        Assert.DoesNotContain(Token, output);
        Assert.DoesNotContain(Token[..20], output);
        Assert.DoesNotContain(newKey, output);
        Assert.DoesNotContain(newKey[..20], output);
        Assert.DoesNotContain(apiKey, output);
        Assert.DoesNotContain(wrongToken, output);

        var lines = AuditLines(output);
        Assert.Equal(7, lines.Count);
        var keyCreate = lines.Single(l => l.GetProperty("Method").GetString() == "POST" && l.GetProperty("Path").GetString() == "/admin/keys");
        Assert.Equal(201, keyCreate.GetProperty("Status").GetInt32());
        Assert.Equal(token.Id, keyCreate.GetProperty("TokenId").GetString());
        Assert.Equal("tests", keyCreate.GetProperty("TokenName").GetString());
        Assert.Equal("127.0.0.1", keyCreate.GetProperty("ClientIp").GetString());
        Assert.True(keyCreate.GetProperty("DurationMs").GetDouble() > 0);

        var listed = lines.Single(l => l.GetProperty("Method").GetString() == "GET" && l.GetProperty("Path").GetString() == "/admin/keys");
        Assert.Equal(200, listed.GetProperty("Status").GetInt32());
        Assert.DoesNotContain(lines, l => l.GetProperty("Path").GetString()!.Contains('?', StringComparison.Ordinal));
        Assert.DoesNotContain("audited@example.com&", output);

        Assert.Equal(404, lines.Single(l => l.GetProperty("Path").GetString() == "/admin/upstreams/missing").GetProperty("Status").GetInt32());

        var refused = lines.Where(l => l.GetProperty("Status").GetInt32() == 401).ToList();
        Assert.Equal(3, refused.Count);
        Assert.All(refused, l =>
        {
            Assert.Equal("", l.GetProperty("TokenId").GetString());
            Assert.Equal("", l.GetProperty("TokenName").GetString());
            Assert.Equal("127.0.0.1", l.GetProperty("ClientIp").GetString());
        });
        Assert.Contains(refused, l => l.GetProperty("Method").GetString() == "DELETE" && l.GetProperty("Path").GetString() == "/admin/plans/free");
    }

    /// <summary>The <c>State</c> of each JSON line in the admin category.</summary>
    private static List<JsonElement> AuditLines(string output)
    {
        var lines = new List<JsonElement>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.GetProperty("Category").GetString() == "ApiGate.Admin")
            {
                Assert.Equal("Information", root.GetProperty("LogLevel").GetString());
                Assert.Equal(7020, root.GetProperty("EventId").GetInt32());
                lines.Add(root.GetProperty("State").Clone());
            }
        }

        return lines;
    }

    /// <summary>The <c>State</c> of each JSON line with this event id, in any category.</summary>
    private static List<JsonElement> LinesOf(string output, int eventId)
    {
        var lines = new List<JsonElement>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.GetProperty("EventId").GetInt32() == eventId)
            {
                lines.Add(document.RootElement.GetProperty("State").Clone());
            }
        }

        return lines;
    }
}
