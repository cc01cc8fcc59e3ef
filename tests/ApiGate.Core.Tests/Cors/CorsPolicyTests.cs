using ApiGate.Core.Cors;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.Cors;

/// <summary>Origin canonical forms and the compiled policy's decisions, without a server.</summary>
public sealed class CorsPolicyTests
{
    [Theory]
    [InlineData("*", "*")]
    [InlineData("https://App.Example.COM", "https://app.example.com")]
    [InlineData("https://app.example.com/", "https://app.example.com")]
    [InlineData("https://app.example.com:443", "https://app.example.com")]
    [InlineData("http://app.example.com:80", "http://app.example.com")]
    [InlineData("http://127.0.0.1:5173", "http://127.0.0.1:5173")]
    [InlineData("https://app.example.com:8443", "https://app.example.com:8443")]
    [InlineData("*.example.com", "https://*.example.com")]
    [InlineData("http://*.example.com:8080", "http://*.example.com:8080")]
    [InlineData("http://[::1]:3000", "http://[::1]:3000")]
    public void Canonicalize_ValidOrigin_ReturnsBrowserForm(string written, string expected)
    {
        Assert.Equal(expected, CorsOrigins.Canonicalize(written, out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("https://app.example.com/path")]
    [InlineData("https://user@app.example.com")]
    [InlineData("https://app.example.com?x=1")]
    [InlineData("https://")]
    [InlineData("https://*")]
    [InlineData("https://*.com")]
    [InlineData("https://a.*.example.com")]
    [InlineData("https://app.example.com:0")]
    [InlineData("https://app.example.com:65536")]
    [InlineData("1https://app.example.com")]
    [InlineData("https://app..example.com")]
    public void Canonicalize_NotAnOrigin_NullWithProblem(string written)
    {
        Assert.Null(CorsOrigins.Canonicalize(written, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
    }

    [Theory]
    [InlineData("http://[0:0::1]:3000", "http://[::1]:3000")]
    [InlineData("http://[2001:DB8:0:0:1:0:0:1]", "http://[2001:db8::1:0:0:1]")]
    [InlineData("http://[::ffff:192.0.2.1]", "http://[::ffff:c000:201]")]
    [InlineData("http://127.0.0.01:8080", "http://127.0.0.1:8080")]
    [InlineData("http://0x7f.1", "http://127.0.0.1")]
    [InlineData("http://2130706433", "http://127.0.0.1")]
    [InlineData("https://B\u00fccher.example", "https://xn--bcher-kva.example")]
    [InlineData("*.b\u00fccher.example", "https://*.xn--bcher-kva.example")]
    public void Canonicalize_AddressOrInternationalName_StoredAsTheBrowserSendsIt(string written, string expected)
    {
        Assert.Equal(expected, CorsOrigins.Canonicalize(System.Text.RegularExpressions.Regex.Unescape(written), out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("https://[::1", "invalid host")]
    [InlineData("https://[evil]", "invalid host")]
    [InlineData("https://[192.0.2.1]", "invalid host")]
    [InlineData("https://[fe80::1%eth0]", "invalid host")]
    [InlineData("http://256.0.0.1", "invalid host")]
    [InlineData("https://app.123", "invalid host")]
    [InlineData("https://*.[::1]", "not a pattern")]
    [InlineData("https://*.10.0.0.1", "not a pattern")]
    public void Canonicalize_HostNoBrowserCouldSend_NullWithProblem(string written, string expected)
    {
        Assert.Null(CorsOrigins.Canonicalize(written, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://app.example.com", "https://app.example.com")]
    [InlineData("https://APP.example.com", "https://APP.example.com")]
    [InlineData("https://a.example.org", "https://a.example.org")]
    [InlineData("https://x.y.example.org", "https://x.y.example.org")]
    [InlineData("https://example.org", null)]
    [InlineData("http://a.example.org", null)]
    [InlineData("https://a.example.org:8443", null)]
    [InlineData("https://a.example.org.evil.net", null)]
    [InlineData("https://evilexample.org", null)]
    [InlineData("https://.example.org", null)]
    [InlineData("https://a_b.example.org", null)]
    [InlineData("null", null)]
    public void AllowOriginFor_ExactAndPattern_EchoesOnlyMatchedOrigins(string origin, string? expected)
    {
        var policy = CorsPolicy.Compile(Route(["https://app.example.com", "https://*.example.org"], credentials: true))!;

        Assert.Equal(expected, policy.AllowOriginFor(origin));
    }

    [Fact]
    public void Compile_OriginStoredInAnotherForm_AllowsTheFormBrowsersSend()
    {
        // Arrange: as written before origins were stored in that form
        var policy = CorsPolicy.Compile(Route(["http://[0:0::1]:3000", "http://127.0.0.01", "https://b\u00fccher.example"]))!;

        // Act + Assert
        Assert.Equal("http://[::1]:3000", policy.AllowOriginFor("http://[::1]:3000"));
        Assert.Equal("http://127.0.0.1", policy.AllowOriginFor("http://127.0.0.1"));
        Assert.Equal("https://xn--bcher-kva.example", policy.AllowOriginFor("https://xn--bcher-kva.example"));
    }

    [Fact]
    public void AllowOriginFor_AnyOrigin_AnswersStarNotTheOrigin()
    {
        var policy = CorsPolicy.Compile(Route(["*"]))!;

        Assert.Equal("*", policy.AllowOriginFor("https://anything.test"));
        Assert.False(policy.Credentials);
    }

    [Fact]
    public void Compile_NoOrigins_NullMeansCorsOff()
    {
        Assert.Null(CorsPolicy.Compile(Route([])));
    }

    [Theory]
    [InlineData("", true, null)]
    [InlineData("x-api-key", true, null)]
    [InlineData("X-API-KEY, content-type", true, null)]
    [InlineData("x-api-key,,authorization ", true, null)]
    [InlineData("x-api-key, x-other", false, "x-other")]
    public void AllowsHeaders_DefaultList_CaseInsensitiveAndNamesTheRefusedOne(string requested, bool allowed, string? refused)
    {
        var policy = CorsPolicy.Compile(Route(["https://app.example.com"]))!;

        Assert.Equal(allowed, policy.AllowsHeaders(requested, out var first));
        Assert.Equal(refused, first);
        Assert.Equal("Authorization, Content-Type, X-API-Key", policy.AllowHeaders);
    }

    [Theory]
    [InlineData("x-one, x-two", true, null)]
    [InlineData("x-one, x-été", false, "x-été")]
    [InlineData("x one", false, "x one")]
    [InlineData("x-one, \"quoted\"", false, "\"quoted\"")]
    [InlineData("x-one\u00a0", false, "x-one\u00a0")] // white space to .NET's Trim, not to HTTP: the answer would repeat it
    [InlineData("x-one, \u2028", false, "\u2028")]
    [InlineData(" x-one\t,\tx-two ", true, null)]
    public void AllowsHeaders_AnyHeader_OnlyHeaderNamesSinceTheAnswerRepeatsThem(string requested, bool allowed, string? refused)
    {
        var policy = CorsPolicy.Compile(Route(["*"]) with { CorsHeaders = ["*"] })!;

        Assert.Equal(allowed, policy.AllowsHeaders(requested, out var first));
        Assert.Equal(refused, first);
        Assert.Null(policy.AllowHeaders);
    }

    [Fact]
    public void Compile_RouteMethodsAndNoCorsMethods_PreflightAllowsTheRouteMethods()
    {
        var policy = CorsPolicy.Compile(Route(["https://app.example.com"]) with { Methods = ["GET", "PUT"] })!;

        Assert.Equal("GET, PUT", policy.AllowMethods);
        Assert.True(policy.AllowsMethod("PUT"));
        Assert.False(policy.AllowsMethod("DELETE"));
        Assert.Null(policy.MaxAge);
    }

    [Fact]
    public void AllowsMethod_PatchAnnouncedInLowerCase_RefusedAsHttpComparesMethodsCaseByCase()
    {
        // A browser sends a non-standard method as the page wrote it and compares the answer case by case: "patch" is
        // not "PATCH" (docs/routing.md)
        var policy = CorsPolicy.Compile(Route(["https://app.example.com"]))!;

        Assert.True(policy.AllowsMethod("PATCH"));
        Assert.False(policy.AllowsMethod("patch"));
    }

    private static RouteDefinition Route(IReadOnlyList<string> origins, bool credentials = false) =>
        new() { Id = "rt_1", Name = "web", Slug = "web", PathPattern = "/web", CorsOrigins = origins, CorsCredentials = credentials };
}
