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
        { "template rewrite", Valid with { PathRewrite = "/internal/$1/{id}/${uuid}" } },
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
    };

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
}
