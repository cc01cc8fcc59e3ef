namespace ApiGate.Core.Transforms;

/// <summary>
/// The fields that frame a message's body, <c>Content-Length</c> and <c>Transfer-Encoding</c>: the gateway sets them from
/// the body it sends (an edited body gets its own length), so a transform may not add, set or remove them. A length that
/// is not the body's breaks the exchange for every request of the route (the upstream or the server cuts it off, and
/// the client gets a 502 that blames the upstream).
/// </summary>
public static class FramingHeaders
{
    /// <summary>True for <c>Content-Length</c> and <c>Transfer-Encoding</c>, in any case.</summary>
    public static bool Contains(string name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why <paramref name="operations"/> may not be written, naming its first operation on a framing field; null when it has none.</summary>
    public static string? ProblemIn(string field, NameValueOperations operations)
    {
        foreach (var name in operations.SetValues.Select(p => p.Key).Concat(operations.AddValues.Select(p => p.Key)).Concat(operations.RemoveNames))
        {
            if (Contains(name))
            {
                return $"{field}: '{name}' cannot be changed by a transform: the gateway sets Content-Length and Transfer-Encoding from the body it sends";
            }
        }

        return null;
    }
}
