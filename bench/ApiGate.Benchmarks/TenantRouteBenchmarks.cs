using ApiGate.Core.Routing;
using BenchmarkDotNet.Attributes;

namespace ApiGate.Benchmarks;

/// <summary>
/// Matching among many routes whose first segment is a capture (<c>/{tenant}/resource{i}/*</c>, one per resource of a
/// tenant-first API): the request names the last resource, and one path matches none.
/// </summary>
[MemoryDiagnoser]
public class TenantRouteBenchmarks
{
    private RouteTable _table = null!;
    private readonly NoHeaders _headers = new();
    private string _lastResource = "";

    [Params(10, 1000)]
    public int Routes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var definitions = new List<RouteDefinition>();
        for (var i = 0; i < Routes; i++)
        {
            definitions.Add(new RouteDefinition { Id = "rt_" + i, Name = "r" + i, Slug = "r" + i, PathPattern = $"/{{tenant}}/resource{i}/*" });
        }

        _table = RouteTable.Build(definitions, _ => null);
        _lastResource = $"/acme/resource{Routes - 1}/42";
    }

    [Benchmark]
    public bool MatchLastResource() => _table.TryMatch("api.example.com", "GET", _lastResource, _headers, out _);

    [Benchmark]
    public bool MatchNothing() => _table.TryMatch("api.example.com", "GET", "/acme/unknown/42", _headers, out _);

    private sealed class NoHeaders : IRequestHeaders
    {
        public bool HasValue(string name, string value) => false;
    }
}
