using ApiGate.Core.Routing;
using BenchmarkDotNet.Attributes;

namespace ApiGate.Benchmarks;

/// <summary>
/// Route matching and path rewriting on the compiled table, with a realistic table size: many literal prefixes,
/// some parameterised paths, a few regex routes, several hosts.
/// </summary>
[MemoryDiagnoser]
public class RouteMatchingBenchmarks
{
    private RouteTable _table = null!;
    private RouteMatch _templateMatch;
    private RouteMatch _expressionMatch;
    private PathRewriter _template = null!;
    private PathRewriter _expression = null!;
    private readonly NoHeaders _headers = new();
    private readonly Request _request = new();

    [Params(10, 500)]
    public int Routes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var definitions = new List<RouteDefinition>();
        for (var i = 0; i < Routes; i++)
        {
            var (pattern, type) = (i % 10) switch
            {
                0 => ($"/svc{i}/users/{{id}}", PathMatchType.Exact),
                1 => ($"^/re{i}/[a-z]+/\\d+$", PathMatchType.Regex),
                _ => ($"/svc{i}/*", PathMatchType.Prefix),
            };
            definitions.Add(new RouteDefinition
            {
                Id = "rt_" + i,
                Name = "r" + i,
                Slug = "r" + i,
                PathPattern = pattern,
                MatchType = type,
                HostPattern = i % 7 == 0 ? $"h{i}.example.com" : "",
            });
        }

        definitions.Add(new RouteDefinition { Id = "api", Name = "api", Slug = "api", PathPattern = "/api/v1/*", PathRewrite = "/internal/$1" });
        definitions.Add(new RouteDefinition
        {
            Id = "users", Name = "users", Slug = "users", PathPattern = "/users/{id}", MatchType = PathMatchType.Exact, PathRewrite = "'/u/' + pathParams.id",
        });
        _table = RouteTable.Build(definitions, d => d.PathRewrite.Length == 0 ? null : PathRewriter.Compile(d.PathRewrite));
        _table.TryMatch("api.example.com", "GET", "/api/v1/orders/123", _headers, out _templateMatch);
        _table.TryMatch("api.example.com", "GET", "/users/42", _headers, out _expressionMatch);
        _template = _templateMatch.Route.Rewriter!;
        _expression = _expressionMatch.Route.Rewriter!;
    }

    [Benchmark]
    public bool MatchPrefix() => _table.TryMatch("api.example.com:8080", "GET", "/api/v1/orders/123", _headers, out _);

    [Benchmark]
    public bool MatchParameterised() => _table.TryMatch("api.example.com", "GET", "/users/42", _headers, out _);

    [Benchmark]
    public bool MatchNothing() => _table.TryMatch("api.example.com", "GET", "/nothing/here", _headers, out _);

    [Benchmark]
    public string RewriteTemplate() => _template.Rewrite(_templateMatch, _request);

    [Benchmark]
    public string RewriteExpression() => _expression.Rewrite(_expressionMatch, _request);

    private sealed class NoHeaders : IRequestHeaders
    {
        public bool HasValue(string name, string value) => false;

    }

    private sealed class Request : IRewriteRequest
    {
        public string Path => "/users/42";
        public string Method => "GET";
        public string Host => "api.example.com";
        public string? GetVariable(string name) => null;
        public IEnumerable<KeyValuePair<string, string>> Headers() => [];
        public IEnumerable<KeyValuePair<string, string>> Query() => [];
        public IReadOnlyDictionary<string, string>? Identity(string kind) => null;
    }
}
