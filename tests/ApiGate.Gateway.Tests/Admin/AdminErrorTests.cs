using System.Net;
using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Refused requests: 422 with a pointer naming the field, 404 for unknown ids, 409 for conflicts, 400 for unreadable input.</summary>
public sealed class AdminErrorTests : AdminTestBase
{
    // Each of some 200 cases starts a gateway of its own; a migrated copy spares each start the migrations.
    private protected override async Task<string?> StoreDirectoryAsync() => await MigratedStoreTemplate.NewDirectoryAsync();

    [Theory]
    [InlineData("/upstreams", """{"name": "bad", "url": "ftp://example.com"}""", "/url")]
    [InlineData("/upstreams", """{"url": "http://127.0.0.1:1"}""", "/name")]
    [InlineData("/upstreams", """{"name": "s", "base_url": "http://127.0.0.1:1", "auth_type": "bearer"}""", "/auth_value")]
    [InlineData("/upstreams", """{"name": "s", "base_url": "not a url"}""", "/base_url")]
    [InlineData("/routes", """{"name": "r", "path": "/a", "match_type": "fuzzy"}""", "/match_type")]
    [InlineData("/routes", """{"name": "r", "path": "/a", "upstream": "missing"}""", "/upstream")]
    [InlineData("/routes", """{"name": "r", "path_pattern": "/a", "upstream_id": "missing"}""", "/upstream_id")]
    [InlineData("/routes", """{"name": "r", "path": "/a", "path_rewrite": "'/x' +"}""", "/path_rewrite")]
    [InlineData("/routes", """{"name": "r", "path": "/a", "methods": ["GE T"]}""", "/methods")]
    [InlineData("/routes", """{"name": "r"}""", "/path")]
    [InlineData("/users", """{"email": "not-an-email"}""", "/email")]
    [InlineData("/users", """{"email": "a@example.com", "plan_id": "missing"}""", "/plan_id")]
    [InlineData("/users", """{"email": "a@example.com", "status": "sleeping"}""", "/status")]
    [InlineData("/plans", """{"id": "Not A Slug", "name": "x"}""", "/id")]
    [InlineData("/plans", """{"name": "x", "rate_limit_per_minute": -1}""", "/rate_limit_per_minute")]
    [InlineData("/keys", """{"user": "nobody@example.com"}""", "/user")]
    [InlineData("/keys", """{"user_id": "nobody@example.com"}""", "/user_id")]
    [InlineData("/keys", """{"user": "ann@example.com", "expires": "soon"}""", "/expires")]
    [InlineData("/keys", """{"user": "ann@example.com", "expires_at": "soon"}""", "/expires_at")]
    [InlineData("/entitlements", """{"name": "Bad Name"}""", "/name")]
    [InlineData("/entitlements", """{"name": "flag", "value_type": "colour"}""", "/value_type")]
    [InlineData("/plan-entitlements", """{"plan": "missing", "entitlement": "x", "value": "1"}""", "/plan")]
    [InlineData("/plan-entitlements", """{"plan_id": "free", "entitlement_id": "missing", "value": "1"}""", "/entitlement_id")]
    [InlineData("/routes", """{"name": "r", "path": "/a", "methods": ["GETT"]}""", "/methods")]
    [InlineData("/routes", """{"name": "r", "path": "/a/*", "path_rewrite": "/b/../c/$1"}""", "/path_rewrite")]
    [InlineData("/routes", """{"name": "r", "path": "/a/*", "path_rewrite": "$2"}""", "/path_rewrite")]
    [InlineData("/routes", """{"name": "r", "path": "/a/*", "host_pattern": "api.example.com:8443"}""", "/host_pattern")]
    [InlineData("/routes", """{"name": "r", "path": "/files%20archive/*"}""", "/path")]
    [InlineData("/routes", """{"name": "r", "path": "/a/*", "path_rewrite": "/q/$9"}""", "/path_rewrite")]
    [InlineData("/routes", """{"name": "r", "path": "/a/{id}", "path_rewrite": "/q/{user}"}""", "/path_rewrite")]
    [InlineData("/upstreams", """{"name": "evil\u001b[2Jname", "url": "http://127.0.0.1:1"}""", "/name")]
    [InlineData("/upstreams", """{"name": "u", "url": "http://127.0.0.1:1", "description": "nul\u0000"}""", "/description")]
    [InlineData("/routes", """{"name": "r\u0007", "path": "/a"}""", "/name")]
    [InlineData("/routes", """{"name": "r", "path": "/a", "description": "c1\u009b"}""", "/description")]
    [InlineData("/plans", """{"name": "Pro\u007f"}""", "/name")]
    [InlineData("/plans", """{"name": "Pro", "description": "two\nlines"}""", "/description")]
    [InlineData("/users", """{"email": "a\u001b@example.com"}""", "/email")]
    [InlineData("/users", """{"email": "a@example.com", "name": "Ann\u0000"}""", "/name")]
    [InlineData("/keys", """{"user": "ann@example.com", "name": "ci\u001b"}""", "/name")]
    [InlineData("/entitlements", """{"name": "flag", "display_name": "Flag\u0000"}""", "/display_name")]
    [InlineData("/entitlements", """{"name": "flag", "description": "d\u0085"}""", "/description")]
    public async Task Create_InvalidField_Returns422WithPointerToTheField(string path, string body, string pointer)
    {
        var response = await SendAsync(HttpMethod.Post, path, body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
    }

    [Theory]
    [InlineData("/users", """{"email": "ann@example.com", "name": "Ann\u200B"}""", 0x200B)]
    [InlineData("/plans", """{"name": "Pro\u00AD"}""", 0x00AD)]
    [InlineData("/routes", """{"name": "r\u200Cr", "path": "/a"}""", 0x200C)]
    [InlineData("/upstreams", """{"name": "u\u200Du", "url": "http://127.0.0.1:1"}""", 0x200D)]
    [InlineData("/keys", """{"user": "ann@example.com", "name": "c\u2060i"}""", 0x2060)]
    public async Task Create_NameWithAnInvisibleCharacter_Returns422NamingTheNameAndTheCharacter(string path, string body, int code)
    {
        // Arrange: the key's user exists, so only its name can be refused
        if (path == "/keys")
        {
            Assert.True((await Gateway.Users.CreateAsync(new Core.Management.UserChanges { Email = "ann@example.com" }, CancellationToken.None)).Ok);
        }

        // Act
        var response = await SendAsync(HttpMethod.Post, path, body);

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/name");
        Assert.EndsWith($"must not contain invisible characters (U+{code:X4} at position {(code == 0x00AD || code == 0x200B ? 4 : 2)})", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateUser_EmailWithATagCharacter_Returns422NamingItsCodePointAndNoUser()
    {
        // Act: U+E0041 (a surrogate pair in JSON), invisible: the address reads as ann@example.com
        var response = await SendAsync(HttpMethod.Post, "/users", """{"email": "ann\uDB40\uDC41@example.com"}""");

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/email");
        Assert.StartsWith("contains an invisible character (U+E0041 at position 4)", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await Gateway.Store.ListUsersAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("expires", "soon", "'soon' is not a date (2027-01-31, 2027-01-31T12:00:00Z) or a duration (30d, 12h)")]
    [InlineData("expires_at", "2001-01-01", "expiry must be in the future")]
    [InlineData("expires", "0s", "expiry must be in the future")]
    [InlineData("expires", "3000000d", "'3000000d' from now would be past the calendar's end (year 9999): give a shorter duration or a date")]
    [InlineData("expires", "100000000h", "'100000000h' from now would be past the calendar's end (year 9999): give a shorter duration or a date")]
    [InlineData("expires", "99999999999999m", "'99999999999999m' from now would be past the calendar's end (year 9999): give a shorter duration or a date")]
    [InlineData("expires", "9999-12-31T23:00:00-05:00", "'9999-12-31T23:00:00-05:00' is past the calendar's end (year 9999) in UTC: give an earlier date or a duration")]
    [InlineData("expires", "9999-12-31T23:00-05:00", "'9999-12-31T23:00-05:00' is past the calendar's end (year 9999) in UTC: give an earlier date or a duration")]
    [InlineData("expires", "9999-12-31T23:00:00-25:00", "'9999-12-31T23:00:00-25:00' is not a date (2027-01-31, 2027-01-31T12:00:00Z) or a duration (30d, 12h)")]
    public async Task CreateKey_UnusableExpiry_Returns422NamingTheFieldAndCreatesNoKey(string field, string value, string detail)
    {
        AssertData(await PostAsync("/users", new { email = "ann@example.com" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Post, "/keys", $$"""{"user": "ann@example.com", "{{field}}": "{{value}}"}""");
        var keys = await GetAsync("/keys");

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/" + field);
        Assert.Equal(detail, error.GetProperty("detail").GetString());
        Assert.Equal(0, AssertData(keys).GetArrayLength());
    }

    [Fact]
    public async Task CreateUser_NoPlanWhileNoPlanIsTheDefault_Returns422SayingToMarkOneWithoutNamingACliFlag()
    {
        // Arrange
        AssertData(await PatchAsync("/plans/free", new { is_default = false }));

        // Act
        var response = await PostAsync("/users", new { email = "ann@example.com" });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/plan");
        Assert.Equal("no plan given and no default plan exists: give a plan, or mark a plan as the default", error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task CreateUpstream_UrlWithCredentials_Returns422NamingTheAuthFieldsNotOnlyTheCliFlags()
    {
        // Act
        var response = await PostAsync("/upstreams", new { name = "creds", base_url = "http://ann:s3cret@127.0.0.1:1" });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/base_url");
        var detail = error.GetProperty("detail").GetString()!;
        Assert.EndsWith("put credentials in the upstream's auth type and value (auth_type/auth_value; CLI --auth-type/--auth-value), not in the URL", detail);
        Assert.DoesNotContain("s3cret", detail);
    }

    [Fact]
    public async Task UpdateUser_AddressStoredBeforeTheSpellingRulesSentBackUnchanged_OtherChangeApplied()
    {
        // Arrange: a user whose address (a fullwidth "ａ", U+FF41) was stored before new addresses had to be in NFKC
        var id = AssertData(await PostAsync("/users", new { email = "a@x.io" }), HttpStatusCode.Created).GetProperty("id").GetString()!;
        var user = (await Gateway.Store.FindUserAsync("a@x.io", CancellationToken.None))!;
        await Gateway.Store.UpdateUserAsync(user with { Email = "\uff41@x.io", UpdatedAt = user.UpdatedAt.AddSeconds(1) }, user.UpdatedAt, CancellationToken.None);

        // Act: read-modify-write sends the address back as read
        var response = await PatchAsync($"/users/{id}", new { email = "\uff41@x.io", name = "Ann" });

        // Assert
        var data = AssertData(response);
        Assert.Equal(("\uff41@x.io", "Ann"), (data.GetProperty("email").GetString(), data.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task CreateUser_EmailNotInNfkcBesideItsPlainForm_Returns422NamingThePlainFormAndCreatesNoUser()
    {
        // Arrange: a fullwidth "ａ" (U+FF41) reads as the "a" of an existing address
        AssertData(await PostAsync("/users", new { email = "a@x.io" }), HttpStatusCode.Created);

        // Act
        var response = await PostAsync("/users", new { email = "\uff41@x.io" });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/email");
        Assert.Equal("is not in Unicode normalization form NFKC (it has a look-alike character such as a fullwidth letter): write it as 'a@x.io'",
            error.GetProperty("detail").GetString());
        Assert.Equal("a@x.io", Assert.Single(AssertData(await GetAsync("/users")).EnumerateArray().ToList()).GetProperty("email").GetString());
    }

    [Fact]
    public async Task Create_BodyWrappedInData_PointersIncludeData()
    {
        var response = await SendAsync(HttpMethod.Post, "/users", """{"data": {"email": "nope"}}""");

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/data/email");
    }

    [Fact]
    public async Task Create_BodyWrappedInDataWithASibling_Returns422NamingTheSibling()
    {
        var response = await SendAsync(HttpMethod.Post, "/upstreams", $$"""{"data": {"name": "m5", "url": "{{Upstream.Url}}"}, "extra": 1}""");

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/extra");
        Assert.Contains("'extra' is not allowed beside data", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync("/upstreams")).GetArrayLength());
    }

    [Theory]
    [InlineData("/upstreams", "/name")]
    [InlineData("/routes", "/path")]
    [InlineData("/keys", "/user")]
    public async Task Create_EmptyBody_ReadsAsAnEmptyObjectAndNamesTheRequiredField(string path, string pointer)
    {
        var response = await SendAsync(HttpMethod.Post, path, "");

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.Equal(0, AssertData(await GetAsync(path)).GetArrayLength());
    }

    [Fact]
    public async Task Update_EmptyBody_ChangesNothingAndIsNotAServerError()
    {
        AssertData(await PostAsync("/plans", new { id = "pro", name = "Pro" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/plans/pro", "");

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("Pro", AssertData(await GetAsync("/plans/pro")).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Create_BodyNotUtf8_Returns400AndStoresNothing()
    {
        var (status, body) = await PostBytesAsync("/upstreams", [.. "{\"name\":\"m9"u8, 0xFF, .. "\",\"url\":\"http://127.0.0.1:1\"}"u8]);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not UTF-8 text", body, StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync("/upstreams")).GetArrayLength());
    }

    [Theory]
    [InlineData("requests_per_month", "9223372036854775808", "must be a whole number (at most 9223372036854775807)")]
    [InlineData("rate_limit_per_minute", "2147483648", "must be a whole number (at most 2147483647)")]
    public async Task CreatePlan_WholeNumberPastTheFieldsLargest_RefusedSayingTheLargest(string field, string number, string detail)
    {
        // Act: a whole number, only too large, so "must be a whole number" alone would say nothing
        var response = await PostAsync("/plans", $$"""{"name": "big", "{{field}}": {{number}}}""");

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/" + field);
        Assert.Equal(detail, error.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("price_monthly", "1e30", "must be a whole number of cents from 0 to 9223372036854775807: the monthly price (2900 = 29.00)")]
    [InlineData("price_monthly", "99999999999999999999", "must be a whole number of cents from 0 to 9223372036854775807: the monthly price (2900 = 29.00)")]
    [InlineData("price_monthly", "-1", "must be a whole number of cents from 0 to 9223372036854775807: the monthly price (2900 = 29.00)")]
    [InlineData("overage_price", "1e20", "must be a whole number of cents from 0 to 9223372036854775807: the price per unit past the quota (1 = 0.01; 0 = none)")]
    public async Task CreatePlan_PriceOutOfRange_RefusedNamingTheFieldItsUnitAndItsRange(string field, string number, string detail)
    {
        // Act
        var response = await PostAsync("/plans", $$"""{"name": "big", "{{field}}": {{number}}}""");

        // Assert: the pointer names the field; the detail its unit and range, however far out the number is
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/" + field);
        Assert.Equal(detail, error.GetProperty("detail").GetString());
        Assert.Equal(1, AssertData(await GetAsync("/plans")).GetArrayLength());
    }

    [Fact]
    public async Task CreatePlan_NameMakesTheIdOfAPlanThatExists_ConflictPointsAtTheNameSent()
    {
        // Arrange
        AssertData(await PostAsync("/plans", new { name = "Gold Plan" }), HttpStatusCode.Created);

        // Act
        var response = await PostAsync("/plans", new { name = "gold plan" });

        // Assert: no id was sent, so /id would point at nothing
        var error = AssertError(response, HttpStatusCode.Conflict, "conflict", pointer: "/name");
        Assert.Equal("a plan with id 'gold-plan' (made from the name) already exists; give this one another name or an id", error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task CreatePlan_NameWithNoLetterOrDigitToMakeAnIdFrom_RefusedPointingAtTheName()
    {
        // Act
        var response = await PostAsync("/plans", new { name = "\u2605\u2605" });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/name");
        Assert.Equal("'\u2605\u2605' has no letter or digit to make the plan's id from; give an id", error.GetProperty("detail").GetString());
        Assert.Equal(1, AssertData(await GetAsync("/plans")).GetArrayLength());
    }

    [Fact]
    public async Task Create_BodySentAsUtf16_Returns400SayingTheCharsetAndStoresNothing()
    {
        // Act
        var (status, body) = await PostBytesAsync("/plans", System.Text.Encoding.Unicode.GetBytes("""{"id": "pro", "name": "Pro"}"""), "application/json; charset=utf-16");

        // Assert: not the JSON reader's "'0x00' is an invalid start of a property name"
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("errors")[0];
        Assert.Equal("the request body is not valid JSON: it was sent as charset=utf-16, and JSON is read as UTF-8: send it in UTF-8", error.GetProperty("detail").GetString());
        Assert.Equal(1, AssertData(await GetAsync("/plans")).GetArrayLength());
    }

    [Theory]
    [InlineData("""{"id": "pro", "name": "Pro", "name": "Premium"}""", "name", "/name")]
    [InlineData("""{"data": {"type": "plans", "attributes": {"id": "pro", "name": "Pro", "name": "Premium"}}}""", "name", "/data/attributes/name")]
    public async Task Create_AMemberGivenTwice_Returns400NamingItWithAPointerAndStoresNothing(string json, string member, string pointer)
    {
        // Act
        var (status, body) = await PostBytesAsync("/plans", System.Text.Encoding.UTF8.GetBytes(json), "application/json");

        // Assert: not the JSON reader's own wording ("Duplicate property 'name' encountered during deserialization …")
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("errors")[0];
        Assert.Equal($"the request body is not valid JSON: the member '{member}' is given twice (which one counts would be a guess)", error.GetProperty("detail").GetString());
        Assert.Equal(pointer, error.GetProperty("source").GetProperty("pointer").GetString());
        Assert.Equal(1, AssertData(await GetAsync("/plans")).GetArrayLength());
    }

    [Fact]
    public async Task Create_MalformedBodyWithAQuotedUtf8Charset_RefusedForItsJsonNotNamedAsAnotherCharset()
    {
        // Act: charset="UTF-8" (quoted, another case) is UTF-8
        var (status, body) = await PostBytesAsync("/plans", """{"id": "pro",}"""u8.ToArray(), "application/json; charset=\"UTF-8\"");

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("errors")[0].GetProperty("detail").GetString()!;
        Assert.StartsWith("the request body is not valid JSON: ", detail);
        Assert.DoesNotContain("charset", detail);
    }

    [Fact]
    public async Task Create_BodyStartingWithAUtf8ByteOrderMark_ReadAsTheJsonAfterIt()
    {
        // Act: what Windows tools that write "UTF-8" files put in front (RFC 8259 lets a reader skip it)
        var (status, body) = await PostBytesAsync("/plans", [0xEF, 0xBB, 0xBF, .. """{"id": "pro", "name": "Pro"}"""u8]);

        // Assert
        Assert.True(status == HttpStatusCode.Created, body);
        Assert.Equal("Pro", AssertData(await GetAsync("/plans/pro")).GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("/upstreams", """{"name": "x", "url": "http://carol:S3cretPW3@127.0.0.1:99999"}""", "/url")]
    [InlineData("/upstreams", """{"name": "x", "url": "carol:S3cretPW3@127.0.0.1"}""", "/url")]
    [InlineData("/upstreams", """{"name": "x", "targets": ["http://u:S3cretPW3@127.0.0.1:99999"]}""", "/targets/0/url")]
    [InlineData("/upstreams", """{"name": "x", "targets": ["http://u:S3cretPW3@127.0.0.1:1,weight=abc"]}""", "/targets/0")]
    [InlineData("/upstreams", """{"name": "x", "targets": ["http://u:Pa,S3cretPW3@127.0.0.1:1"]}""", "/targets/0")]
    [InlineData("/webhooks", """{"url": "http://u:S3cretPW3@127.0.0.1:99999/h", "events": ["key.created"]}""", "/url")]
    [InlineData("/webhooks", """{"url": "gopher://u:S3cretPW3@127.0.0.1/h", "events": ["key.created"]}""", "/url")]
    public async Task Create_InvalidUrlWithAPassword_ErrorNeverRepeatsThePassword(string path, string body, string pointer)
    {
        var response = await SendAsync(HttpMethod.Post, path, body);

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.DoesNotContain("S3cretPW3", response.Raw, StringComparison.Ordinal);
        Assert.Contains("***@", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync(path)).GetArrayLength());
    }

    [Fact]
    public async Task Update_InvalidField_Returns422AndChangesNothing()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend" });

        var response = await PatchAsync("/routes/r", new { protocol = "gopher", priority = 9 });

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/protocol");
        Assert.Equal(0, AssertData(await GetAsync("/routes/r")).GetProperty("priority").GetInt32());
    }

    [Theory]
    [InlineData("""{"id": "gold", "name": "Renamed"}""", "/id")]
    [InlineData("""{"data": {"id": "gold", "name": "Renamed"}}""", "/data/id")]
    public async Task UpdatePlan_IdOtherThanTheUrls_Returns422AndChangesNothing(string body, string pointer)
    {
        AssertData(await PostAsync("/plans", new { id = "pro", name = "Pro" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/plans/pro", body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.Equal("Pro", AssertData(await GetAsync("/plans/pro")).GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/plans/gold")).Status);
    }

    [Theory]
    [InlineData("""{"auth_value": "new-secret"}""")]
    [InlineData("""{"auth_type": "none", "auth_value": "new-secret"}""")]
    public async Task UpdateUpstream_CredentialForAnUpstreamThatSendsNone_Returns422AndChangesNothing(string body)
    {
        AssertData(await PostAsync("/upstreams", new { name = "plain", url = Upstream.Url }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/upstreams/plain", body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/auth_value");
        Assert.False(AssertData(await GetAsync("/upstreams/plain")).GetProperty("auth_configured").GetBoolean());
    }

    [Fact]
    public async Task UpdateUpstream_SwitchedToNoneWithTheOldHeaderNameAndABlankValue_Accepted()
    {
        AssertData(await PostAsync("/upstreams", new { name = "secured", url = Upstream.Url, auth_type = "header", auth_header = "X-Backend-Token", auth_value = "s3cret" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/upstreams/secured", """{"auth_type": "none", "auth_value": "", "auth_header": "X-Backend-Token"}""");

        Assert.False(AssertData(response).GetProperty("auth_configured").GetBoolean());
    }

    [Theory]
    [InlineData("""{"value_type": "number"}""", "/value_type", "the default value 'true' is not a number; send a default_value that fits the new type with it")]
    [InlineData("""{"value_type": "number", "default_value": "yes"}""", "/default_value", "'yes' is not a number")]
    public async Task UpdateEntitlement_TypeTheStoredDefaultDoesNotFit_422AtTheFieldSentAndNothingChanged(string body, string pointer, string detail)
    {
        AssertData(await PostAsync("/entitlements", new { name = "beta", value_type = "boolean", default_value = "true" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/entitlements/beta", body);

        Assert.Equal(detail, AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer).GetProperty("detail").GetString());
        Assert.Equal("boolean", AssertData(await GetAsync("/entitlements/beta")).GetProperty("value_type").GetString());
    }

    [Theory]
    [InlineData("""{"headers": {"x-tier": "gold", "X-Tier": "silver"}}""")]
    [InlineData("""{"headers": ["x-tier=gold", "x-tier=silver"]}""")]
    public async Task UpdateRoute_HeaderGivenTwice_Returns422AndChangesNothing(string body)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        AssertData(await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend", headers = new { x_plan = "a" } }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/routes/r", body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/headers");
        Assert.Equal("""{"x_plan":"a"}""", AssertData(await GetAsync("/routes/r")).GetProperty("headers").GetRawText());
    }

    [Theory]
    [InlineData("request_transform", """{"headers":{"set":{"X-A":"1"}},"headers":{"set":{"X-B":"1"}}}""")]
    [InlineData("request_transform", """{"headers":{"set":{"X-A":"1","X-A":"2"}}}""")]
    [InlineData("request_transform", """{"conditions":[{"when":{"method":"POST","method":"GET"},"headers":{"set":{"X-A":"1"}}}]}""")]
    [InlineData("response_transform", """{"body":{"mask":["email"]},"body":{"remove":["secret"]}}""")]
    public async Task UpdateRoute_TransformWithAMemberGivenTwice_Returns422NamingTheFieldAndChangesNothing(string field, string transform)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        AssertData(await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend" }), HttpStatusCode.Created);
        var version = Gateway.Snapshots.Current!.Version;

        var response = await SendAsync(HttpMethod.Patch, "/routes/r", System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { [field] = transform }));

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/" + field);
        Assert.StartsWith(field + " is not valid JSON: Duplicate property", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("", AssertData(await GetAsync("/routes/r")).GetProperty(field).GetString());
        Assert.Equal(version, Gateway.Snapshots.Current!.Version);
    }

    [Theory]
    [InlineData("request_transform", """{"headers":{"set":{"Content-Length":"1"}}}""", "request_transform.headers: 'Content-Length'")]
    [InlineData("request_transform", """{"headers":{"add":{"transfer-encoding":"chunked"}}}""", "request_transform.headers: 'transfer-encoding'")]
    [InlineData("request_transform", """{"conditions":[{"when":{"method":"POST"},"headers":{"remove":["Content-Length"]}}]}""", "request_transform.conditions[0].headers: 'Content-Length'")]
    [InlineData("response_transform", """{"headers":{"set":{"Content-Length":"1"}}}""", "response_transform.headers: 'Content-Length'")]
    public async Task CreateRoute_TransformChangesTheBodysFraming_Returns422NamingTheFieldAndStoresNothing(string field, string transform, string detail)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        var response = await SendAsync(HttpMethod.Post, "/routes",
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["name"] = "r", ["path"] = "/a", ["upstream"] = "backend", [field] = transform }));

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/" + field);
        Assert.StartsWith(detail + " cannot be changed by a transform", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/routes/r")).Status);
    }

    [Theory]
    [InlineData("request_transform", """{"headers":{"set":{"X-Plan":"a","x-plan":"b"}}}""", "request_transform.headers.set: 'X-Plan' and 'x-plan'")]
    [InlineData("request_transform", """{"conditions":[{"when":{"method":"POST"},"headers":{"set":{"X-A":"1","x-A":"2"}}}]}""", "request_transform.conditions[0].headers.set: 'X-A' and 'x-A'")]
    [InlineData("response_transform", """{"headers":{"set":{"Cache-Control":"no-store","CACHE-CONTROL":"max-age=60"}}}""", "response_transform.headers.set: 'Cache-Control' and 'CACHE-CONTROL'")]
    public async Task CreateRoute_TransformSetsOneHeaderTwiceUnderNamesDifferingInCase_Returns422AndStoresNothing(string field, string transform, string detail)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        var response = await SendAsync(HttpMethod.Post, "/routes",
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["name"] = "r", ["path"] = "/a", ["upstream"] = "backend", [field] = transform }));

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/" + field);
        Assert.StartsWith(detail + " are the same header", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/routes/r")).Status);
    }

    [Fact]
    public async Task CreateRoute_TransformAddsOneHeaderUnderNamesDifferingInCase_IsAcceptedAsTwoValues()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        var response = await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend", request_transform = """{"headers":{"add":{"X-Tag":"a","x-tag":"b"}}}""" });

        AssertData(response, HttpStatusCode.Created);
    }

    [Fact]
    public async Task UnlinkIdentity_SubjectGivenTwice_Returns400AndUnlinksNothing()
    {
        AssertData(await PostAsync("/users", new { email = "u@example.com" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/users/u@example.com/identities", new { subject = "a,b", issuer = "https://idp.example.com" }), HttpStatusCode.Created);

        var response = await DeleteAsync("/users/u@example.com/identities?subject=a&subject=b&issuer=https://idp.example.com");

        AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter", parameter: "subject");
        Assert.Equal(1, AssertData(await GetAsync("/users/u@example.com/identities")).GetArrayLength());
    }

    [Theory]
    [InlineData("status=suspended", "status")]
    [InlineData("filter%5Bstatus%5D=suspended", "filter[status]")]
    [InlineData("sort=email", "sort")]
    [InlineData("q=ann&limit=1", "limit")]
    public async Task ListUsers_AQueryParameterTheListDoesNotRead_Returns400NamingItAndTheOnesItReads(string query, string parameter)
    {
        // Arrange
        AssertData(await PostAsync("/users", new { email = "ann@example.com" }), HttpStatusCode.Created);

        // Act
        var response = await GetAsync("/users?" + query);

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter", parameter: parameter);
        Assert.Equal($"unknown query parameter '{parameter}' (this endpoint reads: page[number], page[size], page[after], q)", error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task RevokeKey_WithAQueryParameter_Returns400SayingTheEndpointTakesNoneAndRevokesNothing()
    {
        // Arrange
        AssertData(await PostAsync("/users", new { email = "ann@example.com" }), HttpStatusCode.Created);
        var keyId = AssertData(await PostAsync("/keys", new { user = "ann@example.com" }), HttpStatusCode.Created).GetProperty("id").GetString();

        // Act
        var response = await DeleteAsync($"/keys/{keyId}?force=true");

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter", parameter: "force");
        Assert.Equal("unknown query parameter 'force' (this endpoint takes no query parameters)", error.GetProperty("detail").GetString());
        Assert.Equal(JsonValueKind.Null, AssertData(await GetAsync($"/keys/{keyId}")).GetProperty("revoked_at").ValueKind);
    }

    [Theory]
    [InlineData("=suspended")]
    [InlineData("q=ann&=")]
    public async Task ListUsers_AQueryParameterWithoutAName_Returns400SayingItHasNoNameWithoutItsValueOrASource(string query)
    {
        // Act
        var response = await GetAsync("/users?" + query);

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter");
        Assert.Equal("a query parameter has no name ('?=…'): name it or leave it out (this endpoint reads: page[number], page[size], page[after], q)", error.GetProperty("detail").GetString());
        Assert.False(error.TryGetProperty("source", out _), error.GetRawText());
    }

    [Theory]
    [InlineData("q=ann&Q=bob", "q")]
    [InlineData("Q=ann&q=bob", "q")] // the spelling the endpoint documents, wherever it is
    [InlineData("Page%5BSize%5D=1&PAGE%5Bsize%5D=2", "Page[Size]")] // neither documented: the first
    public async Task ListUsers_AParameterGivenInTwoSpellings_Returns400NamingTheDocumentedOrFirstSpelling(string query, string parameter)
    {
        // Act
        var response = await GetAsync("/users?" + query);

        // Assert
        var error = AssertError(response, HttpStatusCode.BadRequest, "invalid_parameter", parameter: parameter);
        Assert.Equal($"{parameter} is given more than once (query parameter names ignore case): give it once", error.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("q=ann")]
    [InlineData("status=suspended")]
    public async Task PutUsers_WithAQueryParameter_Returns405NamingTheAllowedMethodsNotAnUnknownParameter(string query)
    {
        // Arrange: /users is mapped for GET and POST only

        // Act
        var response = await SendAsync(HttpMethod.Put, "/users?" + query, new { });

        // Assert
        var error = AssertError(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        Assert.Equal("PUT is not allowed here (allowed: GET, HEAD, POST)", error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task ListUsers_AParameterItReadsWrittenInAnotherCase_IsReadAsThatParameter()
    {
        // Arrange
        AssertData(await PostAsync("/users", new { email = "ann@example.com" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/users", new { email = "bob@example.com" }), HttpStatusCode.Created);

        // Act
        var users = AssertData(await GetAsync("/users?Q=ann"));

        // Assert
        Assert.Equal("ann@example.com", Assert.Single(users.EnumerateArray()).GetProperty("email").GetString());
    }

    [Theory]
    [InlineData("""{"metering_expr": "units\u0000"}""")]
    [InlineData("""{"metering_mode": "bytes", "metering_expr": "\u0000"}""")]
    public async Task UpdateRoute_MeteringExprWithNulForAModeThatIgnoresIt_Returns422AndChangesNothing(string body)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        AssertData(await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/routes/r", body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/metering_expr");
        var route = AssertData(await GetAsync("/routes/r"));
        Assert.Equal(("request", ""), (route.GetProperty("metering_mode").GetString(), route.GetProperty("metering_expr").GetString()));
    }

    [Fact]
    public async Task UpdateRoute_MeteringExprReadingAnUndefinedName_Returns422NamingTheNameAndChangesNothing()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        AssertData(await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend" }), HttpStatusCode.Created);

        var response = await PatchAsync("/routes/r", new { metering_mode = "custom", metering_expr = "response.body.n * price" });

        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/metering_expr");
        Assert.StartsWith("the expression reads 'price', which a metering expression does not have", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var route = AssertData(await GetAsync("/routes/r"));
        Assert.Equal(("request", ""), (route.GetProperty("metering_mode").GetString(), route.GetProperty("metering_expr").GetString()));
    }

    [Fact]
    public async Task UpdatePlan_ItsOwnId_IsAccepted()
    {
        AssertData(await PostAsync("/plans", new { id = "pro", name = "Pro" }), HttpStatusCode.Created);

        var plan = AssertData(await PatchAsync("/plans/pro", new { id = "pro", name = "Renamed" }));

        Assert.Equal(("pro", "Renamed"), (plan.GetProperty("id").GetString(), plan.GetProperty("name").GetString()));
    }

    [Theory]
    [InlineData("""{"name": "x", "colour": "red"}""", "/colour")]
    [InlineData("""{"name": "x", "Name": "y"}""", "/Name")]
    [InlineData("""{"name": "x", "a/b~c": 1}""", "/a~1b~0c")]
    [InlineData("""{"name": "x", "a.b": 1}""", "/a.b")]
    [InlineData("""{"name": "x", "rate_limit_per_minute": "fast"}""", "/rate_limit_per_minute")]
    [InlineData("""{"name": "x", "enabled": "yes"}""", "/enabled")]
    [InlineData("""{"name": ["x"], "id": {"a": 1}}""", "/id")]
    public async Task Create_UnknownMemberOrWrongType_Returns422NamingTheMember(string body, string pointer)
    {
        var response = await SendAsync(HttpMethod.Post, "/plans", body);

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.Single(AssertData(await GetAsync("/plans")).EnumerateArray().ToList()); // only the built-in free plan
    }

    [Theory]
    [InlineData("{\"name\": ")]
    [InlineData("[1, 2]")]
    [InlineData("\"text\"")]
    [InlineData("{\"name\": \"a\", \"name\": \"b\"}")]
    public async Task Create_MalformedJson_Returns400(string body)
    {
        AssertError(await SendAsync(HttpMethod.Post, "/plans", body), HttpStatusCode.BadRequest, "bad_request");
    }

    [Theory]
    [InlineData("/upstreams", "url", "http://127.0.0.1:1/a\r\nb", "U+000D at position 21")]
    [InlineData("/upstreams", "url", "http://127.0.0.1:1/a b", "U+0020 at position 21")]
    [InlineData("/upstreams", "url", "http://127.0.0.1:1/a\tb", "U+0009 at position 21")]
    [InlineData("/webhooks", "url", "http://127.0.0.1:1/hook\nX-Injected: 1", "U+000A at position 24")]
    public async Task Create_UrlWithControlCharacterOrSpace_Returns422NamingThePosition(string path, string field, string url, string where)
    {
        var body = path == "/upstreams" ? (object)new { name = "u", url } : new { url, events = new[] { "test" } };

        var error = AssertError(await PostAsync(path, body), HttpStatusCode.UnprocessableEntity, "validation_error", "/" + field);

        Assert.Contains(where, error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync(path)).GetArrayLength());
    }

    [Theory]
    [InlineData("/upstreams", """{"name": "\ud800", "url": "http://127.0.0.1:1"}""")]
    [InlineData("/upstreams", """{"name": "u", "url": "http://127.0.0.1:1", "\udc00": 1}""")]
    [InlineData("/webhooks", """{"url": "http://127.0.0.1:1/hook", "events": ["\ud83d"]}""")]
    public async Task Create_LoneSurrogateEscapeAnywhere_Returns400NotAServerError(string path, string body)
    {
        var error = AssertError(await SendAsync(HttpMethod.Post, path, body), HttpStatusCode.BadRequest, "bad_request");

        Assert.Contains("lone surrogate", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync(path)).GetArrayLength());
    }

    [Theory]
    [InlineData("/upstreams", """{"name": "u", "url": "http://127.0.0.1:1"}""")]
    [InlineData("/plans", """{"id": "team", "name": "Team"}""")]
    [InlineData("/plans", "")]
    public async Task Create_NoContentType_Returns415AndWritesNothing(string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/admin" + path) { Content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(body)) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        Assert.Null(request.Content.Headers.ContentType);

        using var response = await Gateway.Client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var error = System.Text.Json.JsonDocument.Parse(raw).RootElement.GetProperty("errors")[0];
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Contains("Content-Type: application/json", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, AssertData(await GetAsync("/upstreams")).GetArrayLength());
        Assert.DoesNotContain("\"team\"", (await GetAsync("/plans")).Raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_TextPlainContentType_Returns415()
    {
        var created = AssertData(await PostAsync("/plans", new { id = "team", name = "Team" }), HttpStatusCode.Created);

        var response = await SendAsync(HttpMethod.Patch, "/plans/team", """{"name": "Renamed"}""", contentType: "text/plain");

        Assert.Equal("team", created.GetProperty("id").GetString());
        AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("Team", AssertData(await GetAsync("/plans/team")).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Create_NotJsonContentType_Returns415()
    {
        var response = await SendAsync(HttpMethod.Post, "/plans", "name=x", contentType: "application/x-www-form-urlencoded");

        AssertError(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task Create_JsonApiContentType_IsAccepted()
    {
        var response = await SendAsync(HttpMethod.Post, "/plans", """{"id": "team", "name": "Team"}""", contentType: "application/vnd.api+json");

        Assert.Equal("team", AssertData(response, HttpStatusCode.Created).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("/upstreams/nope")]
    [InlineData("/routes/nope")]
    [InlineData("/users/nobody@example.com")]
    [InlineData("/plans/nope")]
    [InlineData("/keys/nope")]
    [InlineData("/entitlements/nope")]
    [InlineData("/plan-entitlements/nope")]
    [InlineData("/plans/nope/entitlements")]
    public async Task Get_UnknownId_Returns404(string path)
    {
        AssertError(await GetAsync(path), HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("PATCH", "/upstreams/nope")]
    [InlineData("PUT", "/routes/nope")]
    [InlineData("PATCH", "/users/nope")]
    [InlineData("DELETE", "/plans/nope")]
    [InlineData("DELETE", "/entitlements/nope")]
    [InlineData("DELETE", "/plan-entitlements/nope")]
    [InlineData("POST", "/routes/nope/enable")]
    [InlineData("POST", "/users/nope/deactivate")]
    [InlineData("POST", "/plans/nope/disable")]
    [InlineData("POST", "/keys/nope/revoke")]
    public async Task Change_UnknownId_Returns404(string method, string path)
    {
        var response = await SendAsync(new HttpMethod(method), path, method is "PATCH" or "PUT" ? new { name = "x" } : null);

        AssertError(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task UnknownPath_Returns404Document()
    {
        AssertError(await GetAsync("/widgets"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Create_DuplicateNames_Return409()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        await PostAsync("/routes", new { name = "r", path = "/a" });
        await PostAsync("/users", new { email = "taken@example.com" });
        await PostAsync("/entitlements", new { name = "flag" });

        AssertError(await PostAsync("/upstreams", new { name = "Backend", url = Upstream.Url }), HttpStatusCode.Conflict, "conflict", "/name");
        AssertError(await PostAsync("/routes", new { name = "r", path = "/b" }), HttpStatusCode.Conflict, "conflict", "/name");
        AssertError(await PostAsync("/users", new { email = "TAKEN@example.com" }), HttpStatusCode.Conflict, "conflict", "/email");
        AssertError(await PostAsync("/plans", new { id = "free", name = "Again" }), HttpStatusCode.Conflict, "conflict");
        AssertError(await PostAsync("/entitlements", new { name = "flag" }), HttpStatusCode.Conflict, "conflict", "/name");
        await PostAsync("/plan-entitlements", new { plan = "free", entitlement = "flag", value = "true" });
        AssertError(await PostAsync("/plan-entitlements", new { plan = "free", entitlement = "flag", value = "false" }), HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task Update_ToDuplicateEmail_Returns409()
    {
        await PostAsync("/users", new { email = "one@example.com" });
        await PostAsync("/users", new { email = "two@example.com" });

        AssertError(await PatchAsync("/users/two@example.com", new { email = "one@example.com" }), HttpStatusCode.Conflict, "conflict", "/email");
    }

    [Fact]
    public async Task Delete_PlanInUse_Returns409AndKeepsThePlan()
    {
        await PostAsync("/plans", new { id = "pro", name = "Pro" });
        await PostAsync("/users", new { email = "user@example.com", plan = "pro" });

        AssertError(await DeleteAsync("/plans/pro"), HttpStatusCode.Conflict, "conflict");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/plans/pro")).Status);
    }

    [Fact]
    public async Task Delete_UpstreamUsedByRoute_Returns409AndKeepsTheUpstream()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        await PostAsync("/routes", new { name = "r", path = "/a", upstream = "backend" });

        var response = await DeleteAsync("/upstreams/backend");

        var error = AssertError(response, HttpStatusCode.Conflict, "conflict");
        Assert.Contains("r", error.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/upstreams/backend")).Status);
    }

    [Theory]
    [InlineData("/usage/summary", "user", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/usage/summary?user=ghost@example.com", "user", HttpStatusCode.NotFound, "not_found")]
    [InlineData("/usage/history?user=u@example.com&months=abc", "months", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/usage/history?user=u@example.com&months=0", "months", HttpStatusCode.UnprocessableEntity, "validation_error")]
    [InlineData("/usage/recent?user=u@example.com&limit=10001", "limit", HttpStatusCode.UnprocessableEntity, "validation_error")]
    [InlineData("/audit?limit=0", "limit", HttpStatusCode.UnprocessableEntity, "validation_error")]
    [InlineData("/audit?limit=many", "limit", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/audit?limit=99999999999", "limit", HttpStatusCode.UnprocessableEntity, "validation_error")]
    [InlineData("/usage/history?user=u@example.com&months=-99999999999", "months", HttpStatusCode.UnprocessableEntity, "validation_error")]
    [InlineData("/keys?user=ghost@example.com", "user", HttpStatusCode.NotFound, "not_found")]
    [InlineData("/plan-entitlements?plan=ghost", "plan", HttpStatusCode.NotFound, "not_found")]
    [InlineData("/keys?user=u@example.com&user=v@example.com", "user", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/users?q=u&q=v", "q", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/plan-entitlements?plan=free&plan=pro", "plan", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/usage/summary?user=u@example.com&user=u@example.com", "user", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/usage/recent?user=u@example.com&limit=5&limit=6", "limit", HttpStatusCode.BadRequest, "invalid_parameter")]
    // int.TryParse reads trailing NULs as the end of the text: these were taken as 5.
    [InlineData("/audit?limit=5%00", "limit", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/usage/history?user=u@example.com&months=5%00%00", "months", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/users?page[size]=5%00", "page[size]", HttpStatusCode.BadRequest, "invalid_parameter")]
    [InlineData("/keys?page[number]=2%00", "page[number]", HttpStatusCode.BadRequest, "invalid_parameter")]
    public async Task Query_BadParameter_NamesTheParameter(string path, string parameter, HttpStatusCode status, string code)
    {
        await PostAsync("/users", new { email = "u@example.com" });

        AssertError(await GetAsync(path), status, code, parameter: parameter);
    }

    [Theory]
    [InlineData("/keys?user=", "user", "no user with id or email ''")]
    [InlineData("/keys?user=&page[size]=1", "user", "no user with id or email ''")]
    [InlineData("/plan-entitlements?plan=", "plan", "no plan with id ''")]
    public async Task Query_FilterGivenEmpty_IsNotFoundAsInTheCliRatherThanTheWholeCollection(string path, string parameter, string detail)
    {
        // Arrange: keys of two users and a plan value, which ?user= and ?plan= (a script's unset variable) listed all of
        await PostAsync("/users", new { email = "u@example.com" });
        await PostAsync("/users", new { email = "v@example.com" });
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/keys", new { user = "u@example.com" })).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/keys", new { user = "v@example.com" })).Status);
        await PostAsync("/entitlements", new { name = "webhooks" });
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/plan-entitlements", new { plan = "free", entitlement = "webhooks", value = "true" })).Status);

        // Act
        var response = await GetAsync(path);

        // Assert
        var error = AssertError(response, HttpStatusCode.NotFound, "not_found", parameter: parameter);
        Assert.Equal(detail, error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Refusal_QuotingAKeyTokenOrWebhookSecretSentWhereAnIdBelongs_ShowsOnlyItsPrefix()
    {
        // Arrange: a key, the admin token and a webhook secret pasted where an id, email or path belongs
        const string key = "ak_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        const string webhookSecret = "whsec_BzC2e+iHRafUXCxnWvTxl8TI3Wpx=";

        // Act
        var keyById = await GetAsync("/keys/" + key);
        var userByToken = await DeleteAsync("/users/" + Token);
        var keyForKey = await PostAsync("/keys", new { user = key });
        var pathOfKey = await GetAsync("/" + key);
        var webhookBySecret = await GetAsync("/webhooks/" + webhookSecret);

        // Assert
        Assert.Equal("no key with id 'ak_012345678***'", AssertError(keyById, HttpStatusCode.NotFound, "not_found").GetProperty("detail").GetString());
        Assert.Equal($"no user with id or email '{Token[..12]}***'", AssertError(userByToken, HttpStatusCode.NotFound, "not_found").GetProperty("detail").GetString());
        Assert.Equal("unknown user 'ak_012345678***'", AssertError(keyForKey, HttpStatusCode.UnprocessableEntity, "validation_error", "/user").GetProperty("detail").GetString());
        Assert.Equal("no admin endpoint at GET /admin/ak_012345678***", AssertError(pathOfKey, HttpStatusCode.NotFound, "not_found").GetProperty("detail").GetString());
        Assert.Equal("no webhook with id 'whsec_***'", AssertError(webhookBySecret, HttpStatusCode.NotFound, "not_found").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Refusal_NamingAKeyOrTokenSentAsAMemberOrParameterName_SourceShowsOnlyItsPrefix()
    {
        // Arrange: a key and the admin token pasted where a member name or a query parameter name belongs
        const string key = "ak_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        // Act
        var member = await PostAsync("/upstreams", $"{{\"{Token}\": 1}}");
        var nested = await PostAsync("/upstreams", $"{{\"name\": \"n\", \"url\": \"http://127.0.0.1:1\", \"health_check\": {{\"{key}\": 1}}}}");
        var wrapped = await PostAsync("/upstreams", $"{{\"data\": {{\"{key}\": 1}}}}");
        var parameter = await GetAsync("/upstreams?" + Token);

        // Assert: the pointer and the parameter name it as the detail does, never whole
        Assert.Equal("/" + Token[..12] + "***", AssertError(member, HttpStatusCode.UnprocessableEntity, "validation_error").GetProperty("source").GetProperty("pointer").GetString());
        Assert.Equal("/health_check/ak_012345678***", AssertError(nested, HttpStatusCode.UnprocessableEntity, "validation_error").GetProperty("source").GetProperty("pointer").GetString());
        Assert.Equal("/data/ak_012345678***", AssertError(wrapped, HttpStatusCode.UnprocessableEntity, "validation_error").GetProperty("source").GetProperty("pointer").GetString());
        Assert.Equal(Token[..12] + "***…", AssertError(parameter, HttpStatusCode.BadRequest, "invalid_parameter").GetProperty("source").GetProperty("parameter").GetString());
        foreach (var response in new[] { member, nested, wrapped, parameter })
        {
            Assert.DoesNotContain(Token[12..40], response.Raw, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(key[12..40], response.Raw, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Patch_BodyWithAContentEncoding_Is415NamingItAndChangesNothing(bool compressed)
    {
        // Arrange: the body gzip-compressed, or plain JSON that a client or proxy labelled as compressed
        var json = """{"name": "Zipped"}"""u8.ToArray();
        using var zipped = new MemoryStream();
        await using (var gzip = new System.IO.Compression.GZipStream(zipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(json);
        }

        using var request = new HttpRequestMessage(HttpMethod.Patch, Gateway.Url + "/admin/plans/free");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        request.Content = new ByteArrayContent(compressed ? zipped.ToArray() : json);
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Content.Headers.ContentEncoding.Add("gzip");

        // Act
        using var response = await Gateway.Client.SendAsync(request);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var plan = AssertData(await GetAsync("/plans/free"));

        // Assert
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray().ToList());
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Equal("send the body uncompressed: the admin API does not read Content-Encoding: gzip", error.GetProperty("detail").GetString());
        Assert.Equal("identity", response.Headers.GetValues("Accept-Encoding").Single());
        Assert.Equal("Free", plan.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Entitlement_NamedAsAnotherEntitlementsId_Is422AndTheIdStillFindsOnlyThatOne()
    {
        // Arrange: entitlements are found by id or name, the id first
        var other = AssertData(await PostAsync("/entitlements", new { name = "max_projects" }), HttpStatusCode.Created).GetProperty("id").GetString()!;
        AssertData(await PostAsync("/entitlements", new { name = "webhooks" }), HttpStatusCode.Created);

        // Act
        var created = await PostAsync("/entitlements", new { name = other, value_type = "string" });
        var renamed = await PatchAsync("/entitlements/webhooks", new { name = other });
        var found = AssertData(await GetAsync("/entitlements/" + other));

        // Assert
        var expected = $"'{other}' has the form of an entitlement id (ent_ and 16 hex digits), and an entitlement is found by id or name: choose another name";
        Assert.Equal(expected, AssertError(created, HttpStatusCode.UnprocessableEntity, "validation_error", "/name").GetProperty("detail").GetString());
        Assert.Equal(expected, AssertError(renamed, HttpStatusCode.UnprocessableEntity, "validation_error", "/name").GetProperty("detail").GetString());
        Assert.Equal("max_projects", found.GetProperty("name").GetString());
        Assert.Equal(2, AssertData(await GetAsync("/entitlements")).GetArrayLength());
    }

    [Fact]
    public async Task Write_NameWhoseSlugAnotherRowHas_Is409NamingTheSlugAndThatRow()
    {
        // Arrange
        AssertData(await PostAsync("/upstreams", new { name = "Users API", url = "http://127.0.0.1:1" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "Users API", path = "/users" }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "orders", path = "/orders" }), HttpStatusCode.Created);

        // Act: names no row has, but whose slug one has
        var upstream = await PostAsync("/upstreams", new { name = "users-api!", url = "http://127.0.0.1:2" });
        var route = await PatchAsync("/routes/orders", new { name = "Üsers  API" });

        // Assert
        Assert.Equal(
            "the name 'users-api!' makes the slug 'users-api', which upstream 'Users API' has: choose a name that differs from it in more than case, accents and punctuation",
            AssertError(upstream, HttpStatusCode.Conflict, "conflict", "/name").GetProperty("detail").GetString());
        Assert.Equal(
            "the name 'Üsers  API' makes the slug 'users-api', which route 'Users API' has: choose a name that differs from it in more than case, accents and punctuation",
            AssertError(route, HttpStatusCode.Conflict, "conflict", "/name").GetProperty("detail").GetString());
    }

    /// <summary>Posts <paramref name="body"/> as sent, bytes and Content-Type unchecked by the client.</summary>
    private async Task<(HttpStatusCode Status, string Body)> PostBytesAsync(string path, byte[] body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/admin" + path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        request.Content = new ByteArrayContent(body);
        Assert.True(request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType));
        using var response = await Gateway.Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
