using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;

namespace ApiGate.Core.Tests.Rewriting;

/// <summary>Matches a request against one route carrying a rewrite, then applies the rewrite.</summary>
internal static class RewriteHarness
{
    public static string Rewrite(string pattern, PathMatchType type, string rewrite, FakeRewriteRequest request)
    {
        var definition = TestRoutes.Route("r", pattern, type) with { PathRewrite = rewrite };
        var table = TestRoutes.Table(definition);
        Assert.True(table.TryMatch(request.Host, request.Method, request.Path, FakeHeaders.None, out var match), "the route must match the request");
        var rewriter = Assert.IsAssignableFrom<PathRewriter>(match.Route.Rewriter);
        return rewriter.Rewrite(match, request);
    }

    public static string Rewrite(string pattern, PathMatchType type, string rewrite, string path) =>
        Rewrite(pattern, type, rewrite, new FakeRewriteRequest { Path = path });
}
