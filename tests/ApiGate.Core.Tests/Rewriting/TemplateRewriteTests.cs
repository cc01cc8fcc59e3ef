using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;

namespace ApiGate.Core.Tests.Rewriting;

/// <summary>SPEC §2.4: rewrites starting with '/' are templates with $n, {name} and ${var}.</summary>
public sealed class TemplateRewriteTests
{
    [Theory]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/internal/$1", "/api/v1/orders/123", "/internal/orders/123")]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/internal/$1", "/api/v1", "/internal/")]
    [InlineData("/api/v1", PathMatchType.Prefix, "/internal$1", "/api/v1/orders", "/internal/orders")]
    [InlineData("/*", PathMatchType.Prefix, "/v2/$1", "/a/b", "/v2/a/b")]
    [InlineData("/users/{id}", PathMatchType.Exact, "/v2/accounts/{id}", "/users/42", "/v2/accounts/42")]
    [InlineData("/users/{id}/*", PathMatchType.Prefix, "/accounts/{id}/$1", "/users/42/orders/7", "/accounts/42/orders/7")]
    [InlineData("/{tenant}/users/{id}", PathMatchType.Exact, "/users/{id}/tenant/{tenant}", "/acme/users/9", "/users/9/tenant/acme")]
    [InlineData(@"/v(\d+)/(.*)", PathMatchType.Regex, "/api/version$1/$2", "/v2/things/9", "/api/version2/things/9")]
    [InlineData(@"/items/(?<sku>[A-Z]+)", PathMatchType.Regex, "/catalog/{sku}", "/items/ABC", "/catalog/ABC")]
    [InlineData("/items/{sku}", PathMatchType.Regex, "/catalog/{sku}", "/items/abc", "/catalog/abc")]
    [InlineData("/health-check", PathMatchType.Exact, "/health", "/health-check", "/health")]
    [InlineData("/old/*", PathMatchType.Prefix, "/new", "/old/a/b", "/new")]
    [InlineData("/users/{id}", PathMatchType.Exact, "/x/{missing}", "/users/1", "/x/")]
    [InlineData("/api/*", PathMatchType.Prefix, "/x/$2", "/api/a", "/x/")]
    [InlineData("/api/*", PathMatchType.Prefix, "/x/$99999999999", "/api/a", "/x/")]
    [InlineData("/price/*", PathMatchType.Prefix, "/cost$/$1", "/price/9", "/cost$/9")]
    public void Rewrite_Template_SubstitutesCaptures(string pattern, PathMatchType type, string template, string path, string expected)
    {
        // Act
        var result = RewriteHarness.Rewrite(pattern, type, template, path);

        // Assert
        Assert.Equal(expected, result);
    }

    [Theory]
    [InlineData("/t/${tenant}/$1", "/t/acme/orders")]
    [InlineData("/t/${header.X-Tenant}/$1", "/t/blue/orders")]
    [InlineData("/t/${method}/$1", "/t/GET/orders")]
    [InlineData("/t/${unknown}/$1", "/t//orders")]
    public void Rewrite_TemplateWithVariable_UsesGetVariable(string template, string expected)
    {
        // Arrange
        var request = new FakeRewriteRequest { Path = "/api/orders" };
        request.Variables["tenant"] = "acme";
        request.Variables["header.X-Tenant"] = "blue";
        request.Variables["method"] = "GET";

        // Act
        var result = RewriteHarness.Rewrite("/api/*", PathMatchType.Prefix, template, request);

        // Assert
        Assert.Equal(expected, result);
    }

    [Theory]
    [InlineData("/files/*", "/static/$1", "/files/../secret")]
    [InlineData("/files/*", "/static/$1", "/files/a/../../secret")]
    [InlineData("/files/*", "/static/$1", "/files/..")]
    [InlineData("/files/*", "/static/$1?x=1", "/files/a")]
    [InlineData("/files/*", "/static/$1#frag", "/files/a")]
    public void Rewrite_TemplateProducingUnsafePath_ThrowsRewriteException(string pattern, string template, string path)
    {
        // Act + Assert
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite(pattern, PathMatchType.Prefix, template, path));
    }

    [Fact]
    public void Rewrite_TemplateWithTraversingVariable_ThrowsRewriteException()
    {
        // Arrange
        var request = new FakeRewriteRequest { Path = "/api/a" };
        request.Variables["header.X-Dir"] = "../../etc";

        // Act + Assert
        Assert.Throws<RewriteException>(() => RewriteHarness.Rewrite("/api/*", PathMatchType.Prefix, "/data/${header.X-Dir}/$1", request));
    }

    [Theory]
    [InlineData("/a/$1")]
    [InlineData("/a/{id}")]
    [InlineData("/a/${uuid}/${header.X-Name}")]
    [InlineData("/")]
    [InlineData("/price$")]
    public void Validate_GoodTemplate_ReturnsNull(string template)
    {
        // Act
        var error = PathRewriter.Validate(template);

        // Assert
        Assert.Null(error);
    }

    [Theory]
    [InlineData("/a/${x")]
    [InlineData("/a/${}")]
    [InlineData("/a/{")]
    [InlineData("/a/{}")]
    [InlineData("/a/{1x}")]
    [InlineData("/a/{na-me}")]
    public void Validate_BadTemplate_ReturnsError(string template)
    {
        // Act
        var error = PathRewriter.Validate(template);

        // Assert
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("/a/${x")]
    [InlineData("/a/{")]
    public void Compile_BadTemplate_ThrowsFormatException(string template)
    {
        // Act + Assert
        Assert.Throws<FormatException>(() => PathRewriter.Compile(template));
    }
}
