using System.Net;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// Conditional requests on one upstream, route, user, plan, entitlement or webhook: GET sends a strong ETag made of the
/// row's stored version, and a write with If-Match is applied only while the row still has one of the tags given, so a
/// client that read, changed and wrote back learns with a 412 that someone else wrote in between instead of overwriting it.
/// </summary>
public sealed class AdminConditionalRequestTests : AdminTestBase
{
    /// <summary>The path of one row of each kind (created in <see cref="CreateOneOfEachAsync"/>), its kind as errors name it, and the field a test changes.</summary>
    private sealed record Row(string Path, string Kind, string Reference, string Field);

    [Fact]
    public async Task Get_EachKindWithAVersion_SendsAStrongETagAndHeadTheSame()
    {
        // Arrange
        var rows = await CreateOneOfEachAsync();

        foreach (var row in rows)
        {
            // Act
            var get = await GetAsync(row.Path);
            var head = await SendAsync(HttpMethod.Head, row.Path);

            // Assert
            AssertData(get);
            Assert.Matches("^\"[0-9a-f]+\"$", get.Headers["ETag"]);
            Assert.Equal(get.Headers["ETag"], head.Headers["ETag"]);
        }
    }

    [Fact]
    public async Task Patch_IfMatchTheCurrentETag_AppliedAndAnswersTheNewETag()
    {
        // Arrange
        var rows = await CreateOneOfEachAsync();

        foreach (var row in rows)
        {
            var current = (await GetAsync(row.Path)).Headers["ETag"];

            // Act
            var response = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "second"), headers: ("If-Match", current));

