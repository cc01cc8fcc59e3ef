using System.Globalization;
using System.Net;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// A parsed <c>APIGATE_ADMIN_LISTEN</c> value: <c>HOST:PORT</c> where HOST is an IPv4 address, a bracketed IPv6
/// address, <c>localhost</c>, or <c>0.0.0.0</c>/<c>*</c>/<c>[::]</c> for every interface.
/// </summary>
/// <param name="Address">The address to bind; null for <c>localhost</c> (both loopback addresses).</param>
/// <param name="Port">The port; 0 picks a free one (not with <c>localhost</c>).</param>
internal sealed record AdminListenAddress(IPAddress? Address, int Port)
{
    private const string Example = "e.g. 127.0.0.1:9091 or [::1]:9091";

    /// <summary>
    /// Whether only this machine can reach the listener: <c>localhost</c>, an address in 127.0.0.0/8 or <c>::1</c> (also
    /// written as an IPv4-mapped IPv6 address, <c>[::ffff:127.0.0.1]</c>). Every interface (<c>0.0.0.0</c>, <c>[::]</c>) is not.
    /// </summary>
    public bool IsLoopback => Address is null || IsLoopbackAddress(Address);

    /// <summary>Whether <paramref name="address"/> is in 127.0.0.0/8 or is <c>::1</c>, also as an IPv4-mapped IPv6 address.</summary>
    public static bool IsLoopbackAddress(IPAddress address) => IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>The address as a URL, with the port as configured (0 until bound).</summary>
    public string Url(int port, string scheme = "http") => scheme + "://" + (Address switch
    {
        null => "localhost",
        { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } v6 => "[" + v6 + "]",
        var v4 => v4.ToString(),
    }) + ":" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses <paramref name="value"/>; on failure <paramref name="problem"/> says why.</summary>
    public static bool TryParse(string value, out AdminListenAddress? address, out string? problem)
    {
        address = null;
        problem = null;
        // A bracketed IPv6 host holds colons of its own: the port separator is the one after ']'.
        var colon = value.StartsWith('[') ? value.IndexOf("]:", StringComparison.Ordinal) + 1 : value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
        {
            problem = $"'{value}' is not HOST:PORT ({Example})";
            return false;
        }

        var host = value[..colon];
        var portText = value[(colon + 1)..];
        if (!portText.All(char.IsAsciiDigit) || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            problem = $"'{value}': port '{portText}' is not a number from 0 to 65535";
            return false;
        }

        IPAddress? ip;
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (!IPAddress.TryParse(host[1..^1], out ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                problem = $"'{value}': '{host}' is not an IPv6 address in brackets ({Example})";
                return false;
            }
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            problem = $"'{value}': write an IPv6 address in brackets, e.g. [::1]:9091";
            return false;
        }
        else if (host is "*" or "0.0.0.0")
        {
            ip = IPAddress.Any;
        }
        else if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            if (port == 0)
            {
                problem = $"'{value}': localhost needs a fixed port (use 127.0.0.1:0 for a free port)";
                return false;
            }

            ip = null;
        }
        else if (!IPAddress.TryParse(host, out ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || host.Count(c => c == '.') != 3)
        {
            problem = $"'{value}': host '{host}' is not an IP address or localhost ({Example})";
            return false;
        }

        address = new AdminListenAddress(ip, port);
        return true;
    }

    /// <summary>Null when <paramref name="value"/> can be the admin listener next to the main port; else why not.</summary>
    public static string? Validate(string value, int mainPort)
    {
        if (!TryParse(value, out var address, out var problem))
        {
            return problem;
        }

        // Requests are told apart by the port they arrived on, so the two listeners cannot share one.
        return address!.Port != 0 && address.Port == mainPort
            ? $"'{value}': port {address.Port} is the server port (server.port); the admin listener needs a port of its own"
            : null;
    }
}
