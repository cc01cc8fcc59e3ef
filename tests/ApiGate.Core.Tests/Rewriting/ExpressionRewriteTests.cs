using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;

namespace ApiGate.Core.Tests.Rewriting;

/// <summary>SPEC §2.4 / §9: rewrites not starting with '/' are sandboxed JavaScript expressions yielding the path.</summary>
public sealed class ExpressionRewriteTests
{
    private static FakeRewriteRequest Request(string path = "/u/9", string method = "GET")
    {
        var request = new FakeRewriteRequest { Path = path, Method = method, Host = "api.example.com" };
        request.QueryValues["q"] = "shoes";
        request.QueryValues["page"] = "2";
        request.HeaderValues["x-tenant"] = "acme";
        request.HeaderValues["X-Api-Version"] = "3";
        return request;
    }

    [Theory]
    [InlineData("'/' + query.toString + '/' + query.constructor + '/' + query.__proto__", "/1/2/3")]
    [InlineData("'/' + headers.valueof + '/' + headers.__proto__ + '/' + Object.keys(headers).length", "/4/5/3")]
    [InlineData("'/' + Object.getPrototypeOf(query).toString.name + '/' + typeof ({}).x", "/toString/undefined")]
    public void Rewrite_RequestValueNamedLikeABuiltIn_IsTheRequestsOwnValue(string expression, string expected)
    {
        // Arrange: names a client chooses that Object.prototype (frozen in the sandbox) also has
        var request = new FakeRewriteRequest { Path = "/u/9" };
        request.QueryValues["toString"] = "1";
        request.QueryValues["constructor"] = "2";
        request.QueryValues["__proto__"] = "3";
        request.HeaderValues["valueOf"] = "4";
        request.HeaderValues["__proto__"] = "5";
        request.HeaderValues["x-other"] = "6";

        // Act
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, request);

