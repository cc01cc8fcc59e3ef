using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Proxies;

/// <summary>
/// Who the client is, from the connection's peer and the forwarding headers it sent. A pure function over plain values
/// (no <c>HttpContext</c>), unit-tested without a server.
/// <para>
/// Only a trusted peer is believed. Its chain is walked from the right (the hop nearest the gateway) and the client is
/// the first address that is not itself a trusted proxy. The walk stops, keeping the last address it reached, at an entry
/// that is not an IP address (garbage, <c>unknown</c>, an obfuscated <c>for=_hidden</c>) or after
/// <see cref="MaxHops"/> entries, so neither a forged nor a huge header can choose an address further left.
/// </para>
/// <para>
/// The chain read is <c>X-Forwarded-For</c>; when the peer sent none, RFC 7239 <c>Forwarded</c> (<c>for=</c> of each
/// element); when neither, <c>X-Real-IP</c> (one address). Entries may carry a port (<c>192.0.2.1:4711</c>,
/// <c>[2001:db8::1]:4711</c>), which is dropped; an IPv6 address may be bare or in brackets, quoted in <c>Forwarded</c>.
/// </para>
/// </summary>
internal static class ForwardedChain
{
    /// <summary>Entries examined at most, from the right; a longer chain ends the walk where it reached.</summary>
    public const int MaxHops = 32;

    /// <summary>
    /// The client address and the verified part of the chain, left to right: the client, each trusted proxy after it,
    /// then <paramref name="peer"/> (what goes upstream as <c>X-Forwarded-For</c>). An untrusted peer is the client and
    /// the whole chain.
    /// </summary>
    public static IPAddress Resolve(
        IPAddress peer, StringValues forwardedFor, StringValues forwarded, StringValues realIp, TrustedProxies trusted, out string chain)
    {
        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4();
        }

        if (!trusted.Contains(peer))
        {
            chain = peer.ToString();
            return peer;
        }

        var path = new List<IPAddress>(4) { peer };
        if (forwardedFor.Count > 0)
        {
            Walk(forwardedFor, rfc7239: false, trusted, path);
        }
        else if (forwarded.Count > 0)
        {
            Walk(forwarded, rfc7239: true, trusted, path);
        }
        else if (realIp.Count == 1 && TryParseNode(realIp[0].AsSpan(), out var real))
        {
            path.Add(real);
        }

        var client = path[^1];
        chain = Join(path);
        return client;
    }

    /// <summary>An IPv4 address written as four decimal numbers without leading zeros (<c>IPAddress.TryParse</c> also takes <c>1</c>, <c>0x7f.1</c> and octal).</summary>
    public static bool IsDottedQuad(ReadOnlySpan<char> text)
    {
        var parts = 0;
        var digits = 0;
        var value = 0;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (digits == 0)
                {
                    return false;
                }

                parts++;
                digits = 0;
                value = 0;
            }
            else if (char.IsAsciiDigit(c))
            {
                if ((digits > 0 && value == 0) || ++digits > 3)
                {
                    return false; // leading zero or too long
                }

                value = (value * 10) + (c - '0');
                if (value > 255)
                {
                    return false;
                }
            }
            else
            {
                return false;
            }
        }

        return parts == 3 && digits > 0;
    }

    /// <summary>One chain entry as an address: IPv4 or IPv6, bracketed or bare, with or without a port; false for anything else.</summary>
    public static bool TryParseNode(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        text = text.Trim(" \t");
        if (text.Length is 0 or > 64)
        {
            return false;
        }

        ReadOnlySpan<char> host;
        if (text[0] == '[')
        {
            var close = text.IndexOf(']');
            if (close < 0 || !IsPortSuffix(text[(close + 1)..]))
            {
                return false;
            }

            host = text[1..close];
            if (!host.Contains(':'))
            {
                return false; // brackets hold IPv6 only
            }
        }
        else
        {
            var colon = text.IndexOf(':');
            if (colon >= 0 && colon == text.LastIndexOf(':'))
            {
                // One colon: IPv4 with a port.
                if (!IsPortSuffix(text[colon..]))
                {
                    return false;
                }

                host = text[..colon];
            }
            else
            {
                host = text;
            }
        }

        if (host.Contains('%') || !IPAddress.TryParse(host, out var parsed))
        {
            return false;
        }

        if (parsed.AddressFamily == AddressFamily.InterNetwork && !IsDottedQuad(host))
        {
            return false;
        }

        address = parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed;
        return true;
    }

    /// <summary>Walks the chain from the right, adding each reached address to <paramref name="path"/>.</summary>
    private static void Walk(StringValues values, bool rfc7239, TrustedProxies trusted, List<IPAddress> path)
    {
        var examined = 0;
        for (var v = values.Count - 1; v >= 0; v--)
        {
            var value = values[v] ?? "";
            var end = value.Length;
            while (true)
            {
                var comma = end == 0 ? -1 : value.LastIndexOf(',', end - 1);
                var entry = value.AsSpan(comma + 1, end - comma - 1);
                if (++examined > MaxHops)
                {
                    return;
                }

                if (!(rfc7239 ? TryParseForwardedElement(entry, out var hop) : TryParseNode(entry, out hop)))
                {
                    return;
                }

                path.Add(hop);
                if (!trusted.Contains(hop))
                {
                    return;
                }

                if (comma < 0)
                {
                    break;
                }

                end = comma;
            }
        }
    }

    /// <summary>The <c>for=</c> node of one RFC 7239 element (<c>for=192.0.2.60;proto=https;by=203.0.113.43</c>).</summary>
    private static bool TryParseForwardedElement(ReadOnlySpan<char> element, out IPAddress address)
    {
        address = IPAddress.None;
        foreach (var range in element.Split(';'))
        {
            var pair = element[range].Trim(" \t");
            var equals = pair.IndexOf('=');
            if (equals < 0 || !pair[..equals].Trim(" \t").Equals("for", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var node = pair[(equals + 1)..].Trim(" \t");
            if (node.Length >= 2 && node[0] == '"' && node[^1] == '"')
            {
                node = node[1..^1];
            }

            return TryParseNode(node, out address);
        }

        return false;
    }

    private static bool IsPortSuffix(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return true;
        }

        if (text[0] != ':' || text.Length is < 2 or > 6)
        {
            return false;
        }

        foreach (var c in text[1..])
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static string Join(List<IPAddress> path)
    {
        if (path.Count == 1)
        {
            return path[0].ToString();
        }

        var parts = new string[path.Count];
        for (var i = 0; i < path.Count; i++)
        {
            parts[path.Count - 1 - i] = path[i].ToString();
        }

        return string.Join(", ", parts);
    }
}
