using ApiGate.Core.Routing;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Tests.Text;

public sealed class WireNamesTests
{
    [Theory]
    [InlineData(RouteProtocol.Http, "http")]
    [InlineData(RouteProtocol.HttpStream, "http_stream")]
    [InlineData(RouteProtocol.Sse, "sse")]
    [InlineData(RouteProtocol.Websocket, "websocket")]
    public void Of_RouteProtocol_ReturnsSnakeCase(RouteProtocol value, string expected)
    {
        // Act
        var name = WireNames.Of(value);

        // Assert
        Assert.Equal(expected, name);
    }

    [Theory]
    [InlineData(MeteringMode.ResponseField, "response_field")]
    [InlineData(MeteringMode.Request, "request")]
    public void Of_MeteringMode_ReturnsSnakeCase(MeteringMode value, string expected)
    {
        // Act
        var name = WireNames.Of(value);

        // Assert
        Assert.Equal(expected, name);
    }

    [Theory]
    [InlineData("http_stream", RouteProtocol.HttpStream)]
    [InlineData("HTTP_STREAM", RouteProtocol.HttpStream)]
    [InlineData(" sse ", RouteProtocol.Sse)]
    [InlineData("WebSocket", RouteProtocol.Websocket)]
    public void TryParse_KnownWireName_ReturnsValue(string text, RouteProtocol expected)
    {
        // Act
        var ok = WireNames.TryParse<RouteProtocol>(text, out var value);

        // Assert
        Assert.True(ok);
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("HttpStream")]
    [InlineData("http-stream")]
    [InlineData("1")]
    [InlineData("grpc")]
    public void TryParse_UnknownWireName_ReturnsFalse(string? text)
    {
        // Act
        var ok = WireNames.TryParse<RouteProtocol>(text, out _);

        // Assert
        Assert.False(ok);
    }

    [Fact]
    public void List_Enum_ReturnsSortedWireNames()
    {
        // Act
        var protocols = WireNames.List<RouteProtocol>();
        var matchTypes = WireNames.List<PathMatchType>();

        // Assert
        Assert.Equal("http, http_stream, sse, websocket", protocols);
        Assert.Equal("exact, prefix, regex", matchTypes);
    }

    [Fact]
    public void OfAndTryParse_EveryValue_RoundTrips()
    {
        // Act + Assert
        foreach (var value in Enum.GetValues<UpstreamAuthType>())
        {
            Assert.True(WireNames.TryParse<UpstreamAuthType>(WireNames.Of(value), out var parsed));
            Assert.Equal(value, parsed);
        }
    }
}
