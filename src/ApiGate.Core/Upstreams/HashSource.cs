using ApiGate.Core.Text;

namespace ApiGate.Core.Upstreams;

/// <summary>What the <c>hash</c> policy hashes.</summary>
public enum HashSourceKind
{
    /// <summary>Nothing configured.</summary>
    None,
    /// <summary>A request header's value (<c>header:&lt;name&gt;</c>).</summary>
    Header,
    /// <summary>The caller's API key id (<c>key</c>); public routes fall back to round robin.</summary>
    Key,
    /// <summary>The client's IP address (<c>client_ip</c>).</summary>
    ClientIp,
}

/// <summary>A parsed <c>hash_on</c> value: <c>header:X-Session</c>, <c>key</c> or <c>client_ip</c>.</summary>
public readonly record struct HashSource(HashSourceKind Kind, string HeaderName)
{
    /// <summary>Parses a <c>hash_on</c> value; the empty string is <see cref="HashSourceKind.None"/>. Null error = valid.</summary>
    public static HashSource Parse(string text, out string? error)
    {
        error = null;
        var value = text.Trim();
        if (value.Length == 0)
        {
            return default;
        }

        if (value.Equals("key", StringComparison.OrdinalIgnoreCase))
        {
            return new HashSource(HashSourceKind.Key, "");
        }

        if (value.Equals("client_ip", StringComparison.OrdinalIgnoreCase))
        {
            return new HashSource(HashSourceKind.ClientIp, "");
        }

        if (value.StartsWith("header:", StringComparison.OrdinalIgnoreCase))
        {
            var name = value[7..].Trim();
            if (!HttpTokens.IsToken(name))
            {
                error = $"'{name}' is not a valid header name";
                return default;
            }

            return new HashSource(HashSourceKind.Header, name);
        }

        error = $"'{text}' is not one of header:<name>, key, client_ip";
        return default;
    }

    /// <summary>The canonical wire form (<c>header:X-Session</c>, <c>key</c>, <c>client_ip</c>, or empty).</summary>
    public override string ToString() => Kind switch
    {
        HashSourceKind.Header => "header:" + HeaderName,
        HashSourceKind.Key => "key",
        HashSourceKind.ClientIp => "client_ip",
        _ => "",
    };
}
