using System.Net;
using ApiGate.Gateway.Proxies;
using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Tests.Proxies;

/// <summary>The client address from a peer and its forwarding headers: pure, no server.</summary>
public sealed class ForwardedChainTests
{
    private static readonly IPAddress Proxy = IPAddress.Parse("10.0.0.1");

    private static TrustedProxies Trusted(string list)
    {
        Assert.True(TrustedProxies.TryParse(list, out var proxies, out var problem), problem);
        return proxies;
    }

    private static (string Client, string Chain) Resolve(
        string peer, string list, StringValues forwardedFor = default, StringValues forwarded = default, StringValues realIp = default)
    {
        var client = ForwardedChain.Resolve(IPAddress.Parse(peer), forwardedFor, forwarded, realIp, Trusted(list), out var chain);
        return (client.ToString(), chain);
    }

    [Fact]
    public void Resolve_UntrustedPeer_HeadersIgnored()
    {
        var (client, chain) = Resolve("198.51.100.4", "10.0.0.0/8", "203.0.113.7", "for=192.0.2.1", "192.0.2.2");

        Assert.Equal("198.51.100.4", client);
        Assert.Equal("198.51.100.4", chain);
    }

    [Fact]
    public void Resolve_NoTrustedProxies_PeerIsClient()
    {
        var (client, chain) = Resolve("10.0.0.1", "", "203.0.113.7");

        Assert.Equal("10.0.0.1", client);
        Assert.Equal("10.0.0.1", chain);
    }

    [Fact]
    public void Resolve_ChainThroughTrustedProxies_RightMostUntrustedIsClient()
    {
        var (client, chain) = Resolve("10.0.0.1", "10.0.0.0/8", "198.51.100.9, 203.0.113.7, 10.1.2.3");

        Assert.Equal("203.0.113.7", client);
        Assert.Equal("203.0.113.7, 10.1.2.3, 10.0.0.1", chain); // the forged left-most entry is not passed on
    }

    [Fact]
    public void Resolve_AllHopsTrusted_LeftMostIsClient()
    {
        var (client, chain) = Resolve("10.0.0.1", "10.0.0.0/8", "10.9.9.9, 10.1.2.3");

        Assert.Equal("10.9.9.9", client);
        Assert.Equal("10.9.9.9, 10.1.2.3, 10.0.0.1", chain);
    }

    [Fact]
    public void Resolve_TrustedPeerWithoutHeaders_PeerIsClient()
    {
        var (client, chain) = Resolve("10.0.0.1", "10.0.0.0/8");

        Assert.Equal("10.0.0.1", client);
        Assert.Equal("10.0.0.1", chain);
    }

    [Fact]
    public void Resolve_SeveralHeaderLines_ReadAsOneListInOrder()
    {
        var (client, chain) = Resolve("10.0.0.1", "10.0.0.0/8", new StringValues(["192.0.2.50, 203.0.113.7", "10.1.2.3"]));

        Assert.Equal("203.0.113.7", client);
        Assert.Equal("203.0.113.7, 10.1.2.3, 10.0.0.1", chain);
    }

