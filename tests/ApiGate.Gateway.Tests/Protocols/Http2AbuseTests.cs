using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>HTTP/2 frame sequences that attack the server rather than ask it something, from a hand-framed client on the h2c port.</summary>
public sealed class Http2AbuseTests : IAsyncLifetime
{
    /// <summary>HTTP/2 error codes (RFC 9113 7) a malformed frame or header block ends a connection with.</summary>
    private const uint ProtocolError = 0x1, FrameSizeError = 0x6, CompressionError = 0x9;

    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    private string H2cUrl => _gateway.Addresses.ElementAt(1);

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(options => options.H2cPort = 0);
        await _gateway.AddUpstreamAsync("backend", _upstream.Url);
        await _gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend" });
    }

    /// <summary>Collects why Kestrel ended each connection (<c>error.type</c> of <c>kestrel.connection.duration</c>).</summary>
    private static MeterListener ConnectionEndReasons(ConcurrentQueue<string> reasons)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Microsoft.AspNetCore.Server.Kestrel" && instrument.Name == "kestrel.connection.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "error.type" && tag.Value is string reason)
                {
                    reasons.Enqueue(reason);
                }
            }
        });
        listener.Start();
        return listener;
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task RapidReset_StreamsOpenedAndResetAtOnce_ConnectionEndedForTheResetLimitAndFewReachTheUpstream_GatewayStillServes()
    {
        // Arrange: CVE-2023-44487, each stream's HEADERS followed at once by its RST_STREAM, 2,000 times at most, sent
        // as an attacker pipelines them: 250 streams per write. One stream per write let a slow sender give the server
        // time to finish each reset stream before the next arrived (a CI run saw no defence needed and the connection
        // left open); a batch arrives faster than any server finishes streams, which is the attack.
        const int streams = 2_000;
        const int streamsPerWrite = 250;
        var endReasons = new ConcurrentQueue<string>();
        using var listener = ConnectionEndReasons(endReasons);
        await using var attacker = await RawHttp2Connection.ConnectAsync(H2cUrl);
        var opened = 0;

        // Act
        for (var first = 0; first < streams && !attacker.Closed; first += streamsPerWrite)
        {
            var batch = new List<byte>();
            for (var i = first; i < first + streamsPerWrite; i++)
            {
                var streamId = (2 * i) + 1;
                batch.AddRange(RawHttp2Connection.GetHeaders(streamId, "/r/reset"));
                batch.AddRange(RawHttp2Connection.RstStream(streamId, RawHttp2Connection.CancelError));
            }

            if (!await attacker.WriteAsync([.. batch]))
            {
                break;
            }

            opened += streamsPerWrite;
        }

        var ended = await attacker.WaitClosedAsync();
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var normal = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, H2cUrl + "/r/after")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });

        // Assert: the connection is ended by the server, usually by one of Kestrel's two defences: more than 100
        // streams over its tracked-stream limit within 5 s (stream_reset_limit_exceeded) or a full output queue
        // (output_queue_size_exceeded); the reasons its metrics gave are in the message. Which defence, and whether the
        // client sees a TCP reset or the GOAWAY and a close, depend on timing, and the metrics are the whole process's
        // (other tests' connections end too), so what is asserted is the end, how few requests got through, and that
        // the gateway goes on serving.
        Assert.True(ended, "the connection was not ended; Kestrel's reasons seen: " + string.Join(", ", endReasons));
        // ended for the flood, not for a framing fault of the pipelined writes (a GOAWAY, when one came before the close)
        var goAway = await attacker.ReadFrameAsync(RawHttp2Connection.GoAwayFrame);
        Assert.True(goAway is null || goAway.GoAwayErrorCode is not (ProtocolError or FrameSizeError or CompressionError),
            $"GOAWAY with error code {goAway?.GoAwayErrorCode}");
        var reachedUpstream = _upstream.Received.Count(request => request.Path == "/r/reset");
        Assert.True(reachedUpstream < opened / 4, $"{reachedUpstream} of {opened} reset streams reached the upstream");
        Assert.Equal(HttpStatusCode.OK, normal.StatusCode);
        Assert.Equal("/r/after", _upstream.Received.Last().Path);
    }

    [Fact]
    public async Task Settings_InitialWindowSizeAbove2To31Minus1_GoAwayFlowControlError()
    {
        // Arrange
        await using var client = await RawHttp2Connection.ConnectAsync(H2cUrl);

        // Act: 2^31, one more than the largest window (RFC 9113 6.5.2)
        await client.WriteSettingsAsync((RawHttp2Connection.InitialWindowSizeSetting, 1u << 31));
        var goAway = await client.ReadFrameAsync(RawHttp2Connection.GoAwayFrame);

        // Assert
        Assert.NotNull(goAway);
        Assert.Equal(RawHttp2Connection.FlowControlError, goAway.GoAwayErrorCode);
    }
}
