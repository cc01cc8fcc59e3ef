using System.Globalization;
using ApiGate.Core.Routing;

namespace ApiGate.Web.Admin;

/// <summary>
/// A request that is only described ("try a path"): host, method, path with query and headers, given to the gateway's
/// own route table and path rewriter without any traffic. No caller: identity variables are empty.
/// </summary>
internal sealed class TrialRequest : IRewriteRequest, IRequestHeaders
{
    private readonly Dictionary<string, List<string>> _headers;
    private readonly Dictionary<string, string> _query;
    private readonly DateTimeOffset _now;

    /// <param name="path">The decoded path, as the gateway matches it.</param>
    /// <param name="query">The query string without its '?' (empty: none).</param>
    /// <param name="headers">The header lines in order; a name given on several lines has each of their values, as a request sent so has.</param>
    public TrialRequest(string host, string method, string path, string query, IEnumerable<KeyValuePair<string, string>> headers, DateTimeOffset now)
    {
        Host = host;
        Method = method;
        Path = path;
        _query = new Dictionary<string, string>(StringComparer.Ordinal);
        if (query.Length > 0)
        {
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
                _query.TryAdd(name, eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]));
            }
        }

        _headers = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            if (_headers.TryGetValue(name, out var values))
            {
                values.Add(value);
            }
            else
            {
                _headers[name] = [value];
            }
        }

        _now = now;
    }

    public string Path { get; }

    public string Method { get; }

    public string Host { get; }

    // One of the header's values, as the gateway compares them (RequestHeaders): X-Tier=gold and x-tier=silver both hold
    // for a request with an X-Tier line of each.
    public bool HasValue(string name, string value) => _headers.TryGetValue(name, out var values) && values.Contains(value, StringComparer.Ordinal);

    public string? GetVariable(string name) => name switch
    {
        "uuid" => Guid.NewGuid().ToString(),
        "timestamp" => _now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        "iso_time" => _now.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        "path" => Path,
        "method" => Method,
        "host" => Host,
        "client_ip" or "request_id" or "user_id" or "user_email" or "plan_id" or "plan_name" or "api_key_id" or "api_key_prefix" => "",
        _ when name.StartsWith("header.", StringComparison.Ordinal) => _headers.TryGetValue(name[7..], out var values) ? Joined(values) : null,
        _ when name.StartsWith("query.", StringComparison.Ordinal) => _query.GetValueOrDefault(name[6..]),
        _ => null,
    };

    public IEnumerable<KeyValuePair<string, string>> Headers() =>
        _headers.Select(h => new KeyValuePair<string, string>(h.Key.ToLowerInvariant(), Joined(h.Value)));

    public IEnumerable<KeyValuePair<string, string>> Query() => _query;

    public IReadOnlyDictionary<string, string>? Identity(string kind) => null;

    /// <summary>A header's values as the gateway reads one given on several lines: joined by commas.</summary>
    private static string Joined(List<string> values) => string.Join(',', values);
}
