using ApiGate.Gateway.Errors;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// A request body whose read failed: the client went away (recorded 499, nothing answered: a reset, an abort, or its
/// HTTP/1.1 connection closed before the body's end) or sent something the server refused (answered as the client's error). Told by the failure itself, as the server cancels RequestAborted a moment
/// after the read has seen a reset; a bidirectional gRPC call cancelled by its client was once recorded as 400.
/// </summary>
public sealed class ClientWentAwayTests
{
    public static TheoryData<string, Exception?, bool> Failures() => new()
    {
        { "HTTP/2 stream reset by the client", new IOException("The HTTP/2 stream was reset by the client."), true },
        { "connection reset", new ConnectionResetException("Connection reset by peer"), true },
        { "connection aborted (an OperationCanceledException)", new ConnectionAbortedException("The connection was aborted"), true },
        { "the reset wrapped by the forwarder", new HttpRequestException("copy failed", new IOException("The HTTP/2 stream was reset by the client.")), true },
        { "malformed chunk framing", new BadHttpRequestException("Bad chunk size data.", StatusCodes.Status400BadRequest), false },
        { "a chunk size past 64 bits (the server's I/O error around the overflow)", new IOException("Bad chunk size data.", new OverflowException()), false },
        { "HTTP/1.1 body ended by its connection closing", new BadHttpRequestException("Unexpected end of request content.", StatusCodes.Status400BadRequest), true },
        { "the same, an I/O error around the refusal", new IOException("read failed", new BadHttpRequestException("Unexpected end of request content.", StatusCodes.Status400BadRequest)), true },
        { "HTTP/2 body shorter than its Content-Length (the stream still open)", new BadHttpRequestException("Less data received than specified in the Content-Length header.", StatusCodes.Status400BadRequest), false },
        { "too large", new BadHttpRequestException("Request body too large. The max request body size is 10 bytes.", StatusCodes.Status413PayloadTooLarge), false },
        { "too slow", new BadHttpRequestException("Reading the request body timed out due to data arriving too slowly.", StatusCodes.Status408RequestTimeout), false },
        { "no exception", null, false },
        { "something else", new InvalidOperationException("unexpected"), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void RequestBodyClient_WentAwayOnlyForAResetOrAbortTheServerDidNotRefuse(string what, Exception? exception, bool wentAway)
    {
        // Act
        var actual = ClientFaults.WentAway(ForwarderError.RequestBodyClient, exception);

        // Assert
        Assert.True(actual == wentAway, $"{what}: went away {actual}, expected {wentAway}");
    }

    [Theory]
    [InlineData(ForwarderError.Request)]
    [InlineData(ForwarderError.RequestBodyDestination)]
    [InlineData(ForwarderError.ResponseBodyClient)]
    [InlineData(ForwarderError.RequestBodyCanceled)]
    public void OtherErrors_NeverTheBodyReadsOwnGoingAway(ForwarderError error)
    {
        // Act + Assert: the upstream's side failing with an I/O error is the upstream's failure, not the client leaving
        Assert.False(ClientFaults.WentAway(error, new IOException("reset")));
    }
}