        // Assert
        Assert.Equal(expected, result);
    }

    [Theory]
    [InlineData("'/users/' + pathParams.id", "/users/9")]
    [InlineData("`/users/${pathParams.id}/profile`", "/users/9/profile")]
    [InlineData("method === 'POST' ? '/write/' + pathParams.id : '/read/' + pathParams.id", "/read/9")]
    [InlineData("'/m/' + method.toLowerCase()", "/m/get")]
    [InlineData("'/search/' + query.q + '/' + query.page", "/search/shoes/2")]
    [InlineData("'/t/' + headers['x-tenant']", "/t/acme")]
    [InlineData("'/v/' + headers['x-api-version']", "/v/3")]
    [InlineData("'/h/' + (headers['X-Tenant'] === undefined)", "/h/true")]
    [InlineData("'/p' + path", "/p/u/9")]
    [InlineData("'/host/' + host", "/host/api.example.com")]
    [InlineData("'/anon/' + (user === null)", "/anon/true")]
    [InlineData("path.replace('/u/', '/users/')", "/users/9")]
    [InlineData("(() => { var p = '/v/' + pathParams.id; return p; })()", "/v/9")]
    public void Rewrite_Expression_ReturnsComputedPath(string expression, string expected)
    {
        // Act
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, Request());

        // Assert
        Assert.Equal(expected, result);
    }

    [Fact]
    public void Rewrite_ExpressionReadingMethod_UsesRequestMethod()
    {
        // Arrange
        const string expression = "method === 'POST' ? '/write/' + pathParams.id : '/read/' + pathParams.id";

        // Act
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, Request(method: "POST"));

        // Assert
        Assert.Equal("/write/9", result);
    }

    [Fact]
    public void Rewrite_ExpressionReadingIdentity_UsesUserKeyAndPlan()
    {
        // Arrange
        var request = Request();
        request.Identities["user"] = new Dictionary<string, string> { ["id"] = "u_1" };
        request.Identities["key"] = new Dictionary<string, string> { ["prefix"] = "ak_x" };
        request.Identities["plan"] = new Dictionary<string, string> { ["name"] = "pro" };

        // Act
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "'/' + plan.name + '/' + user.id + '/' + key.prefix", request);

        // Assert
        Assert.Equal("/pro/u_1/ak_x", result);
    }

    [Theory]
    // not a string
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("undefined")]
    [InlineData("true")]
    [InlineData("pathParams")]
    [InlineData("['/a']")]
    [InlineData("new String('/a')")]
    // not an absolute, safe path
    [InlineData("'users/' + pathParams.id")]
    [InlineData("''")]
    [InlineData("'/a/../b'")]
    [InlineData("'/users/../../admin'")]
    [InlineData("'/a/%2e%2e/b'")]
    [InlineData("'/a/%2E%2e/b'")]
    [InlineData("'/a?x=1'")]
    // evaluation failures
    [InlineData("undefinedVariable")]
    [InlineData("user.id")]
    [InlineData("pathParams.id.nope.deeper")]
    [InlineData("(function () { throw new Error('boom'); })()")]
    [InlineData("(function f() { return f(); })()")]
    public void Rewrite_BadExpressionResult_ThrowsRewriteException(string expression)
    {
        // Act + Assert
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, Request()));
    }

    [Fact]
    public void Rewrite_ExpressionErrorQuotingAKeyFromThePath_MessageCutsTheKeyToItsPrefix()
    {
        // Arrange: the reason is logged (warning 2001) and sent in the 500's detail.
        var request = Request("/u/ak_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

        // Act
        var ex = Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "'/' + null[pathParams.id]", request));

        // Assert
        Assert.Equal("expression failed: Cannot read properties of null (reading 'ak_012345678***')", ex.Message);
    }

    [Fact]
    public void Rewrite_ExpressionWhoseBuiltInFailsWithADotNetException_ThrowsRewriteException()
    {
        // Act
        var ex = Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact,
            "'/' + Array.prototype.toReversed.call({ length: 2 ** 32 - 1 }).length", Request()));

        // Assert
        Assert.Equal("expression failed: the script engine failed (OverflowException)", ex.Message);
    }

    [Theory]
    [InlineData("System.IO.File.ReadAllText('/etc/passwd')")]
    [InlineData("System.Environment.Exit(1)")]
    [InlineData("importNamespace('System').IO.File.Exists('/etc/passwd') ? '/yes' : '/no'")]
    [InlineData("clrHelper.getType('System.IO.File')")]
    [InlineData("require('fs')")]
    [InlineData("typeof process !== 'undefined' ? process.env.HOME : undefinedThing")]
    public void Rewrite_ExpressionReachingForClrOrHost_ThrowsRewriteException(string expression)
    {
        // Act + Assert
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, Request()));
    }

    [Theory]
    [InlineData("typeof System")]
    [InlineData("typeof importNamespace")]
    [InlineData("typeof clrHelper")]
    public void Rewrite_ClrGlobals_AreUndefined(string probe)
    {
        // Arrange
        var expression = "'/' + (" + probe + ")";

        // Act
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, Request());

        // Assert
        Assert.Equal("/undefined", result);
    }

    [Theory]
    [InlineData("(() => { while (true) {} })()")]
    [InlineData("(() => { for (;;) { } })()")]
    [InlineData("(function () { var i = 0; while (true) { i++; } })()")]
    public async Task Rewrite_EndlessLoop_IsStoppedWithRewriteException(string expression)
    {
        // Arrange
        var run = Task.Run(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, expression, Request()));

        // Act
        var first = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20)));

        // Assert
        Assert.True(ReferenceEquals(run, first), "the loop was not stopped");
        await Assert.ThrowsAsync<RewriteException>(() => run);
    }

    [Fact]
    public void Rewrite_AfterStoppedLoopOnSameThread_EngineStillEvaluates()
    {
        // Arrange
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "(() => { while (true) {} })()", Request()));

        // Act
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "'/users/' + pathParams.id", Request());

        // Assert
        Assert.Equal("/users/9", result);
    }

    [Fact]
    public void Rewrite_SameExpressionManyTimes_ReturnsFreshValuesEachTime()
    {
        // Arrange
        var rewriter = PathRewriter.Compile("'/users/' + pathParams.id + '/' + query.q");
        var table = TestRoutes.Table(TestRoutes.Route("r", "/u/{id}", PathMatchType.Exact));

        for (var i = 0; i < 50; i++)
        {
            var request = new FakeRewriteRequest { Path = "/u/" + i };
            request.QueryValues["q"] = "q" + i;
            Assert.True(table.TryMatch(null, "GET", request.Path, FakeHeaders.None, out var match));

            // Act
            var result = rewriter.Rewrite(match, request);

            // Assert
            Assert.Equal($"/users/{i}/q{i}", result);
        }
    }

    [Fact]
    public void Rewrite_QueryParamFromPreviousRequest_IsNotVisible()
    {
        // Arrange
        var first = Request();
        var second = new FakeRewriteRequest { Path = "/u/9" };

        // Act
        var a = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "'/q/' + query.q", first);
        var b = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "'/q/' + query.q", second);

        // Assert
        Assert.Equal("/q/shoes", a);
        Assert.Equal("/q/undefined", b);
    }

    [Theory]
    [InlineData("const id = pathParams.id; '/users/' + id")]
    [InlineData("let id = pathParams.id; '/users/' + id")]
    [InlineData("var token = headers['authorization']; '/a'")]
    public void Validate_TopLevelStatements_AreRefusedAsNotASingleExpression(string expression)
    {
        // Act
        var error = PathRewriter.Validate(expression);

        // Assert
        Assert.NotNull(error);
        Assert.Contains("single expression", error);
    }

    [Fact]
    public void Rewrite_ArrowFunctionWithDeclarations_WorksOnEveryEvaluationOnSameThread()
    {
        // Arrange
        var rewriter = PathRewriter.Compile("(() => { const id = pathParams.id; return '/users/' + id; })()");
        var table = TestRoutes.Table(TestRoutes.Route("r", "/u/{id}", PathMatchType.Exact));
        Assert.True(table.TryMatch(null, "GET", "/u/9", FakeHeaders.None, out var match));

        // Act
        var first = rewriter.Rewrite(match, Request());
        var second = rewriter.Rewrite(match, Request());

        // Assert
        Assert.Equal("/users/9", first);
        Assert.Equal("/users/9", second);
    }

    [Fact]
    public void Rewrite_ExpressionAddingAGlobal_FailsAndLeaksNothingToLaterEvaluations()
    {
        // Arrange
        var first = Request();
        first.HeaderValues["authorization"] = "Bearer secret";

        // Act
        var stash = Assert.Throws<RewriteException>(() =>
            RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "(globalThis.token = headers['authorization'], '/a')", first));
        var result = RewriteHarness.Rewrite("/u/{id}", PathMatchType.Exact, "typeof globalThis.token === 'undefined' ? '/clean' : '/leak'", Request());

        // Assert
        Assert.NotNull(stash);
        Assert.Equal("/clean", result);
    }

    [Theory]
    [InlineData("'/users/' + pathParams.id")]
    [InlineData("path")]
    [InlineData("users/$1")]
    public void Validate_ParsableExpression_ReturnsNull(string expression)
    {
        // Act
        var error = PathRewriter.Validate(expression);

        // Assert
        Assert.Null(error);
    }

    [Theory]
    [InlineData("${user_id}")]
    [InlineData("${path}/v2")]
    public void Validate_TemplateWithoutLeadingSlash_SaysATemplateStartsWithSlash(string rewrite)
    {
        // Act
        var error = PathRewriter.Validate(rewrite, "/users/{id}", PathMatchType.Exact);

        // Assert
        Assert.NotNull(error);
        Assert.StartsWith("expression does not parse: ", error, StringComparison.Ordinal);
        Assert.EndsWith("; a template, where $1 and {name} are captures, starts with '/'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'/users/' +")]
    [InlineData("'/users/")]
    [InlineData("(")]
    [InlineData("pathParams.")]
    [InlineData("   ")]
    public void Validate_UnparsableExpression_ReturnsError(string expression)
    {
        // Act
        var error = PathRewriter.Validate(expression);

        // Assert
        Assert.False(string.IsNullOrEmpty(error));
    }
}