            // Assert
            Assert.Equal("second", AssertData(response).GetProperty(row.Field).GetString());
            Assert.NotEqual(current, response.Headers["ETag"]);
            Assert.Equal((await GetAsync(row.Path)).Headers["ETag"], response.Headers["ETag"]);
        }
    }

    [Fact]
    public async Task Patch_ValuesAsStoredOrNone_WritesNothingSoTheETagAndTheConfigVersionStay()
    {
        // Arrange: a client that sends its desired state again, unchanged
        var rows = await CreateOneOfEachAsync();
        var configVersion = await Gateway.Store.GetConfigVersionAsync(CancellationToken.None);

        foreach (var row in rows)
        {
            var before = await GetAsync(row.Path);
            var current = before.Headers["ETag"];

            // Act
            var same = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "first"), headers: ("If-Match", current));
            var empty = await SendAsync(HttpMethod.Patch, row.Path, new { });
            var after = await GetAsync(row.Path);

            // Assert
            Assert.Equal("first", AssertData(same).GetProperty(row.Field).GetString());
            Assert.Equal(current, same.Headers["ETag"]);
            AssertData(empty);
            Assert.Equal(current, empty.Headers["ETag"]);
            Assert.Equal(current, after.Headers["ETag"]);
            Assert.Equal(AssertData(before).GetProperty("updated_at").GetString(), AssertData(after).GetProperty("updated_at").GetString());
        }

        Assert.Equal(configVersion, await Gateway.Store.GetConfigVersionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Patch_IfMatchAStaleETag_Is412NamingTheCurrentETagAndChangesNothing()
    {
        // Arrange: a read, then someone else's write
        var rows = await CreateOneOfEachAsync();

        foreach (var row in rows)
        {
            var stale = (await GetAsync(row.Path)).Headers["ETag"];
            AssertData(await PatchAsync(row.Path, Change(row, "theirs")));
            var current = (await GetAsync(row.Path)).Headers["ETag"];

            // Act
            var response = await SendAsync(HttpMethod.Put, row.Path, Change(row, "mine"), headers: ("If-Match", stale));

            // Assert
            var error = AssertError(response, HttpStatusCode.PreconditionFailed, "precondition_failed");
            Assert.Equal("If-Match", error.GetProperty("source").GetProperty("header").GetString());
            Assert.Equal($"the {row.Kind} '{row.Reference}' was changed since the version If-Match names: its ETag is now {current}; read it again and apply your change to that",
                error.GetProperty("detail").GetString());
            var stored = await GetAsync(row.Path);
            Assert.Equal("theirs", AssertData(stored).GetProperty(row.Field).GetString());
            Assert.Equal(current, stored.Headers["ETag"]);
        }
    }

    [Fact]
    public async Task Writes_IfMatchAStaleETag_Are412SendingTheCurrentETagHeader()
    {
        // Arrange: a read, then someone else's write
        var rows = await CreateOneOfEachAsync();

        foreach (var row in rows)
        {
            var stale = (await GetAsync(row.Path)).Headers["ETag"];
            AssertData(await PatchAsync(row.Path, Change(row, "theirs")));
            var current = (await GetAsync(row.Path)).Headers["ETag"];

            // Act
            var patch = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Match", stale));
            var delete = await SendAsync(HttpMethod.Delete, row.Path, headers: ("If-Match", stale));

            // Assert
            AssertError(patch, HttpStatusCode.PreconditionFailed, "precondition_failed");
            Assert.Equal(current, patch.Headers.GetValueOrDefault("ETag"));
            AssertError(delete, HttpStatusCode.PreconditionFailed, "precondition_failed");
            Assert.Equal(current, delete.Headers.GetValueOrDefault("ETag"));
        }
    }

    [Fact]
    public async Task Action_IfMatchAStaleETag_Is412SendingTheCurrentETagHeader()
    {
        // Arrange
        var route = (await CreateOneOfEachAsync())[1];
        var stale = (await GetAsync(route.Path)).Headers["ETag"];
        AssertData(await PatchAsync(route.Path, Change(route, "theirs")));
        var current = (await GetAsync(route.Path)).Headers["ETag"];

        // Act
        var response = await SendAsync(HttpMethod.Post, "/routes/users/disable", headers: ("If-Match", stale));

        // Assert
        AssertError(response, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(current, response.Headers.GetValueOrDefault("ETag"));
    }

    [Fact]
    public async Task Patch_IfMatchTheCurrentTagMadeWeak_Is412()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];
        var current = (await GetAsync(row.Path)).Headers["ETag"];

        // Act: If-Match compares strongly, so W/"…" never matches
        var response = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Match", "W/" + current));

        // Assert
        AssertError(response, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal("first", AssertData(await GetAsync(row.Path)).GetProperty(row.Field).GetString());
    }

    [Fact]
    public async Task Patch_IfMatchTheCurrentTagMadeWeak_SaysWeakTagsNeverMatchRatherThanThatTheRowChanged()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];
        var current = (await GetAsync(row.Path)).Headers["ETag"];

        // Act
        var response = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Match", "W/" + current));

        // Assert
        var error = AssertError(response, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(
            $"If-Match names the {row.Kind} '{row.Reference}' in its current version only as a weak tag, W/{current}, which never matches (If-Match compares strongly): send the ETag as it is given, {current}",
            error.GetProperty("detail").GetString());
        Assert.Equal(current, response.Headers.GetValueOrDefault("ETag"));
    }

    [Fact]
    public async Task Patch_IfMatchAListHoldingTheCurrentETag_Applied()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];
        var current = (await GetAsync(row.Path)).Headers["ETag"];

        // Act
        var response = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Match", $"\"0\", W/{current},{current}"));

        // Assert
        Assert.Equal("mine", AssertData(response).GetProperty(row.Field).GetString());
    }

    [Fact]
    public async Task Patch_IfMatchAnyOnAnExistingRow_Applied_OnAMissingRow_Is404()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];

        // Act
        var existing = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Match", "*"));
        var missing = await SendAsync(HttpMethod.Patch, "/routes/nope", Change(row, "mine"), headers: ("If-Match", "*"));

        // Assert: a missing row answers 404 as without the header (RFC 9110 §13.2.1: the 404 comes before preconditions)
        Assert.Equal("mine", AssertData(existing).GetProperty(row.Field).GetString());
        AssertError(missing, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Delete_IfMatchAStaleETag_Is412AndKeepsTheRow_TheCurrentOneDeletes()
    {
        // Arrange: the routes first, the upstream they use last (it cannot be deleted while they use it)
        var rows = (await CreateOneOfEachAsync()).OrderBy(r => r.Kind == "upstream").ThenBy(r => r.Kind == "plan").ToList();

        foreach (var row in rows)
        {
            var stale = (await GetAsync(row.Path)).Headers["ETag"];
            AssertData(await PatchAsync(row.Path, Change(row, "theirs")));
            var current = (await GetAsync(row.Path)).Headers["ETag"];

            // Act
            var refused = await SendAsync(HttpMethod.Delete, row.Path, headers: ("If-Match", stale));
            var kept = await GetAsync(row.Path);
            var deleted = await SendAsync(HttpMethod.Delete, row.Path, headers: ("If-Match", current));

            // Assert
            AssertError(refused, HttpStatusCode.PreconditionFailed, "precondition_failed");
            Assert.Equal("theirs", AssertData(kept).GetProperty(row.Field).GetString());
            Assert.True(deleted.Status == HttpStatusCode.NoContent, $"{row.Path}: {(int)deleted.Status} {deleted.Raw}");
        }
    }

    [Fact]
    public async Task Actions_IfMatchAStaleETag_Is412AndChangeNothing()
    {
        // Arrange: a read, then someone else's write, of the route, the plan and the user
        var rows = await CreateOneOfEachAsync();
        var stale = new Dictionary<string, string>();
        foreach (var row in rows[1..4])
        {
            stale[row.Path] = (await GetAsync(row.Path)).Headers["ETag"];
            AssertData(await PatchAsync(row.Path, Change(row, "theirs")));
        }

        // Act
        var responses = new[]
        {
            await SendAsync(HttpMethod.Post, "/routes/users/disable", headers: ("If-Match", stale["/routes/users"])),
            await SendAsync(HttpMethod.Post, "/plans/pro/disable", headers: ("If-Match", stale["/plans/pro"])),
            await SendAsync(HttpMethod.Post, "/users/ada@example.com/deactivate", headers: ("If-Match", stale["/users/ada@example.com"])),
        };

        // Assert
        Assert.All(responses, r => AssertError(r, HttpStatusCode.PreconditionFailed, "precondition_failed"));
        Assert.True(AssertData(await GetAsync("/routes/users")).GetProperty("enabled").GetBoolean());
        Assert.True(AssertData(await GetAsync("/plans/pro")).GetProperty("enabled").GetBoolean());
        Assert.Equal("active", AssertData(await GetAsync("/users/ada@example.com")).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("\"a\" \"b\"")]
    [InlineData("*, \"a\"")]
    [InlineData("\"unterminated")]
    public async Task Patch_MalformedIfMatch_Is400NamingTheHeaderAndChangesNothing(string value)
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];

        // Act
        var response = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Match", value));

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_header");
        Assert.Equal("If-Match", error.GetProperty("source").GetProperty("header").GetString());
        Assert.Equal($"If-Match must be * or entity tags as the ETag header gives them (\"…\", comma-separated), not '{value}'", error.GetProperty("detail").GetString());
        Assert.Equal("first", AssertData(await GetAsync(row.Path)).GetProperty(row.Field).GetString());
    }

    [Fact]
    public async Task Get_MalformedIfNoneMatch_Is400NamingTheHeader()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];

        // Act
        var response = await SendAsync(HttpMethod.Get, row.Path, headers: ("If-None-Match", "nope"));

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_header");
        Assert.Equal("If-None-Match", error.GetProperty("source").GetProperty("header").GetString());
        Assert.Equal("If-None-Match must be * or entity tags as the ETag header gives them (\"…\", comma-separated), not 'nope'", error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task IfMatch_OnACollectionOrARowWithoutAVersion_Is400SayingTheEndpointHasNoConditionalRequests()
    {
        // Arrange
        await CreateOneOfEachAsync();

        // Act
        var create = await SendAsync(HttpMethod.Post, "/routes", new { name = "orders", path = "/orders/*", upstream = "backend" }, headers: ("If-Match", "*"));
        var revoke = await SendAsync(HttpMethod.Delete, "/keys/key_none", headers: ("If-Match", "*"));

        // Assert
        var error = AssertError(create, HttpStatusCode.BadRequest, "invalid_header");
        Assert.Equal("If-Match", error.GetProperty("source").GetProperty("header").GetString());
        Assert.Equal("POST /admin/routes does not support conditional requests (If-Match): only one upstream, route, user, plan, entitlement or webhook has an ETag",
            error.GetProperty("detail").GetString());
        Assert.Equal("DELETE /admin/keys/key_none does not support conditional requests (If-Match): only one upstream, route, user, plan, entitlement or webhook has an ETag",
            AssertError(revoke, HttpStatusCode.BadRequest, "invalid_header").GetProperty("detail").GetString());
        AssertError(await GetAsync("/routes/orders"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Get_ACollectionWithCacheValidators_AnswersTheFullList()
    {
        // Arrange: a cache or client library may send validators on any GET; a read changes nothing, so they are ignored
        await CreateOneOfEachAsync();

        // Act
        var list = await SendAsync(HttpMethod.Get, "/routes", headers: [("If-None-Match", "\"x\""), ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"), ("If-Match", "*")]);

        // Assert
        Assert.Equal(1, AssertData(list).GetArrayLength());
    }

    [Fact]
    public async Task IfUnmodifiedSince_AloneOnAWrite_Is400SayingToSendIfMatch()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];

        // Act
        var response = await SendAsync(HttpMethod.Patch, row.Path, Change(row, "mine"), headers: ("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"));

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_header");
        Assert.Equal("the admin API does not evaluate If-Unmodified-Since: send If-Match with the ETag that GET of the resource answers", error.GetProperty("detail").GetString());
        Assert.Equal("first", AssertData(await GetAsync(row.Path)).GetProperty(row.Field).GetString());
    }

    [Fact]
    public async Task Patch_DatePreconditionsTheRfcHasIgnored_Applied()
    {
        // Arrange: If-Modified-Since applies to GET and HEAD only; If-Unmodified-Since beside If-Match gives way to it
        var rows = await CreateOneOfEachAsync();
        var (route, user) = (rows[1], rows[3]);
        var current = (await GetAsync(route.Path)).Headers["ETag"];

        // Act
        var withIfMatch = await SendAsync(HttpMethod.Patch, route.Path, Change(route, "mine"),
            headers: [("If-Match", current), ("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        var modifiedSince = await SendAsync(HttpMethod.Patch, user.Path, Change(user, "mine"), headers: ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"));

        // Assert
        Assert.Equal("mine", AssertData(withIfMatch).GetProperty(route.Field).GetString());
        Assert.Equal("mine", AssertData(modifiedSince).GetProperty(user.Field).GetString());
    }

    [Fact]
    public async Task CreateWebhook_Answers201WithTheETagItsGetAnswers()
    {
        // Act
        var created = await PostAsync("/webhooks", new { url = "https://example.com/etag", events = new[] { "key.created" } });

        // Assert
        var id = AssertData(created, HttpStatusCode.Created).GetProperty("id").GetString();
        Assert.True(created.Headers.TryGetValue("ETag", out var tag), "no ETag on the 201");
        Assert.Equal(tag, (await GetAsync($"/webhooks/{id}")).Headers["ETag"]);
    }

    [Fact]
    public async Task Get_IfNoneMatchTheCurrentETag_Is304_AStaleOne200()
    {
        // Arrange
        var row = (await CreateOneOfEachAsync())[1];
        var current = (await GetAsync(row.Path)).Headers["ETag"];

        // Act
        var unchanged = await SendAsync(HttpMethod.Get, row.Path, headers: ("If-None-Match", "W/" + current));
        var changed = await SendAsync(HttpMethod.Get, row.Path, headers: ("If-None-Match", "\"0\""));

        // Assert
        Assert.Equal(HttpStatusCode.NotModified, unchanged.Status);
        Assert.Equal(current, unchanged.Headers["ETag"]);
        Assert.Equal("first", AssertData(changed).GetProperty(row.Field).GetString());
    }

    [Fact]
    public async Task OpenApi_UpdateOfARowWithAVersion_ListsIfMatchAnd412_ACreateDoesNot()
    {
        // Act
        var document = (await GetAsync("/openapi.json")).Json;

        // Assert
        var patch = document.GetProperty("paths").GetProperty("/routes/{id}").GetProperty("patch");
        Assert.Contains(patch.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "If-Match" && p.GetProperty("in").GetString() == "header");
        Assert.True(patch.GetProperty("responses").TryGetProperty("412", out _));
        var create = document.GetProperty("paths").GetProperty("/routes").GetProperty("post");
        Assert.False(create.GetProperty("responses").TryGetProperty("412", out _));
    }

    /// <summary>An upstream, a route, a plan, a user, an entitlement and a webhook, each with <c>first</c> in the field the tests change.</summary>
    private async Task<List<Row>> CreateOneOfEachAsync()
    {
        AssertData(await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url, description = "first" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "users", path = "/users/*", upstream = "backend", description = "first" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/plans", new { id = "pro", name = "Pro", description = "first" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/users", new { email = "ada@example.com", name = "first", plan = "pro" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/entitlements", new { name = "exports", value_type = "number", default_value = "1", description = "first" }), HttpStatusCode.Created);
        var webhook = AssertData(await PostAsync("/webhooks", new { url = "https://example.com/hooks", events = new[] { "key.created" }, description = "first" }),
            HttpStatusCode.Created).GetProperty("id").GetString()!;
        return
        [
            new("/upstreams/backend", "upstream", "backend", "description"),
            new("/routes/users", "route", "users", "description"),
            new("/plans/pro", "plan", "pro", "description"),
            new("/users/ada@example.com", "user", "ada@example.com", "name"),
            new("/entitlements/exports", "entitlement", "exports", "description"),
            new($"/webhooks/{webhook}", "webhook", webhook, "description"),
        ];
    }

    private static Dictionary<string, string> Change(Row row, string value) => new() { [row.Field] = value };
}