    [Theory]
    [InlineData("203.0.113.7, not-an-ip, 10.1.2.3", "10.1.2.3")] // garbage: the walk stops at the last trusted hop
    [InlineData("203.0.113.7, unknown", "10.0.0.1")]
    [InlineData("203.0.113.7,, 10.1.2.3", "10.1.2.3")]
    [InlineData("203.0.113.7, 010.1.2.3", "10.0.0.1")] // octal-looking
    [InlineData("203.0.113.7, 0x0a.1.2.3", "10.0.0.1")]
    [InlineData("203.0.113.7, 167838211", "10.0.0.1")] // 10.1.2.3 as one number
    [InlineData("fe80::1%eth0", "10.0.0.1")]
    [InlineData("203.0.113.7:4711", "203.0.113.7")] // a port is dropped
    [InlineData("203.0.113.7:", "10.0.0.1")]
    [InlineData("203.0.113.7:99999999", "10.0.0.1")]
    [InlineData("[2001:db8::7]:4711", "2001:db8::7")]
    [InlineData("[2001:db8::7]", "2001:db8::7")]
    [InlineData("2001:db8::7", "2001:db8::7")]
    [InlineData("[203.0.113.7]", "10.0.0.1")] // brackets hold IPv6 only
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("  203.0.113.7\t", "203.0.113.7")]
    [InlineData("203.0.113.7\r\nX-Evil: 1", "10.0.0.1")]
    public void Resolve_MalformedOrDecoratedEntries_HandledStrictly(string forwardedFor, string expected)
    {
        var (client, _) = Resolve("10.0.0.1", "10.0.0.0/8", forwardedFor);

        Assert.Equal(expected, client);
    }

    [Theory]
    [InlineData("for=203.0.113.7", "203.0.113.7")]
    [InlineData("for=192.0.2.60;proto=http;by=203.0.113.43, for=10.1.2.3", "192.0.2.60")]
    [InlineData("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17")]
    [InlineData("proto=https;for=\"203.0.113.7:80\"", "203.0.113.7")]
    [InlineData("for=_hidden, for=10.1.2.3", "10.1.2.3")] // obfuscated identifier: stop at the trusted hop
    [InlineData("for=unknown", "10.0.0.1")]
    [InlineData("by=203.0.113.43", "10.0.0.1")] // no for=
    [InlineData("for=\"[2001:db8::1\"", "10.0.0.1")]
    public void Resolve_ForwardedHeader_ForNodesRead(string forwarded, string expected)
    {
        var (client, _) = Resolve("10.0.0.1", "10.0.0.0/8", forwarded: forwarded);

        Assert.Equal(expected, client);
    }

    [Fact]
    public void Resolve_BothHeaders_XForwardedForWins()
    {
        var (client, _) = Resolve("10.0.0.1", "10.0.0.0/8", "203.0.113.7", "for=192.0.2.1");

        Assert.Equal("203.0.113.7", client);
    }

    [Fact]
    public void Resolve_OnlyXRealIp_ItIsTheClient()
    {
        var (client, chain) = Resolve("10.0.0.1", "10.0.0.0/8", realIp: "203.0.113.7");

        Assert.Equal("203.0.113.7", client);
        Assert.Equal("203.0.113.7, 10.0.0.1", chain);
    }

    [Fact]
    public void Resolve_HugeListOfTrustedHops_StopsAfterMaxHops()
    {
        var hops = string.Join(", ", Enumerable.Repeat("10.2.2.2", 10_000));
        var (client, chain) = Resolve("10.0.0.1", "10.0.0.0/8", "203.0.113.7, " + hops);

        Assert.Equal("10.2.2.2", client); // never reached the forged-looking left end
        Assert.Equal(ForwardedChain.MaxHops + 1, chain.Split(", ").Length);
    }

    [Fact]
    public void Resolve_HugeListOfUntrustedEntries_RightMostWins()
    {
        var hops = string.Join(", ", Enumerable.Range(0, 10_000).Select(i => $"192.0.{i % 250}.{i % 200}"));
        var (client, _) = Resolve("10.0.0.1", "10.0.0.0/8", hops + ", 203.0.113.7");

        Assert.Equal("203.0.113.7", client);
    }

    [Fact]
    public void Resolve_Ipv6TrustedNetworkAndMappedPeer_Matched()
    {
        var (v6Client, _) = Resolve("fd00::5", "fd00::/8", "2001:db8::9");
        var (mappedClient, mappedChain) = Resolve("::ffff:10.0.0.1", "10.0.0.0/8", "203.0.113.7");

        Assert.Equal("2001:db8::9", v6Client);
        Assert.Equal("203.0.113.7", mappedClient);
        Assert.Equal("203.0.113.7, 10.0.0.1", mappedChain);
    }

    [Theory]
    [InlineData("10.0.0.0/8, 192.0.2.10, fd00::/8", 3)]
    [InlineData(" 127.0.0.1 ,, ::1 ", 2)]
    [InlineData("", 0)]
    public void TryParse_ValidLists_Accepted(string text, int count)
    {
        Assert.True(TrustedProxies.TryParse(text, out var proxies, out var problem), problem);
        Assert.Equal(count, proxies.Networks.Count);
        Assert.Equal(count == 0, proxies.IsEmpty);
    }

    [Theory]
    [InlineData("10.0.0.1/8", "bits set after the /8 prefix (write the network's first address, e.g. 10.0.0.0/8)")]
    [InlineData("10.0.0.0/33", "prefix length must be a number from 0 to 32")]
    [InlineData("10.0.0.0/abc", "prefix length must be a number from 0 to 32")]
    [InlineData("proxy.internal", "'proxy.internal' is not an IP address or CIDR")]
    [InlineData("10.1", "'10.1' is not an IP address or CIDR")]
    public void TryParse_BadEntry_RefusedNamingIt(string text, string reason)
    {
        Assert.False(TrustedProxies.TryParse(text, out _, out var problem));
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Contains_AddressInsideAndOutside_Answered()
    {
        var trusted = Trusted("10.0.0.0/8, 192.0.2.10");

        Assert.True(trusted.Contains(Proxy));
        Assert.True(trusted.Contains(IPAddress.Parse("192.0.2.10")));
        Assert.False(trusted.Contains(IPAddress.Parse("192.0.2.11")));
        Assert.False(trusted.Contains(IPAddress.Parse("::1")));
    }
}
