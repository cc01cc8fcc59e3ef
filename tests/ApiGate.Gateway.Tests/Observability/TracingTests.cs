using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Observability;

[Collection(TelemetryCollection.Name)]
public sealed class TracingTests : GatewayTestBase
{
    private const string ClientTraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string ClientSpanId = "b7ad6b7169203331";
    private const string ClientTraceParent = "00-" + ClientTraceId + "-" + ClientSpanId + "-01";

    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options);
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "traced", Path = "/traced/*", Upstream = "backend" });
    }

    [Fact]
    public async Task TracingOn_ClientTraceparent_UpstreamGetsSameTraceWithGatewaySpanAsParent()
    {
        // Arrange
        using var spans = new SpanRecorder();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/traced/a");
        request.Headers.Add("traceparent", ClientTraceParent);
        request.Headers.Add("tracestate", "vendor=abc,other=1");
        request.Headers.Add("X-Request-ID", "trace-req-1");

        // Act
        var response = await Gateway.Client.SendAsync(request);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var span = spans.Single("trace-req-1");
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal(ClientTraceId, span.TraceId.ToHexString());
        Assert.Equal(ClientSpanId, span.ParentSpanId.ToHexString());
        Assert.Equal("vendor=abc,other=1", span.TraceStateString);
        Assert.Equal("traced", span.GetTagItem("apigate.route"));
        Assert.Equal("backend", span.GetTagItem("apigate.upstream"));
        Assert.Equal(Upstream.Url, span.GetTagItem("apigate.target"));
        Assert.Equal(1, span.GetTagItem("apigate.attempts"));
        Assert.Equal(200, span.GetTagItem("http.response.status_code"));
        Assert.Equal("GET traced", span.DisplayName);

        var received = Upstream.Received.Single().Headers;
        Assert.Equal($"00-{ClientTraceId}-{span.SpanId.ToHexString()}-01", received["traceparent"].Single());
        Assert.Equal("vendor=abc,other=1", received["tracestate"].Single());

        await Gateway.StopAsync();
        var access = Assert.Single(AccessLogTests.AccessLines(_log.Text));
        Assert.Equal(ClientTraceId, access.GetProperty("TraceId").GetString());
    }

    [Fact]
    public async Task TracingOn_ClientTracestateOverTheBound_SpanAndUpstreamGetItCut()
    {
        // Arrange: one 20,000-character member after a short one.
        using var spans = new SpanRecorder();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/traced/long-state");
        request.Headers.Add("traceparent", ClientTraceParent);
        request.Headers.TryAddWithoutValidation("tracestate", "vendor=abc,big=" + new string('b', 20_000));
        request.Headers.Add("X-Request-ID", "trace-req-long-state");

        // Act
        var response = await Gateway.Client.SendAsync(request);

        // Assert: the span continues the client's trace with the short member only, and so does the upstream request.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var span = spans.Single("trace-req-long-state");
        Assert.Equal(ClientTraceId, span.TraceId.ToHexString());
        Assert.Equal("vendor=abc", span.TraceStateString);
        Assert.Equal("vendor=abc", Upstream.Received.Single().Headers["tracestate"].Single());
    }

    [Fact]
    public async Task TracingOn_KeyInThePath_SpanUrlPathShowsItsLookupPrefixOnly()
    {
        // Arrange
        using var spans = new SpanRecorder();
        var (key, _, _) = await Gateway.CreateKeyAsync("pasted@example.com");
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/traced/" + key);
        request.Headers.Add("X-Request-ID", "trace-req-key");

        // Act
        var response = await Gateway.Client.SendAsync(request);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"/traced/{key[..12]}***", spans.Single("trace-req-key").GetTagItem("url.path"));
    }

    [Fact]
    public async Task TracingOn_BidiOverrideInThePath_SpanUrlPathShowsItAsItsEscape()
    {
        // Arrange
        using var spans = new SpanRecorder();

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/traced/a%E2%80%AEfdp.exe", "X-Request-ID: trace-req-bidi");

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal("/traced/a%E2%80%AEfdp.exe", spans.Single("trace-req-bidi").GetTagItem("url.path"));
    }

    [Fact]
    public async Task TracingOn_NoClientContext_SpanIsARootAndUpstreamGetsItsTrace()
    {
        using var spans = new SpanRecorder();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/traced/b");
        request.Headers.Add("X-Request-ID", "trace-req-2");

        await Gateway.Client.SendAsync(request);

        var span = spans.Single("trace-req-2");
        Assert.Equal(default, span.ParentSpanId);
        var received = Upstream.Received.Single().Headers;
        Assert.Equal(span.Id, received["traceparent"].Single());
    }

    [Theory]
    [InlineData("00-zzz-b7ad6b7169203331-01")] // malformed
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01")] // all-zero trace id
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01")] // upper-case hex
    [InlineData(ClientTraceParent, ClientTraceParent)] // sent twice
    [InlineData(null)] // tracestate without traceparent
    public async Task TracingOn_ClientTraceparentUnusable_NewTraceUpstream_ClientTracestateDropped(string? traceParent, string? second = null)
    {
        // Arrange
        using var spans = new SpanRecorder();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/traced/d");
        foreach (var value in new[] { traceParent, second })
        {
            if (value is not null)
            {
                request.Headers.TryAddWithoutValidation("traceparent", value);
            }
        }

        request.Headers.Add("tracestate", "vendor=abc");
        request.Headers.Add("X-Request-ID", "trace-req-bad");

        // Act
        var response = await Gateway.Client.SendAsync(request);

        // Assert: a new root span, and upstream its traceparent alone — the client's tracestate belonged to another trace.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var span = spans.Single("trace-req-bad");
        Assert.Equal(default, span.ParentSpanId);
        Assert.NotEqual(ClientTraceId, span.TraceId.ToHexString());
        var received = Upstream.Received.Single().Headers;
        Assert.Equal(span.Id, received["traceparent"].Single());
        Assert.False(received.ContainsKey("tracestate"), "tracestate of another trace sent upstream: " + string.Join(",", received.GetValueOrDefault("tracestate") ?? []));
    }

    [Theory]
    [InlineData("GET", "GET", null)]
    [InlineData("FOO123", "_OTHER", "FOO123")]
    public async Task TracingOn_RequestMethod_StandardNameOrOther_AsSentInMethodOriginal(string sent, string method, string? original)
    {
        using var spans = new SpanRecorder();
        using var request = new HttpRequestMessage(new HttpMethod(sent), Gateway.Url + "/traced/m");
        request.Headers.Add("X-Request-ID", "trace-method-" + sent);

        await Gateway.Client.SendAsync(request);

        var span = spans.Single("trace-method-" + sent);
        Assert.Equal(method, span.GetTagItem("http.request.method"));
        Assert.Equal(original, span.GetTagItem("http.request.method_original"));
    }

    [Fact]
    public async Task TracingOn_RejectedRequest_SpanCarriesStatusAndErrorCode()
    {
        using var spans = new SpanRecorder();
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/untraced");
        request.Headers.Add("X-Request-ID", "trace-req-3");

        var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var span = spans.Single("trace-req-3");
        Assert.Equal(404, span.GetTagItem("http.response.status_code"));
        Assert.Equal("route_not_found", span.GetTagItem("error.type"));
        Assert.Equal("", span.GetTagItem("apigate.route"));
        Assert.Null(span.GetTagItem("apigate.target")); // never forwarded
    }

    [Fact]
    public async Task TracingOff_TraceHeadersPassThroughUnchanged()
    {
        Assert.False(GatewayTracing.Source.HasListeners());
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/traced/c");
        request.Headers.Add("traceparent", ClientTraceParent);
        request.Headers.Add("tracestate", "vendor=abc");

        await Gateway.Client.SendAsync(request);

        var received = Upstream.Received.Single().Headers;
        Assert.Equal(ClientTraceParent, received["traceparent"].Single());
        Assert.Equal("vendor=abc", received["tracestate"].Single());
    }

    /// <summary>Listens to the gateway's activity source and keeps the spans that ended.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _stopped = new();

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == GatewayTracing.SourceName,
                Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        /// <summary>
        /// The one span of the request with this X-Request-ID. The span ends just after the response is written, so
        /// the client may see the response first: wait for it (bounded).
        /// </summary>
        public Activity Single(string requestId)
        {
            var deadline = Stopwatch.StartNew();
            while (!_stopped.Any(Matches) && deadline.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.Sleep(10);
            }

            return Assert.Single(_stopped, Matches);

            bool Matches(Activity a) => (a.GetTagItem("apigate.request_id") as string) == requestId;
        }

        public void Dispose() => _listener.Dispose();
    }
}
