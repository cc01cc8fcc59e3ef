using System.Net;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Transforms;

public sealed class TransformTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options)
    {
        options.TransformMaxBodyBytes = 64 * 1024;
        options.TransformEnvAllow = "APIGATE_TEST_REGION";
        Environment.SetEnvironmentVariable("APIGATE_TEST_REGION", "eu-west");
        Environment.SetEnvironmentVariable("APIGATE_TEST_SECRET", "must-not-leak");
    }

    private protected override Task SetUpAsync() => Gateway.AddUpstreamAsync("backend", Upstream.Url);

    [Fact]
    public async Task RequestHeaders_AddSetRemove_WithVariables()
    {
        await AddRouteAsync("""
            {"headers":{"add":{"X-Source":"apigate","X-Trace":"${request_id}","X-Region":"${env.APIGATE_TEST_REGION}","X-Leak":"${env.APIGATE_TEST_SECRET}","X-Copy":"${header.X-Original}"},
                        "set":{"Accept":"application/json"},"remove":["Cookie"]}}
            """);
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/t/x");
        request.Headers.Add("Cookie", "session=1");
        request.Headers.Add("Accept", "text/html");
        request.Headers.Add("X-Original", "copied");
        request.Headers.Add("X-Request-ID", "rid-1");

        await Gateway.Client.SendAsync(request);

        var received = Upstream.Received.Last().Headers;
        Assert.Equal(["apigate"], received["X-Source"]);
        Assert.Equal(["rid-1"], received["X-Trace"]);
        Assert.Equal(["eu-west"], received["X-Region"]);
        Assert.Equal([""], received["X-Leak"]); // not on the allow-list: empty, never the value
        Assert.Equal(["copied"], received["X-Copy"]);
        Assert.Equal(["application/json"], received["Accept"]);
        Assert.False(received.ContainsKey("Cookie"));
    }

    [Fact]
    public async Task RequestHeaders_SetAndRemoveContentType_ChangeTheBodysHeadersAndForward()
    {
        // Content-Type describes the body: it is changed on the request's content, where the HTTP client keeps it.
        await AddRouteAsync("""{"headers":{"set":{"Content-Type":"application/vnd.example+json"}},"conditions":[{"when":{"method":"PUT"},"headers":{"remove":["Content-Type"]}}]}""");

        using var posted = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body", new StringContent("{\"a\":1}", Encoding.UTF8, "text/plain"));
        using var put = await Gateway.Client.PutAsync(Gateway.Url + "/t/echo-body", new StringContent("{\"a\":1}", Encoding.UTF8, "text/plain"));
        using var got = await Gateway.Client.GetAsync(Gateway.Url + "/t/echo-body");

        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        var echo = JsonDocument.Parse(await posted.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("application/vnd.example+json", echo.GetProperty("content_type").GetString());
        Assert.Equal("{\"a\":1}", echo.GetProperty("body").GetString());
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(await put.Content.ReadAsStringAsync()).RootElement.GetProperty("content_type").ValueKind);
        Assert.Equal(HttpStatusCode.OK, got.StatusCode); // no body: nothing to describe
    }

    [Theory]
    [InlineData("""{"headers":{"set":{"Content-Length":"1"}}}""", null)]
    [InlineData("""{"headers":{"remove":["Content-Length"]}}""", null)]
    [InlineData("""{"headers":{"add":{"Transfer-Encoding":"chunked"}}}""", null)]
    [InlineData(null, """{"headers":{"set":{"Content-Length":"1"}}}""")]
    public async Task FramingHeaderOperation_StoredBeforeItWasRefused_LeftOutAndTheExchangeIsWhole(string? request, string? response)
    {
        // Written past validation, as a route stored by an older build would be.
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", CancellationToken.None))!;
        await Gateway.Store.CreateRouteAsync(new Core.Routing.RouteDefinition
        {
            Id = "rt_framing", Name = "t", Slug = "t", PathPattern = "/t/*", UpstreamId = backend.Id, AuthRequired = false,
            RequestTransform = request ?? "", ResponseTransform = response ?? "", CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);
        await Gateway.ReloadAsync();

        using var posted = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body", new StringContent("{\"a\":1}", Encoding.UTF8, "application/json"));

        Assert.Equal(0, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        var echo = JsonDocument.Parse(await posted.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("{\"a\":1}", echo.GetProperty("body").GetString());
        Assert.Equal(7, echo.GetProperty("content_length").GetInt64());
    }

    [Fact]
    public async Task Query_AddAndRemove()
    {
        await AddRouteAsync("""{"query":{"add":{"format":"json"},"remove":["debug"]}}""");

        await Gateway.Client.GetAsync(Gateway.Url + "/t/x?debug=1&keep=2");

        Assert.Equal("?keep=2&format=json", Upstream.Received.Last().Query);
    }

    [Fact]
    public async Task Query_KeyInQueryOnAuthenticatedRoute_TransformKeptAndKeyRemoved()
    {
        // Arrange: the key travels in ?api_key; the route also transforms the query.
        await Gateway.StopAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.AuthAllowQueryKey = true);
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.AddRouteAsync(new RouteInput
        {
            Name = "t", Path = "/t/*", Upstream = "backend", AuthRequired = true,
            RequestTransform = """{"query":{"add":{"format":"json"},"remove":["debug"]}}""",
        });
        var (key, _, _) = await gateway.CreateKeyAsync("query@example.com");

        // Act
        var response = await gateway.Client.GetAsync(gateway.Url + "/t/x?debug=1&api_key=" + key + "&keep=2");

        // Assert: both the transform's changes and the key's removal reach the upstream.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("?keep=2&format=json", Upstream.Received.Last().Query);
    }

    [Fact]
    public async Task Query_KeyInQuery_RemovedAndTheRestForwardedByteForByte()
    {
        // Arrange: the key travels in ?api_key; the route does not transform the query.
        await Gateway.StopAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.AuthAllowQueryKey = true);
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "t", Path = "/t/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("query-bytes@example.com");

        // Act: parameters a re-encoding would change (a name without '=', '+', bytes that are not UTF-8, '%7e').
        var response = await RawHttp.GetAsync(gateway.Url, "/t/x?flag&q=a+b&api_key=" + key + "&sig=%FF%FE&t=%7e");

        // Assert: the key is gone and every other byte is as sent.
        Assert.Equal(200, response.Status);
        Assert.Equal("?flag&q=a+b&sig=%FF%FE&t=%7e", Upstream.Received.Last().Query);
    }

    [Fact]
    public async Task RequestTransformWritingTheIdentityHeaders_StoredOnAnAuthenticatedRoute_BackendGetsOnlyTheGatewaysValues()
    {
        // Arrange: a transform that sets, adds to and copies a client header into the headers that say who is calling,
        // written past validation, as a route stored by an older build would be.
        Assert.True((await Gateway.Entitlements.CreateAsync(
            new EntitlementChanges { Name = "tier", ValueType = Core.Entitlements.EntitlementValueType.String, DefaultValue = "basic" }, CancellationToken.None)).Ok);
        await StoreRouteAsync(authRequired: true,
            """{"headers":{"set":{"X-User-ID":"${header.X-Claimed}","X-Plan-ID":"enterprise"},"add":{"X-Key-ID":"key_other","X-Entitlement-Tier":"gold"}}}""");
        var (key, user, record) = await Gateway.CreateKeyAsync("identity@example.com");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/x", "X-API-Key: " + key, "X-Claimed: usr_admin");

        // Assert: the gateway's values replace the transform's instead of joining them (a backend reads the first value).
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last().Headers;
        Assert.Equal([user.Id], received["X-User-ID"]);
        Assert.Equal([record.Id], received["X-Key-ID"]);
        Assert.Equal([user.PlanId], received["X-Plan-ID"]);
        Assert.Equal(["basic"], received["X-Entitlement-Tier"]);
    }

    [Theory]
    [InlineData("set", "X-User-ID")]
    [InlineData("add", "x-plan-id")]
    [InlineData("set", "X-Key-ID")]
    [InlineData("add", "X-Entitlement-Premium")]
    public async Task IdentityHeader_InARequestTransform_IsRefusedByTheAdminApiPointingAtTheTransform(string operation, string name)
    {
        // Arrange: a public route, where the gateway sets no identity header of its own that would replace the value
        var token = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("tests", CancellationToken.None)).Value!.Token;
        var body = new { name = "forge", path = "/forge/*", upstream = "backend", request_transform = "{\"headers\":{\"" + operation + "\":{\"" + name + "\":\"${header.X-Claimed}\"}}}" };

        // Act
        var response = await Admin.AdminTestBase.SendAsync(Gateway, token, HttpMethod.Post, "/routes", body);

        // Assert
        var error = Admin.AdminTestBase.AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/request_transform");
        Assert.Equal($"request_transform.headers: '{name}' is an identity header; the gateway sets X-User-ID, X-Key-ID, X-Plan-ID and X-Entitlement-* itself, "
            + "and a transform may not add or set them (on a public route the backend would take the transform's value for the caller)", error.GetProperty("detail").GetString());
        Assert.Null(await Gateway.Store.FindRouteAsync("forge", CancellationToken.None));
    }

    [Fact]
    public async Task IdentityHeader_InARequestTransformsCondition_IsRefusedByTheCliNamingTheFlag_ExitCode2()
    {
        // Act
        var result = await Gateway.CliAsync("routes", "create", "--name", "forge", "--path", "/forge/*", "--upstream", "backend",
            "--request-transform", """{"conditions":[{"when":{"method":"GET"},"headers":{"set":{"X-User-ID":"${header.X-Claimed}"}}}]}""");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: --request-transform: request_transform.conditions[0].headers: 'X-User-ID' is an identity header; "
            + "the gateway sets X-User-ID, X-Key-ID, X-Plan-ID and X-Entitlement-* itself, and a transform may not add or set them", result.Error);
        Assert.Null(await Gateway.Store.FindRouteAsync("forge", CancellationToken.None));
    }

    [Fact]
    public async Task IdentityHeader_StoredBeforeItWasRefusedOnAPublicRoute_RouteServesWithoutThatOperation()
    {
        // Arrange: written past validation, as a route stored by an older build would be
        await StoreRouteAsync(authRequired: false,
            """{"headers":{"set":{"X-User-ID":"${header.X-Claimed}","X-Kept":"yes"},"add":{"X-Plan-ID":"enterprise","X-Entitlement-Premium":"true"}}}""");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/x", "X-Claimed: usr_admin");
        var validated = await Gateway.CliAsync("config", "validate");

        // Assert: the config loads, the route serves, the client chose no identity; config validate says what was left out
        Assert.Equal(0, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last().Headers;
        Assert.Equal(["yes"], received["X-Kept"]);
        Assert.False(received.ContainsKey("X-User-ID"));
        Assert.False(received.ContainsKey("X-Plan-ID"));
        Assert.False(received.ContainsKey("X-Entitlement-Premium"));
        Assert.Equal(0, validated.ExitCode);
        Assert.Contains("warning: route 't': request_transform: request_transform.headers: 'X-User-ID' is an identity header; ", validated.Error);
        Assert.Contains("(stored before that rule): the gateway leaves that operation out", validated.Error);
    }

    private const string HopByHopRule = "is a hop-by-hop header; Connection, Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade describe "
        + "one connection, which the gateway manages itself, and a transform may not add or set them (Connection would make the "
        + "receiver drop the headers it names)";

    [Theory]
    [InlineData("request_transform", """{"headers":{"set":{"Connection":"X-User-ID"}}}""", "request_transform.headers", "Connection")]
    [InlineData("request_transform", """{"headers":{"add":{"upgrade":"h2c"}}}""", "request_transform.headers", "upgrade")]
    [InlineData("request_transform", """{"conditions":[{"when":{"method":"GET"},"headers":{"set":{"TE":"trailers"}}}]}""", "request_transform.conditions[0].headers", "TE")]
    [InlineData("request_transform", """{"headers":{"add":{"Proxy-Connection":"keep-alive"}}}""", "request_transform.headers", "Proxy-Connection")]
    [InlineData("response_transform", """{"headers":{"set":{"Keep-Alive":"timeout=600"}}}""", "response_transform.headers", "Keep-Alive")]
    [InlineData("response_transform", """{"headers":{"add":{"Trailer":"X-Checksum"}}}""", "response_transform.headers", "Trailer")]
    public async Task HopByHopHeader_AddedOrSetInATransform_IsRefusedByTheAdminApiPointingAtTheTransform(string field, string transform, string block, string name) =>
        await AssertTransformRefusedAsync(field, transform, $"{block}: '{name}' {HopByHopRule}");

    [Theory]
    [InlineData("--request-transform", """{"headers":{"set":{"Connection":"X-User-ID"}}}""", "request_transform.headers", "Connection")]
    [InlineData("--response-transform", """{"headers":{"set":{"Upgrade":"websocket"}}}""", "response_transform.headers", "Upgrade")]
    public async Task HopByHopHeader_AddedOrSetInATransform_IsRefusedByTheCliNamingTheFlag_ExitCode2(string flag, string transform, string block, string name)
    {
        // Act
        var result = await Gateway.CliAsync("routes", "create", "--name", "hop", "--path", "/hop/*", "--upstream", "backend", flag, transform);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"error: {flag}: {block}: '{name}' {HopByHopRule}", result.Error);
        Assert.Null(await Gateway.Store.FindRouteAsync("hop", CancellationToken.None));
    }

    [Fact]
    public async Task HopByHopHeader_RemovedInATransform_IsAccepted()
    {
        // Act
        var result = await Gateway.CliAsync("routes", "create", "--name", "hop", "--path", "/hop/*", "--upstream", "backend",
            "--request-transform", """{"headers":{"remove":["Connection","Upgrade","TE"]}}""", "--response-transform", """{"headers":{"remove":["Keep-Alive"]}}""");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.NotNull(await Gateway.Store.FindRouteAsync("hop", CancellationToken.None));
    }

    [Fact]
    public async Task HopByHopHeader_StoredBeforeItWasRefused_RouteServesWithoutThoseOperations()
    {
        // Arrange: written past validation, as a route stored by an older build would be; Connection names the header the
        // transform also sets, which a compliant upstream would then drop.
        await StoreRouteAsync(authRequired: false,
            """{"headers":{"set":{"Connection":"X-Kept","X-Kept":"yes","Upgrade":"h2c"},"add":{"TE":"trailers","Keep-Alive":"timeout=600","Proxy-Connection":"keep-alive","Trailer":"X-Checksum"}}}""",
            """{"headers":{"set":{"Keep-Alive":"timeout=600","X-Served":"yes"},"add":{"Upgrade":"h2c","Trailer":"X-Checksum","Proxy-Connection":"keep-alive"}}}""");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/x");
        var validated = await Gateway.CliAsync("config", "validate");

        // Assert: the config loads and the route serves; neither the upstream nor the client gets a hop-by-hop field from
        // the transform; config validate says what was left out
        Assert.Equal(0, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last().Headers;
        Assert.Equal(["yes"], received["X-Kept"]);
        string[] hopByHop = ["Connection", "Upgrade", "TE", "Keep-Alive", "Proxy-Connection", "Trailer"];
        Assert.DoesNotContain(hopByHop, received.ContainsKey);
        Assert.Equal("yes", response.Headers["X-Served"]);
        Assert.DoesNotContain(["Keep-Alive", "Upgrade", "Trailer", "Proxy-Connection"], response.Headers.ContainsKey); // the server writes its own Connection
        Assert.Equal(0, validated.ExitCode);
        Assert.Contains($"warning: route 't': request_transform: request_transform.headers: 'Connection' {HopByHopRule} "
            + "(stored before that rule): the gateway leaves that operation out", validated.Error);
        Assert.Contains($"warning: route 't': response_transform: response_transform.headers: 'Keep-Alive' {HopByHopRule} "
            + "(stored before that rule): the gateway leaves that operation out", validated.Error);
    }

    [Theory]
    [InlineData("request_transform", """{"headers":{"set":{"X-Tenant":"a\u0000b"}}}""", "request_transform.headers.set.X-Tenant", "U+0000 at position 2")]
    [InlineData("request_transform", """{"headers":{"add":{"X-Tenant":"\u001b[31m${header.X-Claimed}"}}}""", "request_transform.headers.add.X-Tenant", "U+001B at position 1")]
    [InlineData("request_transform", """{"conditions":[{"when":{"method":"GET"},"headers":{"set":{"X-Tenant":"ab\u007f"}}}]}""", "request_transform.conditions[0].headers.set.X-Tenant", "U+007F at position 3")]
    [InlineData("response_transform", """{"headers":{"set":{"X-Served-By":"a\u0085"}}}""", "response_transform.headers.set.X-Served-By", "U+0085 at position 2")]
    public async Task HeaderValueWithAControlCharacter_InATransform_IsRefusedByTheAdminApiPointingAtTheTransform(string field, string transform, string operation, string character) =>
        await AssertTransformRefusedAsync(field, transform, $"{operation}: header values cannot contain control characters ({character})");

    [Theory]
    [InlineData("""{"headers":{"set":{"X-Served-By":"Ren\u00e9"}}}""", "response_transform.headers.set.X-Served-By", "U+00E9 at position 4")]
    [InlineData("""{"headers":{"add":{"X-Mood":"\t\ud83d\ude00"}}}""", "response_transform.headers.add.X-Mood", "U+1F600 at position 2")]
    public async Task ResponseHeaderValueOutsideAscii_InAResponseTransform_IsRefusedByTheAdminApi(string transform, string operation, string character) =>
        await AssertTransformRefusedAsync("response_transform", transform,
            $"{operation}: a response header value can hold only ASCII characters, which the server sends ({character})");

    private async Task AssertTransformRefusedAsync(string field, string transform, string detail)
    {
        // Arrange: a value the header cannot carry, written into the transform itself rather than made from the request
        var token = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("tests", CancellationToken.None)).Value!.Token;
        var body = new Dictionary<string, object> { ["name"] = "nul", ["path"] = "/nul/*", ["upstream"] = "backend", ["auth_required"] = false, [field] = transform };

        // Act
        var response = await Admin.AdminTestBase.SendAsync(Gateway, token, HttpMethod.Post, "/routes", body);

        // Assert
        var error = Admin.AdminTestBase.AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer: "/" + field);
        Assert.Equal(detail, error.GetProperty("detail").GetString());
        Assert.Null(await Gateway.Store.FindRouteAsync("nul", CancellationToken.None));
    }

    [Fact]
    public async Task HeaderValueWithATab_InATransform_IsAcceptedAndForwarded()
    {
        // Arrange: the tab is the one control character a header value may hold
        var token = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("tests", CancellationToken.None)).Value!.Token;
        var body = new { name = "tab", path = "/tab/*", upstream = "backend", auth_required = false, request_transform = """{"headers":{"set":{"X-Tab":"a\tb"}}}""" };

        // Act
        var created = await Admin.AdminTestBase.SendAsync(Gateway, token, HttpMethod.Post, "/routes", body);
        await Gateway.ReloadAsync();
        var response = await RawHttp.GetAsync(Gateway.Url, "/tab/x");

        // Assert
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(200, response.Status);
        Assert.Equal(["a\tb"], Upstream.Received.Last().Headers["X-Tab"]);
    }

    [Fact]
    public async Task HeaderValueWithAControlCharacter_StoredBeforeItWasRefused_RouteServesWithoutThatOperation()
    {
        // Arrange: written past validation, as a route stored by an older build would be
        await StoreRouteAsync(authRequired: false, """{"headers":{"set":{"X-Nul":"a\u0000b","X-Kept":"yes"},"add":{"X-Esc":"\u001b[2J"}}}""");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/x");
        var validated = await Gateway.CliAsync("config", "validate");

        // Assert: the config loads and the route serves; the backend never gets the NUL or the escape; config validate says what was left out
        Assert.Equal(0, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last().Headers;
        Assert.Equal(["yes"], received["X-Kept"]);
        Assert.False(received.ContainsKey("X-Nul"));
        Assert.False(received.ContainsKey("X-Esc"));
        Assert.Equal(0, validated.ExitCode);
        Assert.Contains("warning: route 't': request_transform: request_transform.headers.set.X-Nul: header values cannot contain control characters (U+0000 at position 2) "
            + "(stored before that rule): the gateway leaves that operation out", validated.Error);
    }

    [Theory]
    [InlineData("set", "X_User_ID", "X-User-ID")]
    [InlineData("add", "x.plan.id", "x-plan-id")]
    [InlineData("set", "X_Entitlement_Tier", "X-Entitlement-Tier")]
    public async Task IdentityHeaderUnderAnotherSpelling_InARequestTransform_IsRefusedByTheCliNamingTheFlag(string operation, string name, string readsAs)
    {
        // Act
        var result = await Gateway.CliAsync("routes", "create", "--name", "forge", "--path", "/forge/*", "--upstream", "backend",
            "--request-transform", """{"conditions":[{"when":{"method":"GET"},"headers":{"OP":{"NAME":"usr_admin"}}}]}""".Replace("OP", operation).Replace("NAME", name));

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"error: --request-transform: request_transform.conditions[0].headers: '{name}' reads as the identity header '{readsAs}' to backends that take '_' for '-'", result.Error);
        Assert.Null(await Gateway.Store.FindRouteAsync("forge", CancellationToken.None));
    }

    [Fact]
    public async Task IdentityHeaderUnderAnotherSpelling_StoredBeforeItWasRefused_IsNotForwarded()
    {
        // Arrange: written past validation, as a route stored by an older build would be; the route is public, so the
        // gateway sets no X-User-ID of its own that could be taken for the caller instead.
        await StoreRouteAsync(authRequired: false, """{"headers":{"set":{"X_User_ID":"usr_admin","X-Kept":"yes"},"add":{"X.Key.ID":"key_admin"}}}""");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/x");

        // Assert
        Assert.Equal(0, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(200, response.Status);
        var received = Upstream.Received.Last().Headers;
        Assert.Equal(["yes"], received["X-Kept"]);
        Assert.False(received.ContainsKey("X_User_ID"));
        Assert.False(received.ContainsKey("X.Key.ID"));
    }

    [Fact]
    public async Task ContentTypeTransform_OnAPostWithoutABody_SendsNoContentType()
    {
        // Arrange
        await AddRouteAsync("""{"headers":{"set":{"Content-Type":"application/json"},"add":{"Content-Language":"en"}}}""");

        // Act: a POST without a body goes out with Content-Length: 0
        using var empty = await Gateway.Client.PostAsync(Gateway.Url + "/t/x", null);
        var emptyHeaders = Upstream.Received.Last().Headers;
        using var posted = await Gateway.Client.PostAsync(Gateway.Url + "/t/x", new StringContent("{}", Encoding.UTF8, "text/plain"));
        var postedHeaders = Upstream.Received.Last().Headers;

        // Assert: nothing to describe on the first; the second's body gets the transform's type
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.False(emptyHeaders.ContainsKey("Content-Type"));
        Assert.False(emptyHeaders.ContainsKey("Content-Language"));
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(["application/json"], postedHeaders["Content-Type"]);
        Assert.Equal(["en"], postedHeaders["Content-Language"]);
    }

    [Fact]
    public async Task Conditions_ApplyOnlyWhenTheirTestsHold()
    {
        await AddRouteAsync("""
            {"conditions":[
              {"when":{"method":"POST"},"headers":{"add":{"X-Idempotency-Key":"${uuid}"}}},
              {"when":{"path_matches":"/t/admin/*"},"headers":{"add":{"X-Admin":"yes"}}},
              {"when":{"header_exists":"X-Beta"},"headers":{"set":{"X-Channel":"beta"}}}]}
            """);

        await Gateway.Client.PostAsync(Gateway.Url + "/t/orders", new StringContent("x"));
        var post = Upstream.Received.Last().Headers;
        await Gateway.Client.GetAsync(Gateway.Url + "/t/admin/users/1");
        var admin = Upstream.Received.Last().Headers;
        using var beta = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/t/x");
        beta.Headers.Add("X-Beta", "1");
        await Gateway.Client.SendAsync(beta);
        var betaHeaders = Upstream.Received.Last().Headers;

        Assert.Matches("^[0-9a-f-]{36}$", post["X-Idempotency-Key"].Single());
        Assert.False(post.ContainsKey("X-Admin"));
        Assert.Equal(["yes"], admin["X-Admin"]);
        Assert.False(admin.ContainsKey("X-Idempotency-Key"));
        Assert.Equal(["beta"], betaHeaders["X-Channel"]);
    }

    [Theory]
    [InlineData("http_stream")]
    [InlineData("sse")]
    public async Task JsonBodyOperations_OnAStreamingRoute_RequestBodyEditedAndTheLimitHolds(string protocol)
    {
        // A streaming route streams its response; the request's JSON body (an LLM-style prompt to an sse route, which
        // may need the caller's id injected) is edited as on an http route, within the same limit.
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "t", Path = "/t/*", Upstream = "backend", Protocol = protocol,
            RequestTransform = """{"headers":{"set":{"X-Edited":"yes"}},"body":{"json":{"inject":{"added":1},"remove":["secret"]}}}""",
        });
        var small = """{"secret":"s","prompt":"hi"}""";
        var large = "{\"secret\":\"s\",\"prompt\":\"" + new string('x', 100 * 1024) + "\"}"; // over the 64 KiB transform limit
        var received = Upstream.Received.Count;

        using var smallResponse = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body", new StringContent(small, Encoding.UTF8, "application/json"));
        var smallEcho = JsonDocument.Parse(await smallResponse.Content.ReadAsStringAsync()).RootElement;
        var smallHeaders = Upstream.Received.Last().Headers;
        using var largeResponse = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body", new StringContent(large, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, smallResponse.StatusCode);
        Assert.Equal("""{"prompt":"hi","added":1}""", smallEcho.GetProperty("body").GetString());
        Assert.Equal(["yes"], smallHeaders["X-Edited"]);
        await Auth.AuthenticationTests.AssertErrorAsync(largeResponse, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
        Assert.Equal(received + 1, Upstream.Received.Count); // the refused body never reached the upstream
    }

    [Fact]
    public async Task JsonBody_InjectAndRemove_FixContentLength()
    {
        await AddRouteAsync("""{"body":{"json":{"inject":{"metadata":{"source":"apigate","method":"${method}"},"version":2},"remove":["internal_field","nested.secret"]}}}""");

        var response = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body",
            new StringContent("""{"name":"n","internal_field":1,"nested":{"secret":"s","keep":true},"metadata":{"client":"c"}}""", Encoding.UTF8, "application/json"));

        var echo = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var body = echo.GetProperty("body").GetString()!;
        var sent = JsonDocument.Parse(body).RootElement;
        Assert.Equal(Encoding.UTF8.GetByteCount(body), echo.GetProperty("content_length").GetInt64());
        Assert.False(sent.TryGetProperty("internal_field", out _));
        Assert.False(sent.GetProperty("nested").TryGetProperty("secret", out _));
        Assert.True(sent.GetProperty("nested").GetProperty("keep").GetBoolean());
        Assert.Equal("c", sent.GetProperty("metadata").GetProperty("client").GetString()); // deep merge keeps it
        Assert.Equal("apigate", sent.GetProperty("metadata").GetProperty("source").GetString());
        Assert.Equal("POST", sent.GetProperty("metadata").GetProperty("method").GetString());
        Assert.Equal(2, sent.GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task JsonBody_OverLimit_Returns413_InvalidJson_Returns400_NonJson_PassesThrough()
    {
        await AddRouteAsync("""{"body":{"json":{"remove":["x"]}}}""");

        var tooLarge = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body",
            new StringContent("{\"x\":\"" + new string('a', 70 * 1024) + "\"}", Encoding.UTF8, "application/json"));
        var invalid = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body", new StringContent("{not json", Encoding.UTF8, "application/json"));
        var text = await Gateway.Client.PostAsync(Gateway.Url + "/t/echo-body", new StringContent("{\"x\":1}", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("request_too_large", await tooLarge.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("bad_request", await invalid.Content.ReadAsStringAsync());
        Assert.Equal("{\"x\":1}", JsonDocument.Parse(await text.Content.ReadAsStringAsync()).RootElement.GetProperty("body").GetString());
    }

    [Fact]
    public async Task MethodOverride_InTransform_ChangesForwardedMethod()
    {
        await AddRouteAsync("""{"method_override":"PATCH"}""");

        await Gateway.Client.PostAsync(Gateway.Url + "/t/x", new StringContent("{}"));

        Assert.Equal("PATCH", Upstream.Received.Last().Method);
    }

    [Fact]
    public async Task ResponseHeaders_AndJsonBody_RemoveRenameMask_FixContentLength()
    {
        await AddRouteAsync(null, """
            {"headers":{"add":{"X-Served-By":"apigate"},"set":{"Cache-Control":"no-store"},"remove":["X-Powered-By"]},
             "body":{"remove":["_links.internal","items.secret"],"rename":{"_id":"id"},"mask":["email"]}}
            """);

        var response = await Gateway.Client.GetAsync(Gateway.Url + "/t/json");
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var body = JsonDocument.Parse(bytes).RootElement;

        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(["apigate"], response.Headers.GetValues("X-Served-By"));
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        Assert.Equal("42", body.GetProperty("id").GetString());
        Assert.False(body.TryGetProperty("_id", out _));
        Assert.Equal("u***@d***.com", body.GetProperty("email").GetString());
        Assert.False(body.GetProperty("_links").TryGetProperty("internal", out _));
        Assert.Equal("/users/42", body.GetProperty("_links").GetProperty("self").GetString());
        Assert.All(body.GetProperty("items").EnumerateArray(), item => Assert.False(item.TryGetProperty("secret", out _)));
    }

    [Fact]
    public async Task ResponseBodyRename_OntoAFieldThatExists_TheRenamedValueReplacesIt()
    {
        // Arrange: the upstream answers {"_id":"42","email":"user@domain.com",…}
        await AddRouteAsync(null, """{"body":{"rename":{"email":"_id"}}}""");

        // Act
        var text = await Gateway.Client.GetStringAsync(Gateway.Url + "/t/json");

        // Assert: one _id, holding the renamed value; the upstream's own _id is not sent
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal("user@domain.com", body.GetProperty("_id").GetString());
        Assert.False(body.TryGetProperty("email", out _));
        Assert.Single(body.EnumerateObject(), p => p.Name == "_id");
    }

    [Fact]
    public async Task ResponseBodyRenames_InTheOrderWritten_KeepAFieldByMovingItFirst()
    {
        // Arrange
        await AddRouteAsync(null, """{"body":{"rename":{"_id":"id","email":"_id"}}}""");

        // Act
        var body = JsonDocument.Parse(await Gateway.Client.GetStringAsync(Gateway.Url + "/t/json")).RootElement;

        // Assert
        Assert.Equal("42", body.GetProperty("id").GetString());
        Assert.Equal("user@domain.com", body.GetProperty("_id").GetString());
        Assert.False(body.TryGetProperty("email", out _));
    }

    [Fact]
    public async Task ResponseBody_OverLimitWithRenamesOnly_PassesThroughUntouched()
    {
        await AddRouteAsync(null, """{"body":{"rename":{"pad":"padding"}}}""");

        var body = await Gateway.Client.GetStringAsync(Gateway.Url + "/t/big-json?bytes=" + (80 * 1024));

        Assert.Contains("\"pad\":", body);
        Assert.Equal(80 * 1024 + 23, body.Length);
    }

    [Fact]
    public async Task ResponseBody_CompressedByTheUpstreamUnasked_DecodedAndTheFieldsHidden()
    {
        // Arrange: the client asks for gzip; the route drops that, but this upstream compresses anyway. Withheld (502)
        // before: the gateway could not read the body it was to edit.
        await AddRouteAsync(null, """{"body":{"remove":["items"]}}""");
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/t/gzip-json?always=1");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");

        // Act
        using var response = await Gateway.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        // Assert: the edited body, uncompressed and labelled so
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(Upstream.Received.Last().Headers.ContainsKey("Accept-Encoding"));
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal("""{"_id":"42","email":"user@domain.com","_links":{"internal":"/admin/42","self":"/users/42"}}""", body);
    }

    [Fact]
    public async Task ResponseBody_CompressedUnaskedAndDecodingPastTheLimit_Withheld502NotPassedOn()
    {
        // Arrange: a few KB of gzip that decode to 4 MiB (past the 1 MiB transform limit), sent although not asked for
        await AddRouteAsync(null, """{"body":{"remove":["items"]}}""");

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/gzip-json?always=1&pad=" + (4 * 1024 * 1024));

        // Assert: the limit counts the decoded body; the field to hide is not passed on
        Assert.Equal(502, response.Status);
        Assert.Equal("response_withheld", response.ErrorCode);
        Assert.DoesNotContain("\"items\"", response.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"body":{"remove":["secret"]}}""")]
    [InlineData("""{"body":{"mask":["secret"]}}""")]
    public async Task ResponseBody_OverLimitWithFieldsToHide_Withheld502NotPassedOn(string transform)
    {
        // Arrange: a client can often choose a large response (a big page): it must not be the way past the transform.
        await AddRouteAsync(null, transform);

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/t/big-json?bytes=" + (80 * 1024));

        // Assert
        Assert.Equal(502, response.Status);
        Assert.Equal("response_withheld", response.ErrorCode);
        Assert.DoesNotContain("secret", response.Body.Replace("removes or masks", ""), StringComparison.Ordinal);
        Assert.DoesNotContain("xxxxxxxx", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidTransform_IsRefusedByTheCli_NamingTheField()
    {
        var result = await Gateway.CliAsync("routes", "create", "--name", "bad", "--path", "/bad/*", "--upstream", "backend",
            "--request-transform", """{"headers":{"add":{"X-A":{"nested":1}}}}""");
        var response = await Gateway.CliAsync("routes", "create", "--name", "bad2", "--path", "/bad2/*", "--upstream", "backend",
            "--response-transform", """{"body":{"scramble":["a"]}}""");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: --request-transform: request_transform.headers.add.X-A must be a string", result.Error);
        Assert.Equal(2, response.ExitCode);
        Assert.Contains("response_transform", response.Error);
    }

    [Fact]
    public async Task Variables_NeverExposeTheCredential()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("copy@example.com");
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "copy",
            Path = "/copy/*",
            Upstream = "backend",
            AuthRequired = true,
            RequestTransform = """{"headers":{"set":{"X-Copy-Header":"${header.X-API-Key}","X-Copy-Auth":"${header.Authorization}"}}}""",
        });
        using var viaHeader = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/copy/x");
        viaHeader.Headers.Add("X-API-Key", key);
        using var viaBearer = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/copy/x");
        viaBearer.Headers.Add("Authorization", "Bearer " + key);

        await Gateway.Client.SendAsync(viaHeader);
        var first = Upstream.Received.Last().Headers;
        await Gateway.Client.SendAsync(viaBearer);
        var second = Upstream.Received.Last().Headers;

        Assert.Equal([""], first["X-Copy-Header"]);
        Assert.DoesNotContain(key, string.Join("|", first.Concat(second).SelectMany(h => h.Value)));
    }

    [Fact]
    public async Task Variables_NeverExposeTheGatewaysCookies()
    {
        // Arrange: over TLS the console's and the portal's session cookies are __Host- cookies at Path=/, so a signed-in
        // browser sends them with every request to the host, a proxied route's included. A route copies the Cookie
        // header into a header of its own, and a rewrite expression reading `headers` puts its length into the path.
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "cookies", Path = "/cookies/*", Upstream = "backend", AuthRequired = false,
            PathRewrite = "'/seen/' + ('cookie' in headers ? headers.cookie.length : 'none')",
            RequestTransform = """{"headers":{"set":{"X-Copy-Cookie":"${header.Cookie}"}}}""",
        });
        using var mixed = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/cookies/x");
        mixed.Headers.TryAddWithoutValidation("Cookie", "theirs=1; __Host-apigate_ui_session=operator-session; __Host-apigate_portal_session=customer-session; apigate_af=token");
        using var only = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/cookies/y");
        only.Headers.TryAddWithoutValidation("Cookie", "__Host-apigate_ui_session=operator-session");

        // Act
        using var first = await Gateway.Client.SendAsync(mixed);
        var firstSeen = Upstream.Received.Last();
        using var second = await Gateway.Client.SendAsync(only);
        var secondSeen = Upstream.Received.Last();

        // Assert: the route's own cookie is copied, the gateway's never are (as the Cookie header itself is not sent with them)
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal(["theirs=1"], firstSeen.Headers["X-Copy-Cookie"]);
        Assert.Equal("/seen/8", firstSeen.Path); // "theirs=1"
        Assert.Equal([""], secondSeen.Headers["X-Copy-Cookie"]);
        Assert.Equal("/seen/none", secondSeen.Path);
        var everything = string.Join("|", new[] { firstSeen, secondSeen }.SelectMany(r => r.Headers.SelectMany(h => h.Value).Append(r.Path)));
        Assert.DoesNotContain("session", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("token", everything, StringComparison.Ordinal);
    }

    private Task AddRouteAsync(string? request, string? response = null) =>
        Gateway.AddRouteAsync(new RouteInput { Name = "t", Path = "/t/*", Upstream = "backend", RequestTransform = request, ResponseTransform = response });

    /// <summary>Route <c>t</c> on <c>/t/*</c> with <paramref name="request"/> and <paramref name="response"/>, written straight to the store (no write rules), and loaded.</summary>
    private async Task StoreRouteAsync(bool authRequired, string request, string response = "")
    {
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", CancellationToken.None))!;
        await Gateway.Store.CreateRouteAsync(new Core.Routing.RouteDefinition
        {
            Id = "rt_stored", Name = "t", Slug = "t", PathPattern = "/t/*", UpstreamId = backend.Id, AuthRequired = authRequired,
            RequestTransform = request, ResponseTransform = response, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);
        await Gateway.ReloadAsync();
    }
}
