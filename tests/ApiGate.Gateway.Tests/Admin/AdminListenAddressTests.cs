using System.Net;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Parsing and validation of <c>APIGATE_ADMIN_LISTEN</c> values.</summary>
public sealed class AdminListenAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:9091", "127.0.0.1", 9091, "http://127.0.0.1:9091")]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0, "http://127.0.0.1:0")]
    [InlineData("10.1.2.3:65535", "10.1.2.3", 65535, "http://10.1.2.3:65535")]
    [InlineData("[::1]:9091", "::1", 9091, "http://[::1]:9091")]
    [InlineData("[::]:9091", "::", 9091, "http://[::]:9091")]
    [InlineData("0.0.0.0:9091", "0.0.0.0", 9091, "http://0.0.0.0:9091")]
    [InlineData("*:9091", "0.0.0.0", 9091, "http://0.0.0.0:9091")]
    [InlineData("localhost:9091", null, 9091, "http://localhost:9091")]
    public void TryParse_ValidValues_GiveAddressAndPort(string value, string? address, int port, string url)
    {
        Assert.True(AdminListenAddress.TryParse(value, out var parsed, out var problem), problem);

        Assert.Equal(address is null ? null : IPAddress.Parse(address), parsed!.Address);
        Assert.Equal(port, parsed.Port);
        Assert.Equal(url, parsed.Url(port));
    }

    [Theory]
    [InlineData("9091", "is not HOST:PORT")]
    [InlineData(":9091", "is not HOST:PORT")]
    [InlineData("127.0.0.1:", "is not HOST:PORT")]
    [InlineData("127.0.0.1:port", "port 'port' is not a number")]
    [InlineData("127.0.0.1:-1", "port '-1' is not a number")]
    [InlineData("127.0.0.1:65536", "port '65536' is not a number")]
    [InlineData("127.0.0.1: 80", "port ' 80' is not a number")]
    [InlineData("::1:9091", "IPv6 address in brackets")]
    [InlineData("[::1]", "is not HOST:PORT")]
    [InlineData("[::1]9091", "is not HOST:PORT")]
    [InlineData("[127.0.0.1]:9091", "not an IPv6 address in brackets")]
    [InlineData("[nope]:9091", "not an IPv6 address in brackets")]
    [InlineData("admin.internal:9091", "host 'admin.internal' is not an IP address or localhost")]
    [InlineData("1:9091", "host '1' is not an IP address")]
    [InlineData("localhost:0", "localhost needs a fixed port")]
    public void TryParse_InvalidValues_ExplainWhy(string value, string expected)
    {
        Assert.False(AdminListenAddress.TryParse(value, out var parsed, out var problem));

        Assert.Null(parsed);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SamePortAsServer_IsRefused()
    {
        var options = new GatewayOptions { Port = 8080, AdminListen = "127.0.0.1:8080" };

        var error = Assert.Throws<ArgumentException>(() => new GatewayOptionsValidator().ThrowIfInvalid(options));

        Assert.Contains("admin.listen (APIGATE_ADMIN_LISTEN): ", error.Message, StringComparison.Ordinal);
        Assert.Contains("port 8080 is the server port", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SamePortAsH2cPortOnAnotherAddress_IsRefused()
    {
        // The listeners are told apart by port number: the h2c port on 127.0.0.1 would serve the admin API and /metrics.
        var options = new GatewayOptions { Host = "127.0.0.1", Port = 8080, H2cPort = 9091, AdminListen = "127.0.0.2:9091" };

        var error = Assert.Throws<ArgumentException>(() => new GatewayOptionsValidator().ThrowIfInvalid(options));

        Assert.Contains("admin.listen (APIGATE_ADMIN_LISTEN): '127.0.0.2:9091': port 9091 is the cleartext HTTP/2 port (server.h2c_port)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:9091")]
    [InlineData("127.0.0.1:0")]
    public void Validate_EmptyOrOwnPort_IsAccepted(string value)
    {
        var options = new GatewayOptions { Port = 0, AdminListen = value };

        new GatewayOptionsValidator().ThrowIfInvalid(options);

        Assert.Equal(value, options.AdminListen);
    }

    [Fact]
    public void Validate_BadValue_NamesTheSetting()
    {
        var options = new GatewayOptions { AdminListen = "internal" };

        var error = Assert.Throws<ArgumentException>(() => new GatewayOptionsValidator().ThrowIfInvalid(options));

        Assert.StartsWith("invalid configuration: admin.listen (APIGATE_ADMIN_LISTEN): 'internal' is not HOST:PORT", error.Message, StringComparison.Ordinal);
    }
}
