using System.Net;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>
/// Pins down what YARP's forwarder reports for the failures the retry rules depend on, with a real socket each time.
/// </summary>
public sealed class ForwarderErrorTests
{
    [Fact]
    public async Task ConnectionRefused_IsRequestErrorWithConnectionError_AndRetryable()
    {
        var port = LoopbackPorts.Closed();

        var (error, exception) = await ForwardAsync($"http://127.0.0.1:{port}", "GET", "/x");

        Assert.Equal(ForwarderError.Request, error);
        Assert.Equal(HttpRequestError.ConnectionError, Assert.IsType<HttpRequestException>(exception).HttpRequestError);
        Assert.True(RetryRules.IsConnectFailure(error, exception));
        Assert.True(RetryRules.CanRetry(error, exception, "POST", requestBodyBytesRead: 0, responseStarted: false, isUpgrade: false));
    }

    [Fact]
    public async Task ResetBeforeResponse_IsRequestErrorButNotAConnectFailure()
    {
        await using var upstream = await TestUpstream.StartAsync();

        var (error, exception) = await ForwardAsync(upstream.Url, "GET", "/reset");

        Assert.Equal(ForwarderError.Request, error);
        Assert.False(RetryRules.IsConnectFailure(error, exception));
        Assert.True(RetryRules.CanRetry(error, exception, "GET", 0, false, false));
        Assert.False(RetryRules.CanRetry(error, exception, "POST", 0, false, false));
        Assert.False(RetryRules.CanRetry(error, exception, "GET", 0, false, isUpgrade: true));
    }

    [Theory]
    [InlineData("GET", true)]
    [InlineData("HEAD", true)]
    [InlineData("OPTIONS", true)]
    [InlineData("PUT", true)]
    [InlineData("DELETE", true)]
    [InlineData("POST", false)]
    [InlineData("PATCH", false)]
    public void CanRetry_ResetBeforeResponse_OnlyIdempotentMethods(string method, bool expected)
    {
        var reset = new HttpRequestException(HttpRequestError.ResponseEnded, "ended");

        Assert.Equal(expected, RetryRules.CanRetry(ForwarderError.Request, reset, method, 0, false, false));
    }

    [Fact]
    public void CanRetry_BodyStartedOrResponseStarted_Never()
    {
        var refused = new HttpRequestException(HttpRequestError.ConnectionError, "refused");

        Assert.False(RetryRules.CanRetry(ForwarderError.Request, refused, "GET", requestBodyBytesRead: 1, responseStarted: false, isUpgrade: false));
        Assert.False(RetryRules.CanRetry(ForwarderError.ResponseBodyDestination, null, "GET", 0, responseStarted: true, isUpgrade: false));
    }

    [Fact]
    public void CanRetry_ConnectTimeout_Retryable()
    {
        var timeout = new TaskCanceledException("connect", new TimeoutException());

        Assert.True(RetryRules.CanRetry(ForwarderError.RequestTimedOut, timeout, "POST", 0, false, false));
        Assert.False(RetryRules.CanRetry(ForwarderError.RequestTimedOut, new TaskCanceledException(), "POST", 0, false, false));
    }

    [Theory]
    [InlineData(ForwarderError.None, 200, false, false, "success")]
    [InlineData(ForwarderError.None, 404, false, false, "success")]
    [InlineData(ForwarderError.None, 500, false, false, "failure")]
    [InlineData(ForwarderError.Request, 502, false, false, "failure")]
    [InlineData(ForwarderError.ResponseBodyDestination, 200, false, false, "failure")]
    [InlineData(ForwarderError.RequestCanceled, 502, true, false, "failure")]
    [InlineData(ForwarderError.ResponseBodyCanceled, 200, true, false, "failure")]
    [InlineData(ForwarderError.RequestCanceled, 400, false, false, "neutral")]
    [InlineData(ForwarderError.ResponseBodyCanceled, 200, false, false, "neutral")]
    [InlineData(ForwarderError.RequestBodyCanceled, 502, true, true, "neutral")]
    [InlineData(ForwarderError.ResponseBodyCanceled, 200, true, true, "neutral")]
    [InlineData(ForwarderError.RequestBodyClient, 400, false, false, "neutral")]
    [InlineData(ForwarderError.ResponseBodyClient, 200, false, false, "neutral")]
    [InlineData(ForwarderError.UpgradeActivityTimeout, 101, false, false, "neutral")]
    public void Classify_Results_CountOnlyTheTargetsFailures(ForwarderError error, int status, bool timedOut, bool heldUpByClient, string expected)
    {
        Assert.Equal(expected, RetryRules.Classify(error, status, timedOut, heldUpByClient).ToString().ToLowerInvariant());
    }

    [Fact]
    public void Attribute_RequestBodyCopyCanceledByAnUpstreamReset_IsTheUpstreamsFailure()
    {
        // What YARP reports when an HTTP/2 upstream resets a stream while the gateway waits for the client's next bytes
        // and the request body's copy ends first: the canceled read from the client, with the response's failure.
        var reported = new AggregateException(new OperationCanceledException(),
            new HttpProtocolException(2, "The HTTP/2 server reset the stream. HTTP/2 error code 'INTERNAL_ERROR' (0x2).", null));

        Assert.Equal(ForwarderError.ResponseBodyDestination, RetryRules.Attribute(ForwarderError.RequestBodyClient, reported));
        Assert.Equal(ForwarderError.ResponseBodyDestination, RetryRules.Attribute(ForwarderError.RequestBodyCanceled, reported));
    }

    [Fact]
    public void Attribute_TheClientsOwnFailures_StayTheClients()
    {
        // A body the client cut (its connection reset), a canceled read with nothing from the upstream, a malformed body.
        var clientReset = new AggregateException(new OperationCanceledException(), new IOException("Connection reset by peer"));
        var canceledOnly = new AggregateException(new OperationCanceledException());
        // A stalled upload cut by the idle timeout: the copy's own failure, wrapping the canceled read from the client.
        var stalledUpload = new AggregateException(new OperationCanceledException(), new HttpRequestException("Error while copying content to a stream.",
            new IOException("An error occurred when reading the request body from the client.", new OperationCanceledException())));
        var malformed = new IOException("Unexpected end of request content.");

        Assert.Equal(ForwarderError.RequestBodyClient, RetryRules.Attribute(ForwarderError.RequestBodyClient, clientReset));
        Assert.Equal(ForwarderError.RequestBodyCanceled, RetryRules.Attribute(ForwarderError.RequestBodyCanceled, canceledOnly));
        Assert.Equal(ForwarderError.RequestBodyClient, RetryRules.Attribute(ForwarderError.RequestBodyClient, stalledUpload));
        Assert.Equal(ForwarderError.RequestBodyClient, RetryRules.Attribute(ForwarderError.RequestBodyClient, malformed));
        Assert.Equal(ForwarderError.ResponseBodyClient, RetryRules.Attribute(ForwarderError.ResponseBodyClient,
            new AggregateException(new OperationCanceledException(), new HttpRequestException("upstream"))));
    }

    private static async Task<(ForwarderError Error, Exception? Exception)> ForwardAsync(string destination, string method, string path)
    {
        var services = new ServiceCollection().AddLogging().AddHttpForwarder().BuildServiceProvider();
        var forwarder = services.GetRequiredService<IHttpForwarder>();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = method;
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        using var client = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(5) });

        var error = await forwarder.SendAsync(context, destination, client, ForwarderRequestConfig.Empty, HttpTransformer.Empty);

        return (error, context.Features.Get<IForwarderErrorFeature>()?.Exception);
    }
}
