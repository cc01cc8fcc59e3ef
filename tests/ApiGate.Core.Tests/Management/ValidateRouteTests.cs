using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using static ApiGate.Core.Tests.TestSupport.TestRoutes;

namespace ApiGate.Core.Tests.Management;

/// <summary>RouteService.Validate: the static checks a route must pass before it is written.</summary>
public sealed class ValidateRouteTests
{
    private static readonly RouteDefinition Valid = Route("Users API", "/users/*");

    public static TheoryData<string, RouteDefinition> GoodRoutes => new()
    {
        { "plain prefix", Valid },
        { "exact with {id}", Valid with { PathPattern = "/users/{id}", MatchType = PathMatchType.Exact } },
        { "regex with quantifier", Valid with { PathPattern = @"/v\d{2,3}/{name}", MatchType = PathMatchType.Regex } },
        { "wildcard host", Route("w", "/", host: "*.example.com") },
        { "regex host", Route("r", "/", host: @"^(api|www)\.example\.com$", hostType: HostMatchType.Regex) },
        { "template rewrite", Valid with { PathPattern = "/users/{id}/*", PathRewrite = "/internal/$1/{id}/${uuid}" } },
        { "template naming regex groups", Valid with { PathPattern = @"/v(\d+)/(?<rest>.*)", MatchType = PathMatchType.Regex, PathRewrite = "/api/$1/{rest}" } },
        { "template naming an explicitly numbered group", Valid with { PathPattern = @"/v(?<3>\d+)", MatchType = PathMatchType.Regex, PathRewrite = "/api/$3" } },
        { "template with variables only", Valid with { PathPattern = "/users", MatchType = PathMatchType.Exact, PathRewrite = "/u/${header.X-Tenant}" } },
        { "expression with local names", Valid with { PathRewrite = "(() => { const id = pathParams.id; return '/users/' + id; })()" } },
        { "expression using built-ins", Valid with { PathRewrite = "'/u/' + encodeURIComponent(JSON.stringify(query)) + Math.max(1, 2) + String(undefined)" } },
        { "expression reading every context name", Valid with { PathRewrite = "[path, method, host, pathParams, query, headers, user, key, plan].length ? path : '/'" } },
        { "template literal expression", Valid with { PathRewrite = "`/users/${pathParams.id}`" } },
        { "expression starting with a call", Valid with { PathRewrite = "path.replace(/^\\/api/, '') + '/x'" } },
        { "expression rewrite", Valid with { PathRewrite = "'/users/' + pathParams.id" } },
        { "methods and headers", Valid with { Methods = ["GET", "POST"], Headers = new Dictionary<string, string> { ["X-Tenant"] = "acme" } } },
        { "transforms", Valid with { RequestTransform = "{\"headers\":{\"add\":{}}}", ResponseTransform = "{}" } },
        { "custom metering", Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = "response.body.items.length" } },
        { "every known method", Valid with { Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY", "PROPFIND"] } },
        { "dots inside a segment", Valid with { PathRewrite = "/files/$1..bak/v1.2" } },
        { "expression splitting on dots", Valid with { PathRewrite = "'/v/' + path.split('..').join('-')" } },
        { "unicode name and description", Valid with { Name = "Nutzer-API ü", Description = "Benutzer – alle Endpunkte ✓" } },
        { "prefix that also reaches paths beside a reserved one", Valid with { PathPattern = "/health*" } },
        { "path merely starting like a reserved one", Valid with { PathPattern = "/healthz", MatchType = PathMatchType.Exact } },
        { "below a path reserved only itself", Valid with { PathPattern = "/metrics/*" } },
        { "catch-all", Valid with { PathPattern = "/*" } },
        { "portal path (reserved only while the portal is on)", Valid with { PathPattern = "/portal/*" } },
    };

    [Theory]
    [MemberData(nameof(GoodRoutes))]
    public void ValidateRoute_ValidRoute_ReturnsNoErrors(string scenario, RouteDefinition route)
    {
        // Act
        var errors = RouteService.Validate(route).ToList();

        // Assert
        Assert.True(errors.Count == 0, scenario + ": " + string.Join("; ", errors));
    }

    public static TheoryData<string, RouteDefinition> BadRoutes => new()
    {
        { "name", Valid with { Slug = "" } },
        { "path", Valid with { PathPattern = "/users/(", MatchType = PathMatchType.Regex } },
        { "path", Valid with { PathPattern = "/api/*/users", MatchType = PathMatchType.Prefix } },
        { "path", Valid with { PathPattern = "/users/*", MatchType = PathMatchType.Exact } },
        { "path", Valid with { PathPattern = "users", MatchType = PathMatchType.Prefix } },
        { "path", Valid with { PathPattern = "", MatchType = PathMatchType.Prefix } },
        { "path", Valid with { PathPattern = "/health/*" } },
        { "path", Valid with { PathPattern = "/admin/users/*" } },
        { "path", Valid with { PathPattern = "/metrics", MatchType = PathMatchType.Exact } },
        { "path", Valid with { PathPattern = "/version", MatchType = PathMatchType.Exact } },
        { "path", Valid with { PathPattern = "/health/ready", MatchType = PathMatchType.Exact } },
        { "host_pattern", Route("w", "/", host: "*example.com", hostType: HostMatchType.Wildcard) },
        { "host_pattern", Route("w", "/", host: "a.*.example.com", hostType: HostMatchType.Wildcard) },
        { "host_pattern", Route("w", "/", host: "*.*.example.com") },
        { "host_pattern", Route("w", "/", host: "api*.example.com") },
        { "host_pattern", Route("w", "/", host: "api example.com") },
        { "host_pattern", Route("r", "/", host: "(api", hostType: HostMatchType.Regex) },
        { "methods", Valid with { Methods = ["GE T"] } },
        { "headers", Valid with { Headers = new Dictionary<string, string> { ["X Tenant"] = "acme" } } },
        { "path_rewrite", Valid with { PathRewrite = "'/users/' +" } },
        { "path_rewrite", Valid with { PathRewrite = "/users/{" } },
        { "path_rewrite", Valid with { PathRewrite = "/users/${id" } },
        { "method_override", Valid with { MethodOverride = "BAD METHOD" } },
        { "request_transform", Valid with { RequestTransform = "{" } },
        { "request_transform", Valid with { RequestTransform = "[1]" } },
        { "response_transform", Valid with { ResponseTransform = "\"text\"" } },
        { "metering_expr", Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = "" } },
        { "metering_expr", Valid with { MeteringMode = MeteringMode.ResponseField, MeteringExpr = "response.body." } },
        { "path_rewrite", Valid with { PathRewrite = "'/echo/' + (2n ** 250000n).toString(3).length" } },
        { "metering_expr", Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = "Number(2n ** 400000n % 7n)" } },
        { "metering_expr", Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = LongExpression } },
        { "metering_expr", Valid with { MeteringExpr = LongExpression } }, // stored whatever the mode
        { "methods", Valid with { Methods = ["GETT"] } },
        { "methods", Valid with { Methods = ["GET", "TRACE"] } },
        { "methods", Valid with { Methods = ["CONNECT"] } },
        { "method_override", Valid with { MethodOverride = "PSOT" } },
        { "path_rewrite", Valid with { PathRewrite = "/internal/../admin/$1" } },
        { "path_rewrite", Valid with { PathRewrite = "/v2/" + new string('a', 100_000) } }, // stored, it was sent on every request
        { "path_rewrite", Valid with { PathRewrite = "/internal/%2e%2E/$1" } },
        { "path_rewrite", Valid with { PathRewrite = "/internal/./$1" } },
        { "path_rewrite", Valid with { PathRewrite = "/internal/$1/.." } },
        { "path_rewrite", Valid with { PathRewrite = "'/a/../' + pathParams.id" } },
        { "path_rewrite", Valid with { PathRewrite = "'../' + path" } },
        { "path_rewrite", Valid with { PathRewrite = "/a/..;/admin/$1" } },
        { "path_rewrite", Valid with { PathRewrite = "/a\\..\\admin" } },
        { "path_rewrite", Valid with { PathRewrite = "/a/%252e%252e/admin/$1" } },
        { "path_rewrite", Valid with { PathRewrite = "/a%2fadmin/$1" } },
        { "name", Valid with { Name = "Users\u001b[2J" } },
        { "name", Valid with { Name = "Users\0" } },
        { "description", Valid with { Description = "line\nbreak" } },
        { "description", Valid with { Description = "c1\u0085" } },
        { "description", Valid with { Description = "del\u007f" } },
        { "headers", Valid with { Headers = new Dictionary<string, string> { ["X-Tenant"] = "acme\u0000" } } },
        { "headers", Valid with { Headers = Enumerable.Range(0, 101).ToDictionary(i => $"X-H{i}", _ => "1") } },
        { "headers", Valid with { Headers = new Dictionary<string, string> { ["X-" + new string('a', 300)] = "1" } } },
        { "headers", Valid with { Headers = new Dictionary<string, string> { ["X-Tenant"] = " acme" } } },
        { "headers", Valid with { Headers = new Dictionary<string, string> { ["X-Tenant"] = "acme\t" } } },
        { "cors_origins", Valid with { CorsOrigins = [.. Enumerable.Range(0, 101).Select(i => $"https://a{i}.example.com")] } },
        { "cors_headers", Valid with { CorsOrigins = ["https://app.example.com"], CorsHeaders = [.. Enumerable.Range(0, 101).Select(i => $"X-H{i}")] } },
        { "cors_headers", Valid with { CorsOrigins = ["https://app.example.com"], CorsHeaders = ["X-" + new string('a', 300)] } },
        { "cors_expose_headers", Valid with { CorsOrigins = ["https://app.example.com"], CorsExposeHeaders = ["X-" + new string('a', 300)] } },
    };

    [Fact]
    public void ValidateRoute_HeaderValueWithOuterSpaces_RefusedSayingItNeverMatchesUnlessStoredSoAlready()
    {
        // Arrange
        var spaced = Valid with { Headers = new Dictionary<string, string> { ["X-Tenant"] = "acme " } };

        // Act
        var refused = RouteService.Validate(spaced).ToList();
        var keptAsStored = RouteService.Validate(spaced with { Description = "edited" }, stored: spaced).ToList();

        // Assert
        Assert.Equal("the value required of 'X-Tenant' starts or ends with a space, which a request's header value never does (HTTP trims them): leave them out",
            Assert.Single(refused).Message);
        Assert.Empty(keptAsStored);
    }

    [Theory]
    [MemberData(nameof(BadRoutes))]
    public void ValidateRoute_InvalidField_ReturnsValidationErrorNamingField(string field, RouteDefinition route)
    {
        // Act
        var errors = RouteService.Validate(route).ToList();

        // Assert
        var error = Assert.Single(errors);
        Assert.Equal(field, error.Field);
        Assert.Equal(ManagementErrorKind.Validation, error.Kind);
        Assert.False(string.IsNullOrEmpty(error.Message));
    }

    [Fact]
    public void ValidateRoute_SeveralBadFields_ReportsEach()
    {
        // Arrange
        var route = Valid with { PathPattern = "users", PathRewrite = "(", Methods = ["G T"] };

        // Act
        var fields = RouteService.Validate(route).Select(e => e.Field);

        // Assert
        Assert.Equal(["path", "methods", "path_rewrite"], fields);
    }

    /// <summary>A valid expression of 10,007 characters, longer than any text field may be.</summary>
    private static readonly string LongExpression = "[" + string.Join(",", Enumerable.Repeat("1", 5_000)) + "].length";

    [Theory]
    [InlineData("path_rewrite")]
    [InlineData("metering_expr")]
    public void ValidateRoute_ExpressionLongerThanATextField_RefusedNamingFieldAndLimit(string field)
    {
        // Arrange
        var route = field == "path_rewrite"
            ? Valid with { PathRewrite = LongExpression }
            : Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = LongExpression };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, field, "is longer than 8192 characters"), error);
    }

    [Theory]
    [InlineData("path_rewrite")]
    [InlineData("metering_expr")]
    public void ValidateRoute_BigIntLiteralInExpression_RefusedNamingFieldAndBigInt(string field)
    {
        // Arrange
        const string expression = "'/echo/' + (2n ** 250000n).toString(3).length";
        var route = field == "path_rewrite"
            ? Valid with { PathRewrite = expression }
            : Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = expression };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, field, "BigInt values (123n) are not available in expressions"), error);
    }

    [Theory]
    [InlineData("$2", "$2")]
    [InlineData("users/$1", "$1")]
    [InlineData("api/v1", "api")]
    [InlineData("'/users/' + id", "id")]
    [InlineData("'/s/' + status", "status")]
    [InlineData("'/r/' + response.body.id", "response")]
    public void ValidateRoute_ExpressionReadingANameARewriteDoesNotHave_RefusedNamingIt(string rewrite, string name)
    {
        // Arrange: without a leading '/' a rewrite is JavaScript, where $2 is a name that is never defined, so every
        // request through the route failed with 500 transform_error ("$2 is not defined").
        var route = Valid with { PathRewrite = rewrite };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, "path_rewrite",
            $"the expression reads '{name}', which a path rewrite does not have (it can read path, method, host, pathParams, query, headers, user, key, plan "
            + "and JavaScript's built-ins); a template, where $1 and {name} are captures, starts with '/'"), error);
    }

    [Theory]
    [InlineData(MeteringMode.Custom, "units", "units")]
    [InlineData(MeteringMode.Custom, "status >= 500 ? 0 : cost", "cost")]
    [InlineData(MeteringMode.ResponseField, "body.usage.total_tokens", "body")]
    [InlineData(MeteringMode.Custom, "headers['x-units']", "headers")]
    [InlineData(MeteringMode.Custom, "path.length", "path")]
    [InlineData(MeteringMode.Custom, "(() => { const n = response.body.n; return n + extra; })()", "extra")]
    public void ValidateRoute_MeteringExpressionReadingANameItDoesNotHave_RefusedNamingIt(MeteringMode mode, string expression, string name)
    {
        // Arrange: the expression compiled, so the route was stored, and then every request through it failed with
        // "<name> is not defined", billed 1 unit and logged a metering error.
        var route = Valid with { MeteringMode = mode, MeteringExpr = expression };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, "metering_expr",
            $"the expression reads '{name}', which a metering expression does not have (it can read status, requestBytes, responseBytes, durationMs, "
            + "sseEvents, wsMessages, request, response and JavaScript's built-ins)"), error);
    }

    [Theory]
    [InlineData("[status, requestBytes, responseBytes, durationMs, sseEvents, wsMessages, request, response].length")]
    [InlineData("Math.ceil(Number(response.body.tokens) / 1000) + parseInt('0', 10) + (isNaN(durationMs) ? 0 : 1)")]
    [InlineData("(() => { const t = response.body ? response.body.usage.total_tokens : 1; return t; })()")]
    [InlineData("(function () { return arguments.length + status; })()")]
    [InlineData("typeof undefined === 'undefined' ? Number.MAX_SAFE_INTEGER % 7 + Infinity * 0 || 1 : NaN")]
    [InlineData("[1, 2].map(function (x) { return x * this.k; }, { k: status }).length")]
    public void ValidateRoute_MeteringExpressionReadingItsValuesAndBuiltIns_Accepted(string expression)
    {
        // Arrange
        var route = Valid with { MeteringMode = MeteringMode.Custom, MeteringExpr = expression };

        // Act
        var errors = RouteService.Validate(route).ToList();

        // Assert
        Assert.Empty(errors);
    }

    [Fact]
    public void ValidateRoute_RequestTransformWithThousandsOfConditions_RefusedNamingConditionsAndLimit()
    {
        // Arrange: each condition's glob was compiled to a regular expression when the route was written and again with
        // every snapshot, and every request through the route tested them all.
        var conditions = string.Join(",", Enumerable.Range(0, 2_000).Select(i => "{\"when\":{\"path_matches\":\"/v" + i + "/*\"},\"headers\":{\"set\":{\"X-V\":\"1\"}}}"));
        var route = Valid with { RequestTransform = "{\"conditions\":[" + conditions + "]}" };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, "request_transform",
            "request_transform.conditions has 2000 entries; at most 100 are allowed"), error);
    }

    [Theory]
    [InlineData("request_transform", "request_transform.headers")]
    [InlineData("request_transform", "request_transform.query")]
    [InlineData("response_transform", "response_transform.headers")]
    public void ValidateRoute_TransformSettingThousandsOfNames_RefusedNamingTheOperationsAndLimit(string field, string operations)
    {
        // Arrange: 40,000 names fit in a 1 MiB admin body; each was compared with every other (a header set twice is
        // refused), billions of comparisons for one write, then each was applied to every request.
        var names = string.Join(",", Enumerable.Range(0, 40_000).Select(i => "\"X-H" + i + "\":\"1\""));
        var part = operations.EndsWith(".query", StringComparison.Ordinal) ? "query" : "headers";
        var json = "{\"" + part + "\":{\"set\":{" + names + "}}}";
        var route = field == "request_transform" ? Valid with { RequestTransform = json } : Valid with { ResponseTransform = json };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, field, operations + " has 40000 operations; at most 100 are allowed"), error);
    }

    [Theory]
    [InlineData("request_transform", "{\"body\":{\"json\":{\"remove\":[PATHS]}}}", "request_transform.body.json.remove")]
    [InlineData("response_transform", "{\"body\":{\"remove\":[PATHS]}}", "response_transform.body.remove")]
    [InlineData("response_transform", "{\"body\":{\"mask\":[PATHS]}}", "response_transform.body.mask")]
    public void ValidateRoute_TransformEditingThousandsOfBodyFields_RefusedNamingTheListAndLimit(string field, string template, string list)
    {
        // Arrange: each path was walked in every body the route forwards.
        var json = template.Replace("PATHS", string.Join(",", Enumerable.Range(0, 5_000).Select(i => "\"a.f" + i + "\"")), StringComparison.Ordinal);
        var route = field == "request_transform" ? Valid with { RequestTransform = json } : Valid with { ResponseTransform = json };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, field, list + " has 5000 operations; at most 100 are allowed"), error);
    }

    [Fact]
    public void ValidateRoute_TransformSettingAHeaderTwiceInOtherCase_RefusedNamingBoth()
    {
        // Arrange
        var route = Valid with { RequestTransform = "{\"headers\":{\"set\":{\"X-A\":\"1\",\"X-B\":\"2\",\"x-b\":\"3\",\"x-a\":\"4\"}}}" };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, "request_transform",
            "request_transform.headers.set: 'X-B' and 'x-b' are the same header (names are case-insensitive); set it once"), error);
    }

    [Fact]
    public void ValidateRoute_RequestTransformWithAHundredConditions_Accepted()
    {
        // Arrange
        var conditions = string.Join(",", Enumerable.Range(0, 100).Select(i => "{\"when\":{\"path_matches\":\"/v" + i + "/*\"},\"headers\":{\"set\":{\"X-V\":\"1\"}}}"));
        var route = Valid with { RequestTransform = "{\"conditions\":[" + conditions + "]}" };

        // Act
        var errors = RouteService.Validate(route).ToList();

        // Assert
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("'users/' + pathParams.id", "users/")]
    [InlineData("('v2/' + path) + '/x'", "v2/")]
    [InlineData("`users/${pathParams.id}`", "users/")]
    [InlineData("'internal'", "internal")]
    public void ValidateRoute_ExpressionAlwaysStartingWithoutSlash_RefusedNamingTheStart(string rewrite, string start)
    {
        // Arrange
        var route = Valid with { PathRewrite = rewrite };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Validation, "path_rewrite",
            $"the expression always yields a path starting with '{start}', and a rewritten path must start with '/'"), error);
    }

    [Theory]
    [InlineData("/q/*", PathMatchType.Prefix, "/q/$9", "the template uses $9, which the path pattern '/q/*' does not capture (it captures $1)")]
    [InlineData("/q/*", PathMatchType.Prefix, "/q/$0", "the template uses $0, which the path pattern '/q/*' does not capture (it captures $1)")]
    [InlineData("/q/*", PathMatchType.Prefix, "/q/$01", null)]
    [InlineData("/q/*", PathMatchType.Prefix, "/q/$99999999999", "the template uses $99999999999, which the path pattern '/q/*' does not capture (it captures $1)")]
    [InlineData("/q", PathMatchType.Exact, "/r/$1", "the template uses $1, which the path pattern '/q' does not capture (it captures nothing)")]
    [InlineData("/users/{id}", PathMatchType.Exact, "/x/{missing}", "the template uses {missing}, which the path pattern '/users/{id}' does not capture (it captures {id})")]
    [InlineData("/users/{id}", PathMatchType.Exact, "/x/$1", "the template uses $1, which the path pattern '/users/{id}' does not capture (it captures {id})")]
    [InlineData("/users/{id}/*", PathMatchType.Prefix, "/x/{id}/$1/$2", "the template uses $2, which the path pattern '/users/{id}/*' does not capture (it captures $1 and {id})")]
    [InlineData(@"/v(\d+)/(?<rest>.*)", PathMatchType.Regex, "/x/$2", @"the template uses $2, which the path pattern '/v(\d+)/(?<rest>.*)' does not capture (it captures $1 and {rest})")]
    [InlineData(@"/v(?:\d+)/{a}/{b}", PathMatchType.Regex, "/x/{c}", @"the template uses {c}, which the path pattern '/v(?:\d+)/{a}/{b}' does not capture (it captures {a} and {b})")]
    public void ValidateRoute_TemplateNamingACaptureThePatternLacks_RefusedNamingIt(string pattern, PathMatchType type, string rewrite, string? problem)
    {
        // Arrange: the missing capture was an empty string on every request (/q/$9 forwarded /q/).
        var route = Valid with { PathPattern = pattern, MatchType = type, PathRewrite = rewrite };

        // Act
        var errors = RouteService.Validate(route).ToList();

        // Assert
        if (problem is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Equal(new ManagementError(ManagementErrorKind.Validation, "path_rewrite", problem), Assert.Single(errors));
        }
    }

    [Fact]
    public void ValidateRoute_PathChangedUnderAKeptTemplate_RefusedNamingPathRewrite()
    {
        // Arrange: an update that narrows the pattern to an exact path leaves the stored /internal/$1 with nothing to fill it.
        var stored = Valid with { PathRewrite = "/internal/$1" };
        var updated = stored with { PathPattern = "/users", MatchType = PathMatchType.Exact };

        // Act
        var error = Assert.Single(RouteService.Validate(updated));

        // Assert
        Assert.Empty(RouteService.Validate(stored));
        Assert.Equal("path_rewrite", error.Field);
        Assert.Equal("the template uses $1, which the path pattern '/users' does not capture (it captures nothing)", error.Message);
    }

    [Fact]
    public void ValidateRoute_InvalidPathAndTemplateNamingCaptures_ReportsOnlyThePath()
    {
        // Arrange: the captures of a pattern that does not compile are unknown; the path is the error to fix.
        var route = Valid with { PathPattern = "/users/(", MatchType = PathMatchType.Regex, PathRewrite = "/x/$5" };

        // Act
        var error = Assert.Single(RouteService.Validate(route));

        // Assert
        Assert.Equal("path", error.Field);
    }
}
