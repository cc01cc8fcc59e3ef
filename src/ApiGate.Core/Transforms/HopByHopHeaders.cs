namespace ApiGate.Core.Transforms;

/// <summary>
/// The fields that describe one connection rather than the message (RFC 9110 §7.6.1): <c>Connection</c>,
/// <c>Keep-Alive</c>, <c>Proxy-Connection</c>, <c>TE</c>, <c>Trailer</c> and <c>Upgrade</c>. The gateway speaks for
/// itself on each of its connections, so a transform may not add or set them: on the upstream request
/// <c>Connection: X-User-ID</c> makes a compliant upstream drop the identity header it names, and <c>Upgrade</c> asks it
/// to switch protocols; on the response they would tell the client how to treat a connection the gateway manages.
/// <c>Proxy-Authenticate</c> and <c>Proxy-Authorization</c> are not among them: RFC 9110 (§11.7) lets a proxy pass them on,
/// unlike RFC 2616. Refused when written; one stored before that is left out when it runs. A <c>remove</c> is allowed.
/// </summary>
public static class HopByHopHeaders
{
    private static readonly System.Collections.Frozen.FrozenSet<string> Names = System.Collections.Frozen.FrozenSet.ToFrozenSet(
        ["Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"], StringComparer.OrdinalIgnoreCase);

    /// <summary>True for a hop-by-hop field, in any case.</summary>
    public static bool Contains(string name) => Names.Contains(name);

    /// <summary>Why <paramref name="operations"/> may not be written, naming its first add or set of a hop-by-hop field; null when it has none.</summary>
    public static string? ProblemIn(string field, NameValueOperations operations)
    {
        foreach (var name in operations.SetValues.Select(p => p.Key).Concat(operations.AddValues.Select(p => p.Key)))
        {
            if (Contains(name))
            {
                return $"{field}: '{name}' is a hop-by-hop header; Connection, Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade describe "
                    + "one connection, which the gateway manages itself, and a transform may not add or set them (Connection would make the "
                    + "receiver drop the headers it names)";
            }
        }

        return null;
    }
}
