using System.Net;
using System.Text.Json;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Create, read, update and delete over HTTP for every resource the admin API manages, against a real store.</summary>
public sealed class AdminCrudTests : AdminTestBase
{
    [Fact]
    public async Task Upstreams_CreateGetListUpdateDelete_RoundTrip()
    {
        var created = await PostAsync("/upstreams", new { name = "Users API", url = Upstream.Url, timeout = "5s", auth_type = "bearer", auth_value = "upstream-s3cret" });
        var id = AssertData(created, HttpStatusCode.Created).GetProperty("id").GetString();
        Assert.Equal("/admin/upstreams/" + id, created.Headers["Location"]);

        var bySlug = AssertData(await GetAsync("/upstreams/users-api"));
        var updated = AssertData(await PatchAsync("/upstreams/" + id, new { description = "the users service", timeout_ms = 7000 }));
        var put = AssertData(await SendAsync(HttpMethod.Put, "/upstreams/" + id, new { max_conns = 10 }));
        var listed = (await GetAsync("/upstreams")).Json;
        var deleted = await DeleteAsync("/upstreams/users-api");

        Assert.Equal(id, bySlug.GetProperty("id").GetString());
        Assert.Equal(Upstream.Url, bySlug.GetProperty("base_url").GetString());
        Assert.Equal(5000, bySlug.GetProperty("timeout_ms").GetInt32());
        Assert.True(bySlug.GetProperty("auth_configured").GetBoolean());
        Assert.Equal("the users service", updated.GetProperty("description").GetString());
        Assert.Equal(7000, updated.GetProperty("timeout_ms").GetInt32());
        Assert.Equal("bearer", updated.GetProperty("auth_type").GetString());
        Assert.Equal(10, put.GetProperty("max_conns").GetInt32());
        Assert.Equal("the users service", put.GetProperty("description").GetString()); // PUT is partial too
        Assert.Equal(1, listed.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
        AssertError(await GetAsync("/upstreams/" + id), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task LinkIdentity_Created_LocationIsTheAddressThatUnlinksIt()
    {
        // Arrange
        var user = AssertData(await PostAsync("/users", new { email = "ada@example.com" }), HttpStatusCode.Created).GetProperty("id").GetString();

        // Act
        var linked = await PostAsync("/users/ada@example.com/identities", new { subject = "sub 1/ä", issuer = "https://idp.example.com" });
        var unlinked = await DeleteAsync(linked.Headers["Location"]["/admin".Length..]);

        // Assert
        AssertData(linked, HttpStatusCode.Created);
        Assert.Equal($"/admin/users/{user}/identities?subject=sub%201%2F%C3%A4&issuer=https%3A%2F%2Fidp.example.com", linked.Headers["Location"]);
        Assert.Equal(HttpStatusCode.NoContent, unlinked.Status);
        Assert.Equal(0, AssertData(await GetAsync("/users/ada@example.com/identities")).GetArrayLength());
    }

    [Theory]
    [InlineData("suspended")]
    [InlineData("pending")]
    public async Task CreateKey_UserNotActive_Returns409NamingTheStatusAndCreatesNoKey(string status)
    {
        // Arrange
        AssertData(await PostAsync("/users", new { email = "ada@example.com", status }), HttpStatusCode.Created);

        // Act
        var response = await PostAsync("/keys", new { user = "ada@example.com" });

        // Assert
        var error = AssertError(response, HttpStatusCode.Conflict, "conflict", pointer: "/user");
        Assert.Equal($"user 'ada@example.com' is {status}; the gateway refuses its keys, so activate the user first", error.GetProperty("detail").GetString());
        Assert.Equal(0, AssertData(await GetAsync("/keys")).GetArrayLength());
    }

    [Fact]
    public async Task UpstreamAuthValue_AnyResponse_NeverContainsTheSecret()
    {
        const string secret = "upstream-s3cret-value";
        var created = await PostAsync("/upstreams", new { name = "billing", url = Upstream.Url, auth_type = "header", auth_header = "X-Api-Token", auth_value = secret });
        var got = await GetAsync("/upstreams/billing");
        var listed = await GetAsync("/upstreams");
        var updated = await PatchAsync("/upstreams/billing", new { auth_value = secret + "-2" });

        foreach (var response in new[] { created, got, listed, updated })
        {
            Assert.True(response.Status is HttpStatusCode.OK or HttpStatusCode.Created, response.Raw);
            Assert.DoesNotContain(secret, response.Raw);
            Assert.DoesNotContain("auth_value", response.Raw);
        }

        Assert.True(AssertData(got).GetProperty("auth_configured").GetBoolean());
    }

    [Fact]
    public async Task Routes_CreateGetListUpdateEnableDisableDelete_RoundTrip()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        var created = AssertData(await PostAsync("/routes", new
        {
            name = "users", path = "/users/*", upstream = "backend", methods = new[] { "GET", "post" }, headers = new Dictionary<string, string> { ["x-tier"] = "gold" },
            priority = 5, auth_required = false, protocol = "http",
        }), HttpStatusCode.Created);
        var fromDefinitionNames = AssertData(await PostAsync("/routes", new { name = "orders", path_pattern = "/orders", match_type = "exact", upstream_id = "backend" }),
            HttpStatusCode.Created);
        var updated = AssertData(await PatchAsync("/routes/users", new { path_rewrite = "/v2/$1", methods = "GET" }));
        var disabled = AssertData(await PostAsync("/routes/users/disable"));
        var enabled = AssertData(await PostAsync("/routes/" + created.GetProperty("id").GetString() + "/enable"));
        var patchedOff = AssertData(await PatchAsync("/routes/orders", new { enabled = false }));
        var listed = (await GetAsync("/routes")).Json;

        Assert.Equal("/users/*", created.GetProperty("path_pattern").GetString());
        Assert.Equal(["GET", "POST"], created.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("gold", created.GetProperty("headers").GetProperty("x-tier").GetString());
        Assert.Equal(5, created.GetProperty("priority").GetInt32());
        Assert.False(created.GetProperty("auth_required").GetBoolean());
        Assert.Equal("/orders", fromDefinitionNames.GetProperty("path_pattern").GetString());
        Assert.Equal("exact", fromDefinitionNames.GetProperty("match_type").GetString());
        Assert.Equal(created.GetProperty("upstream_id").GetString(), fromDefinitionNames.GetProperty("upstream_id").GetString());
        Assert.Equal("/v2/$1", updated.GetProperty("path_rewrite").GetString());
        Assert.Equal(["GET"], updated.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.False(disabled.GetProperty("enabled").GetBoolean());
        Assert.True(enabled.GetProperty("enabled").GetBoolean());
        Assert.False(patchedOff.GetProperty("enabled").GetBoolean());
        Assert.Equal(["users", "orders"], listed.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("slug").GetString())); // precedence order
        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/routes/orders")).Status);
        AssertError(await GetAsync("/routes/orders"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task PlansAndUsers_CreateGetListUpdateToggleDelete_RoundTrip()
    {
        var plan = AssertData(await PostAsync("/plans", new { id = "pro", name = "Pro", rate_limit_per_minute = 600, requests_per_month = 100000, price_monthly = 2900 }),
            HttpStatusCode.Created);
        var user = AssertData(await PostAsync("/users", new { email = "ada@example.com", name = "Ada", plan_id = "pro" }), HttpStatusCode.Created);
        var userId = user.GetProperty("id").GetString();
        var byEmail = AssertData(await GetAsync("/users/ada@example.com"));
        var renamed = AssertData(await PatchAsync("/users/" + userId, new { name = "Ada L.", plan = "free" }));
        var deactivated = AssertData(await PostAsync("/users/ada@example.com/deactivate"));
        var activated = AssertData(await PostAsync("/users/ada@example.com/activate"));
        var planUpdated = AssertData(await PatchAsync("/plans/pro", new { name = "Pro Plus", is_default = true }));
        var planDisabled = AssertData(await PostAsync("/plans/pro/disable"));
        var planEnabled = AssertData(await PostAsync("/plans/pro/enable"));
        var plans = (await GetAsync("/plans")).Json;
        var users = (await GetAsync("/users")).Json;

        Assert.Equal(600, plan.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal("pro", user.GetProperty("plan_id").GetString());
        Assert.Equal(userId, byEmail.GetProperty("id").GetString());
        Assert.Equal("Ada L.", renamed.GetProperty("name").GetString());
        Assert.Equal("free", renamed.GetProperty("plan_id").GetString());
        Assert.Equal("suspended", deactivated.GetProperty("status").GetString());
        Assert.Equal("active", activated.GetProperty("status").GetString());
        Assert.Equal("Pro Plus", planUpdated.GetProperty("name").GetString());
        Assert.True(planUpdated.GetProperty("is_default").GetBoolean());
        Assert.False(planDisabled.GetProperty("enabled").GetBoolean());
        Assert.True(planEnabled.GetProperty("enabled").GetBoolean());
        Assert.Equal(["free", "pro"], plans.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        Assert.Equal(1, users.GetProperty("meta").GetProperty("total").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/users/ada@example.com")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/plans/pro")).Status);
        AssertError(await GetAsync("/users/" + userId), HttpStatusCode.NotFound, "not_found");
        AssertError(await GetAsync("/plans/pro"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Keys_Create_ShowsTheKeyOnceInMetaAndNeverAgain()
    {
        await PostAsync("/users", new { email = "dev@example.com" });

        var created = await PostAsync("/keys", new { user = "dev@example.com", name = "ci", expires = "30d" });
        var key = created.Json.GetProperty("meta").GetProperty("key").GetString()!;
        var record = AssertData(created, HttpStatusCode.Created);
        var id = record.GetProperty("id").GetString()!;
        var got = await GetAsync("/keys/" + id);
        var listed = await GetAsync("/keys?user=dev@example.com");
        var all = await GetAsync("/keys");

        Assert.StartsWith("ak_", key);
        Assert.Equal("no-store", created.Headers["Cache-Control"]);
        Assert.Equal(key[..12], record.GetProperty("prefix").GetString());
        Assert.True(record.GetProperty("expires_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddDays(29));
        foreach (var response in new[] { got, listed, all })
        {
            Assert.Equal(HttpStatusCode.OK, response.Status);
            Assert.DoesNotContain(key, response.Raw);
            Assert.DoesNotContain("\"hash\"", response.Raw);
            Assert.False(response.Json.TryGetProperty("meta", out var meta) && meta.TryGetProperty("key", out _));
        }

        Assert.Equal(id, Assert.Single(listed.Json.GetProperty("data").EnumerateArray().ToList()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task KeysRevoke_DeleteOrPostRevoke_RevokesAndTheKeyStopsWorking()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true });
        await PostAsync("/users", new { email = "dev@example.com" });
        var first = await PostAsync("/keys", new { user_id = "dev@example.com" });
        var second = await PostAsync("/keys", new { user = "dev@example.com" });
        var firstKey = first.Json.GetProperty("meta").GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await ProxyAsync("/private/a", firstKey)).StatusCode);

        var revokedByDelete = AssertData(await DeleteAsync("/keys/" + AssertData(first, HttpStatusCode.Created).GetProperty("id").GetString()));
        var revokedByPost = AssertData(await PostAsync("/keys/" + AssertData(second, HttpStatusCode.Created).GetProperty("id").GetString() + "/revoke"));

        Assert.NotEqual(JsonValueKind.Null, revokedByDelete.GetProperty("revoked_at").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, revokedByPost.GetProperty("revoked_at").ValueKind);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ProxyAsync("/private/a", firstKey)).StatusCode); // applied before the answer
        AssertError(await DeleteAsync("/keys/key_missing"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task EntitlementsAndPlanEntitlements_CreateGetListUpdateDelete_RoundTrip()
    {
        var entitlement = AssertData(await PostAsync("/entitlements", new { name = "max_projects", value_type = "number", default_value = "1", header_name = "X-Max-Projects" }),
            HttpStatusCode.Created);
        var updated = AssertData(await PatchAsync("/entitlements/max_projects", new { display_name = "Projects", category = "limits" }));
        var assignment = AssertData(await PostAsync("/plan-entitlements", new { plan_id = "free", entitlement_id = "max_projects", value = "3" }), HttpStatusCode.Created);
        var assignmentId = assignment.GetProperty("id").GetString();
        var got = AssertData(await GetAsync("/plan-entitlements/" + assignmentId));
        var byPlan = (await GetAsync("/plans/free/entitlements")).Json;
        var byQuery = (await GetAsync("/plan-entitlements?plan=free")).Json;
        var entitlements = (await GetAsync("/entitlements")).Json;

        Assert.Equal("number", entitlement.GetProperty("value_type").GetString());
        Assert.Equal("Projects", updated.GetProperty("display_name").GetString());
        Assert.Equal("limits", updated.GetProperty("category").GetString());
        Assert.Equal(entitlement.GetProperty("id").GetString(), assignment.GetProperty("entitlement_id").GetString());
        Assert.Equal("3", got.GetProperty("value").GetString());
        Assert.Equal(assignmentId, Assert.Single(byPlan.GetProperty("data").EnumerateArray().ToList()).GetProperty("id").GetString());
        Assert.Equal(1, byQuery.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(1, entitlements.GetProperty("meta").GetProperty("total").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/plan-entitlements/" + assignmentId)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/entitlements/max_projects")).Status);
        AssertError(await GetAsync("/plan-entitlements/" + assignmentId), HttpStatusCode.NotFound, "not_found");
        AssertError(await GetAsync("/entitlements/max_projects"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task PlanEntitlements_Patch_ChangesValueAndEnabledInPlaceAndTheBackendSeesEachChange()
    {
        // Arrange: a plan value of 3 for an entitlement whose default is 1, a key on that plan
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new Core.Management.RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true });
        await PostAsync("/entitlements", new { name = "max_projects", value_type = "number", default_value = "1", header_name = "X-Max-Projects" });
        var id = AssertData(await PostAsync("/plan-entitlements", new { plan_id = "free", entitlement_id = "max_projects", value = "3" }), HttpStatusCode.Created)
            .GetProperty("id").GetString();
        await PostAsync("/users", new { email = "dev@example.com", plan = "free" });
        var key = (await PostAsync("/keys", new { user = "dev@example.com" })).Json.GetProperty("meta").GetProperty("key").GetString()!;

        // Act
        var before = await SeenByBackendAsync(key);
        var patched = AssertData(await PatchAsync("/plan-entitlements/" + id, new { value = " 7 " }));
        var afterValue = await SeenByBackendAsync(key);
        var disabled = AssertData(await SendAsync(HttpMethod.Put, "/plan-entitlements/" + id, new { enabled = false }));
        var afterDisable = await SeenByBackendAsync(key);
        var wrongType = await PatchAsync("/plan-entitlements/" + id, new { value = "many" });
        var otherPlan = await PatchAsync("/plan-entitlements/" + id, new { plan_id = "pro-plan-that-is-not-this-one", value = "9" });
        var nothing = await PatchAsync("/plan-entitlements/" + id, new { });
        var missing = await PatchAsync("/plan-entitlements/pe_missing", new { value = "2" });

        // Assert: each change in place (same id), the value kept when only enabled changes, bad changes refused unwritten
        Assert.Equal(("3", "7", "1"), (before, afterValue, afterDisable));
        Assert.Equal((id, "7", true), (patched.GetProperty("id").GetString(), patched.GetProperty("value").GetString(), patched.GetProperty("enabled").GetBoolean()));
        Assert.Equal((id, "7", false), (disabled.GetProperty("id").GetString(), disabled.GetProperty("value").GetString(), disabled.GetProperty("enabled").GetBoolean()));
        AssertError(wrongType, HttpStatusCode.UnprocessableEntity, "validation_error", "/value");
        AssertError(otherPlan, HttpStatusCode.UnprocessableEntity, "validation_error", "/plan_id");
        AssertError(nothing, HttpStatusCode.UnprocessableEntity, "validation_error", "/value");
        AssertError(missing, HttpStatusCode.NotFound, "not_found");
        var stored = AssertData(await GetAsync("/plan-entitlements/" + id));
        Assert.Equal(("7", false), (stored.GetProperty("value").GetString(), stored.GetProperty("enabled").GetBoolean()));
    }

    /// <summary>The <c>X-Max-Projects</c> header the backend received for one request with <paramref name="key"/>.</summary>
    private async Task<string> SeenByBackendAsync(string key)
    {
        Assert.Equal(HttpStatusCode.OK, (await ProxyAsync("/private/projects", key)).StatusCode);
        return Upstream.Received.Last(r => r.Path.EndsWith("/projects", StringComparison.Ordinal)).Headers["X-Max-Projects"].Single();
    }

    /// <summary>A successful one-unit GET of <paramref name="userId"/> as the store keeps it; tests change what they check with <c>with</c>.</summary>
    private static UsageEvent StoredEvent(string userId, string requestId, DateTimeOffset at) => new()
    {
        UserId = userId, KeyId = "key_1", RouteId = "rt_1", UpstreamId = "up_1", Method = "GET", Path = "/p", Status = 200, LatencyMs = 1,
        RequestBytes = 1, ResponseBytes = 1, Units = 1, ClientIp = "127.0.0.1", RequestId = requestId, Timestamp = at,
    };

    [Fact]
    public async Task Usage_SummaryHistoryRecent_ReturnTheStoredEvents()
    {
        var user = AssertData(await PostAsync("/users", new { email = "metered@example.com" }), HttpStatusCode.Created);
        var userId = user.GetProperty("id").GetString()!;
        var now = DateTimeOffset.UtcNow;
        await Gateway.Store.AddUsageEventsAsync(
            [.. Enumerable.Range(0, 3).Select(i => StoredEvent(userId, "req-" + i, now.AddSeconds(-i)) with
            {
                Path = "/p/" + i, Status = i == 2 ? 502 : 200, LatencyMs = 1.5, RequestBytes = 10, ResponseBytes = 100, Units = 2,
            })],
            CancellationToken.None);

        var summary = AssertData(await GetAsync("/usage/summary?user=metered@example.com"));
        var history = (await GetAsync($"/usage/history?user={userId}&months=2")).Json;
        var recent = (await GetAsync("/usage/recent?user=metered@example.com&limit=2")).Json;

        Assert.Equal(3, summary.GetProperty("requests").GetInt64());
        Assert.Equal(6, summary.GetProperty("units").GetInt64());
        Assert.Equal(1, summary.GetProperty("errors").GetInt64());
        Assert.Equal(1000, summary.GetProperty("quota_limit").GetInt64());
        Assert.Equal(2, history.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(3, history.GetProperty("data")[0].GetProperty("requests").GetInt64());
        Assert.Equal(["req-0", "req-1"], recent.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("request_id").GetString()));
    }

    [Fact]
    public async Task Usage_DeletedUser_ReadableByIdMarkedDeleted_NotByEmail()
    {
        // Arrange
        var user = AssertData(await PostAsync("/users", new { email = "gone@example.com" }), HttpStatusCode.Created);
        var userId = user.GetProperty("id").GetString()!;
        await Gateway.Store.AddUsageEventsAsync(
            [StoredEvent(userId, "req-gone", DateTimeOffset.UtcNow) with { Units = 4 }],
            CancellationToken.None);
        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync("/users/" + userId)).Status);

        // Act
        var summary = AssertData(await GetAsync("/usage/summary?user=" + userId));
        var history = AssertData(await GetAsync($"/usage/history?user={userId}&months=1"));
        var recent = AssertData(await GetAsync($"/usage/recent?user={userId}"));
        var byEmail = await GetAsync("/usage/summary?user=gone@example.com");

        // Assert
        Assert.True(summary.GetProperty("user_deleted").GetBoolean());
        Assert.Equal((userId, "", ""), (summary.GetProperty("user_id").GetString(), summary.GetProperty("email").GetString(), summary.GetProperty("plan_id").GetString()));
        Assert.Equal((1L, 4L, 4L), (summary.GetProperty("requests").GetInt64(), summary.GetProperty("units").GetInt64(), summary.GetProperty("quota_used").GetInt64()));
        Assert.Equal((0L, 0L), (summary.GetProperty("quota_limit").GetInt64(), summary.GetProperty("quota_remaining").GetInt64()));
        Assert.Equal(4, history[0].GetProperty("units").GetInt64());
        Assert.Equal(["req-gone"], recent.EnumerateArray().Select(e => e.GetProperty("request_id").GetString()));
        AssertError(byEmail, HttpStatusCode.NotFound, "not_found", parameter: "user");
    }

    [Fact]
    public async Task UsageRecent_EventBilledPastTheQuota_ShowsTheStoredFieldsOnly()
    {
        // Arrange: an event the store counted overage for (what it carries for that is not kept with the event)
        var user = AssertData(await PostAsync("/users", new { email = "overage@example.com" }), HttpStatusCode.Created);
        var userId = user.GetProperty("id").GetString()!;
        await Gateway.Store.AddUsageEventsAsync(
            [StoredEvent(userId, "req-overage", DateTimeOffset.UtcNow) with { Units = 5, OverageAbove = 2, OverageMeter = "api_overage" }],
            CancellationToken.None);

        // Act
        var recent = (await GetAsync("/usage/recent?user=overage@example.com")).Json;

        // Assert: the fields of docs/usage.md, none that would always read 0 or "" back whatever the store billed
        var fields = recent.GetProperty("data")[0].EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(
            ["user_id", "key_id", "route_id", "upstream_id", "method", "path", "status", "latency_ms", "request_bytes", "response_bytes", "units",
             "client_ip", "request_id", "timestamp"],
            fields);
    }

    [Fact]
    public async Task UsageRecent_PagesOfALargeLimit_EqualSlicesOfTheWholeList()
    {
        // Arrange
        var user = AssertData(await PostAsync("/users", new { email = "paged@example.com" }), HttpStatusCode.Created);
        var userId = user.GetProperty("id").GetString()!;
        var now = DateTimeOffset.UtcNow;
        await Gateway.Store.AddUsageEventsAsync(
            [.. Enumerable.Range(0, 11).Select(i => StoredEvent(userId, "req-" + i, now.AddSeconds(-i)) with { Path = "/p/" + i })],
            CancellationToken.None);
        static List<string> Ids(JsonElement document) => [.. document.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("request_id").GetString()!)];
        var whole = Ids((await GetAsync("/usage/recent?user=paged@example.com&limit=10")).Json);

        // Act
        var pages = new List<JsonElement>();
        for (var number = 1; number <= 3; number++)
        {
            pages.Add((await GetAsync($"/usage/recent?user=paged@example.com&limit=10&page[number]={number}&page[size]=4")).Json);
        }

        var one = (await GetAsync("/usage/recent?user=paged@example.com&limit=10000&page[size]=1")).Json;

        // Assert
        Assert.Equal([whole[..4], whole[4..8], whole[8..10]], pages.Select(Ids));
        Assert.All(pages, p => Assert.Equal(10, p.GetProperty("meta").GetProperty("total").GetInt32()));
        // next continues from the cursor (docs/admin-api.md), so events recorded meanwhile do not shift the next page
        Assert.Equal("/admin/usage/recent?user=paged@example.com&limit=10&page%5Bafter%5D=" + pages[1].GetProperty("meta").GetProperty("next_cursor").GetString()
            + "&page%5Bsize%5D=4", pages[1].GetProperty("links").GetProperty("next").GetString());
        Assert.Equal(JsonValueKind.Null, pages[2].GetProperty("links").GetProperty("next").ValueKind);
        Assert.Equal(["req-0"], Ids(one));
        Assert.Equal((11, 1), (one.GetProperty("meta").GetProperty("total").GetInt32(), one.GetProperty("meta").GetProperty("page_size").GetInt32()));
    }

    [Fact]
    public async Task Settings_Get_ShowsEffectiveSettingsWithSecretsRedacted()
    {
        var settings = AssertData(await GetAsync("/settings"));

        Assert.Equal("/admin", settings.GetProperty("admin_base_path").GetString());
        Assert.Equal("ak_", settings.GetProperty("auth_key_prefix").GetString());
        Assert.Equal("(set)", settings.GetProperty("secret_key").GetString());
        Assert.DoesNotContain(SecretKey, settings.GetRawText());
        var patched = AssertError(await PatchAsync("/settings", new { log_level = "debug" }), HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        Assert.Contains("GET", patched.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task MethodNotAllowed_OnAReadableResource_AllowListsHeadBesideGet()
    {
        // Act: HEAD answers wherever GET does, so Allow must say so
        var deleted = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(
            $"DELETE /admin/settings HTTP/1.1\r\nHost: {new Uri(Gateway.Url).Authority}\r\nConnection: close\r\n" +
            $"Authorization: Bearer {Token}\r\n\r\n"));
        var head = await HeadAsync("/admin/settings", Token);

        // Assert
        Assert.Equal(405, deleted.Status);
        Assert.Equal("GET, HEAD", deleted.Headers["Allow"]);
        Assert.Contains("DELETE is not allowed here (allowed: GET, HEAD)", deleted.Body, StringComparison.Ordinal);
        Assert.Equal(200, head.Status);
    }

    [Fact]
    public async Task Head_AnswersLikeGetWithoutABody()
    {
        var upstream = AssertData(await PostAsync("/upstreams", new { name = "head-up", url = "http://127.0.0.1:9" }), HttpStatusCode.Created).GetProperty("id").GetString();

        var settings = await HeadAsync("/admin/settings", Token);
        Assert.Equal(200, settings.Status);
        Assert.StartsWith((await GetAsync("/settings")).ContentType!, settings.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.Equal("no-store", settings.Headers["Cache-Control"]);
        Assert.Equal("", settings.Body);

        var item = await HeadAsync("/admin/upstreams/" + upstream, Token);
        Assert.Equal(200, item.Status);
        Assert.Equal("", item.Body);

        var missing = await HeadAsync("/admin/upstreams/ups_missing", Token);
        Assert.Equal(404, missing.Status);
        Assert.Equal("", missing.Body);

        var anonymous = await HeadAsync("/admin/settings", token: null);
        Assert.Equal(401, anonymous.Status);
        Assert.Equal("", anonymous.Body);

        // HEAD is a read: on a resource that only takes POST it is refused like GET would be, and nothing changes.
        var keyId = (await Gateway.CreateKeyAsync("head@example.com")).Record.Id;
        var auditBefore = AssertData(await GetAsync("/audit")).GetArrayLength();
        var revoke = await HeadAsync("/admin/keys/" + keyId + "/revoke", Token);
        Assert.Equal(405, revoke.Status);
        Assert.Equal("POST", revoke.Headers["Allow"]);
        Assert.Equal("", revoke.Body);
        // nor when a method-override header names a change: the admin API honours none
        var overridden = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(
            $"HEAD /admin/keys/{keyId} HTTP/1.1\r\nHost: {new Uri(Gateway.Url).Authority}\r\nConnection: close\r\n" +
            $"Authorization: Bearer {Token}\r\nX-HTTP-Method-Override: DELETE\r\nX-Method-Override: DELETE\r\n\r\n"));
        Assert.Equal(200, overridden.Status);
        Assert.Equal("", overridden.Body);
        Assert.Equal(JsonValueKind.Null, AssertData(await GetAsync("/keys/" + keyId)).GetProperty("revoked_at").ValueKind);
        Assert.Equal(auditBefore, AssertData(await GetAsync("/audit")).GetArrayLength());
    }

    private Task<RawResponse> HeadAsync(string path, string? token) =>
        RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(
            $"HEAD {path} HTTP/1.1\r\nHost: {new Uri(Gateway.Url).Authority}\r\nConnection: close\r\n" +
            (token is null ? "" : $"Authorization: Bearer {token}\r\n") + "\r\n"));

    private const string SecretKey = "test-secret-key-for-settings";

    private protected override void Configure(Configuration.GatewayOptions options) => options.SecretKey = SecretKey;

    private async Task<HttpResponseMessage> ProxyAsync(string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Add("X-API-Key", key);
        return await Gateway.Client.SendAsync(request);
    }
}
