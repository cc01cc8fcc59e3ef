using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Observability;

public sealed class AccessLogTests : GatewayTestBase
{
    private const string UpstreamSecret = "upstream-secret-6f1d0c2a9b";
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options, "trace"); // everything the gateway logs at all
        options.AuthAllowQueryKey = true;
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url, new UpstreamInput { AuthType = "header", AuthHeader = "X-Backend-Token", AuthValue = UpstreamSecret });
        await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "public", Path = "/public/*", Upstream = "backend" });
    }

    [Fact]
    public async Task Traffic_WithKeysAndUpstreamCredential_LogsAccessLinesWithoutSecrets()
    {
        // Arrange
        var (key, user, record) = await Gateway.CreateKeyAsync("logged@example.com");
        var wrongKey = "ak_" + new string('z', 40);

        // Act: the key in each place it may come from, a wrong key, a public route and an unmatched path.
        using (var bearer = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/private/orders?page=2"))
        {
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            bearer.Headers.Add("X-Request-ID", "req-bearer-1");
            bearer.Content = new StringContent("hello body");
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.SendAsync(bearer)).StatusCode);
        }

        using (var header = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/private/items"))
        {
            header.Headers.Add("X-API-Key", key);
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.SendAsync(header)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/private/q?api_key=" + key)).StatusCode);
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/private/x"))
        {
            wrong.Headers.Add("X-Request-ID", "req-wrong-1");
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", wrongKey);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Gateway.Client.SendAsync(wrong)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/public/p")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.GetAsync(Gateway.Url + "/nowhere")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/health")).StatusCode);
        Assert.All(Upstream.Received, r => Assert.Equal(UpstreamSecret, r.Headers["X-Backend-Token"].Single())); // the secret was in use
        await Gateway.StopAsync(); // everything flushed, shutdown logged too

        // Assert
        var output = _log.Text;
        Assert.DoesNotContain(key, output);
        Assert.DoesNotContain(key[..20], output);
        Assert.DoesNotContain(wrongKey, output);
        Assert.DoesNotContain(UpstreamSecret, output);

        var access = AccessLines(output);
        Assert.Equal(6, access.Count); // not /health
        var first = access.Single(a => a.GetProperty("RequestId").GetString() == "req-bearer-1");
        Assert.Equal("POST", first.GetProperty("Method").GetString());
        Assert.Equal("/private/orders", first.GetProperty("Path").GetString());
        Assert.Equal("private", first.GetProperty("Route").GetString());
        Assert.Equal("backend", first.GetProperty("Upstream").GetString());
        Assert.Equal(user.Id, first.GetProperty("UserId").GetString());
        Assert.Equal(record.Id, first.GetProperty("KeyId").GetString());
        Assert.Equal(200, first.GetProperty("Status").GetInt32());
        Assert.Equal(10, first.GetProperty("BytesIn").GetInt64());
        Assert.True(first.GetProperty("BytesOut").GetInt64() > 0);
        Assert.True(first.GetProperty("DurationMs").GetDouble() > 0);
        Assert.InRange(first.GetProperty("UpstreamMs").GetDouble(), 0.000001, first.GetProperty("DurationMs").GetDouble());
        Assert.Equal("127.0.0.1", first.GetProperty("ClientIp").GetString());
        Assert.Equal("", first.GetProperty("Error").GetString());
        Assert.Equal("", first.GetProperty("TraceId").GetString()); // tracing is off

        var query = access.Single(a => a.GetProperty("Path").GetString() == "/private/q");
        Assert.Equal(record.Id, query.GetProperty("KeyId").GetString());

        var rejected = access.Single(a => a.GetProperty("RequestId").GetString() == "req-wrong-1");
        Assert.Equal(401, rejected.GetProperty("Status").GetInt32());
        Assert.Equal("invalid_api_key", rejected.GetProperty("Error").GetString());
        Assert.Equal("", rejected.GetProperty("KeyId").GetString());
        Assert.Equal(0, rejected.GetProperty("UpstreamMs").GetDouble());

        var anonymous = access.Single(a => a.GetProperty("Path").GetString() == "/public/p");
        Assert.Equal("", anonymous.GetProperty("UserId").GetString());
        Assert.Equal("public", anonymous.GetProperty("Route").GetString());

        var notFound = access.Single(a => a.GetProperty("Path").GetString() == "/nowhere");
        Assert.Equal(404, notFound.GetProperty("Status").GetInt32());
        Assert.Equal("route_not_found", notFound.GetProperty("Error").GetString());
        Assert.Equal("", notFound.GetProperty("Route").GetString());
        Assert.False(string.IsNullOrEmpty(notFound.GetProperty("RequestId").GetString()));
    }

    [Fact]
    public async Task BidiOverrideAndInvisibleCharactersInThePath_ForwardedAsSent_RecordedAsTheirEscapes()
    {
        // Arrange: U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE, U+FEFF, sent percent-encoded as a client must
        var (key, user, _) = await Gateway.CreateKeyAsync("bidi@example.com");
        const string Path = "/private/a%E2%80%AEfdp.exe/b%E2%80%8Bc%EF%BB%BF/caf%C3%A9";

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, Path, "X-API-Key: " + key);
        await Gateway.StopAsync(); // the access line and the usage event written
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var recorded = await store.GetRecentUsageAsync(user.Id, 10, CancellationToken.None);

        // Assert: the upstream gets the bytes as sent; the records show the hidden characters as escapes, é as itself
        Assert.Equal(200, response.Status);
        Assert.Equal(Path, Upstream.Received.Single().RawTarget);
        Assert.Equal("/private/a%E2%80%AEfdp.exe/b%E2%80%8Bc%EF%BB%BF/café", Assert.Single(AccessLines(_log.Text)).GetProperty("Path").GetString());
        Assert.Equal("/private/a%E2%80%AEfdp.exe/b%E2%80%8Bc%EF%BB%BF/café", Assert.Single(recorded).Path);
        Assert.DoesNotContain("\u202E", _log.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task KeyInThePath_AccessLineShowsItsLookupPrefixOnly_OtherHexRunsKept()
    {
        // Arrange: a key where a path segment belongs, and a content hash that is not a key
        var (key, _, _) = await Gateway.CreateKeyAsync("pasted@example.com");
        var hash = new string('a', 64);

        // Act
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.GetAsync(Gateway.Url + "/nowhere/" + key)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + $"/public/blobs/{hash}/{key}/raw")).StatusCode);
        await Gateway.StopAsync();

        // Assert
        var output = _log.Text;
        Assert.DoesNotContain(key[12..], output);
        var paths = AccessLines(output).Select(a => a.GetProperty("Path").GetString()).ToList();
        Assert.Contains($"/nowhere/{key[..12]}***", paths);
        Assert.Contains($"/public/blobs/{hash}/{key[..12]}***/raw", paths);
    }

    [Fact]
    public async Task AdminTokenInThePath_AccessLineShowsItsLookupPrefixOnly()
    {
        // Arrange: an admin token pasted into a path on the public port, alone and with something attached
        var created = await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("pasted", CancellationToken.None);
        var token = created.Value!.Token;

        // Act
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.GetAsync(Gateway.Url + "/nowhere/" + token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + $"/public/{token.ToUpperInvariant()}.json")).StatusCode);
        await Gateway.StopAsync();

        // Assert
        var output = _log.Text;
        Assert.DoesNotContain(token[12..], output, StringComparison.OrdinalIgnoreCase);
        var paths = AccessLines(output).Select(a => a.GetProperty("Path").GetString()).ToList();
        Assert.Contains($"/nowhere/{token[..12]}***", paths);
        Assert.Contains($"/public/{token[..12].ToUpperInvariant()}***.json", paths);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CredentialSentAsTheRequestId_ReplacedByANewId_NeitherLoggedNorForwarded(bool adminToken)
    {
        // Arrange: a client that puts its API key (or an admin token) where its request id belongs
        var secret = adminToken
            ? (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("misplaced", CancellationToken.None)).Value!.Token
            : (await Gateway.CreateKeyAsync("misplaced@example.com")).Key;
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/public/x");
        request.Headers.Add("X-Request-ID", "req-" + secret);

        // Act
        using var response = await Gateway.Client.SendAsync(request);
        await Gateway.StopAsync();

        // Assert: a new id of the gateway's own, in the answer, upstream and in the line
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = Assert.Single(response.Headers.GetValues("X-Request-ID"));
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.Equal([id], Assert.Single(Upstream.Received).Headers["X-Request-ID"]);
        Assert.Equal(id, Assert.Single(AccessLines(_log.Text)).GetProperty("RequestId").GetString());
        Assert.DoesNotContain(secret[12..], _log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyWithSomethingAttachedInThePath_AccessLineShowsItsLookupPrefixOnly()
    {
        // Arrange: a key a client put into a path with a suffix, behind a dash and as a path parameter
        var (key, _, _) = await Gateway.CreateKeyAsync("attached@example.com");

        // Act
        foreach (var path in new[] { $"/public/{key}.json", $"/public/x-{key}", $"/public/x;{key}" })
        {
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + path)).StatusCode);
        }

        await Gateway.StopAsync();

        // Assert
        var output = _log.Text;
        Assert.DoesNotContain(key[12..], output);
        var paths = AccessLines(output).Select(a => a.GetProperty("Path").GetString()).ToList();
        Assert.Contains($"/public/{key[..12]}***.json", paths);
        Assert.Contains($"/public/x-{key[..12]}***", paths);
        Assert.Contains($"/public/x;{key[..12]}***", paths);
    }

    [Fact]
    public async Task TargetRefusesTheConnection_AccessLineCountsTheAttemptAsUpstreamTime()
    {
        // Arrange: an upstream whose only target refuses connections.
        await Gateway.AddUpstreamAsync("refusing", $"http://127.0.0.1:{LoopbackPorts.Closed()}");
        await Gateway.AddRouteAsync(new RouteInput { Name = "refused", Path = "/refused/*", Upstream = "refusing" });
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/refused/x");
        request.Headers.Add("X-Request-ID", "refused-1");

        // Act
        Assert.Equal(HttpStatusCode.BadGateway, (await Gateway.Client.SendAsync(request)).StatusCode);
        var line = await AccessLineAsync("refused-1");

        // Assert: forwarded once, and the attempt's time is the upstream exchange's.
        Assert.Equal(502, line.GetProperty("Status").GetInt32());
        Assert.Equal("upstream_error", line.GetProperty("Error").GetString());
        Assert.Equal(1, line.GetProperty("Attempts").GetInt32());
        Assert.InRange(line.GetProperty("UpstreamMs").GetDouble(), 0.000001, line.GetProperty("DurationMs").GetDouble());
    }

    [Theory]
    [InlineData("/public/%2e%2e/admin/users")]
    [InlineData("/public/%2e%2e/health")]
    [InlineData("/public/%2e%2e/x")]
    public async Task PathNamingAReservedPathOnlyAfterDotSegments_RefusedWithOneAccessLine(string target)
    {
        // Act: a probe of a reserved path (the admin API first) through an encoded dot segment
        var response = await RawHttp.GetAsync(Gateway.Url, target, "X-Request-ID: dot-probe");
        var line = await AccessLineAsync("dot-probe");

        // Assert: refused, and seen in the log like any other refusal
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.Equal("dot-probe", response.Headers["X-Request-ID"]);
        Assert.Equal(400, line.GetProperty("Status").GetInt32());
        Assert.Equal("invalid_path", line.GetProperty("Error").GetString());
        Assert.Equal("", line.GetProperty("Route").GetString());
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task RequestTheServerRefusesBeforeThePipeline_OneAccessLineWithStatusAndErrorCode_NoTarget()
    {
        // Act: a request target past Kestrel's 8 KB, carrying a key in its query
        const string key = "ak_secret_in_a_refused_target_5d8e";
        var target = $"/public/{new string('a', 10_000)}?api_key={key}";
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n"));
        Assert.True(await Balancing.BalancingTestBase.EventuallyAsync(
            () => AccessLines(_log.Text).Any(a => a.GetProperty("Status").GetInt32() == 414), TimeSpan.FromSeconds(60)));

        // Assert: answered by the server, seen in the access log with its own error code; the target is not logged
        Assert.Equal(414, response.Status);
        var line = Assert.Single(AccessLines(_log.Text));
        Assert.Equal(414, line.GetProperty("Status").GetInt32());
        Assert.Equal("uri_too_long", line.GetProperty("Error").GetString());
        Assert.Equal("", line.GetProperty("Path").GetString());
        Assert.DoesNotContain(key, _log.Text, StringComparison.Ordinal);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("/public/chunks", 400, "invalid_request_body")] // read by the pipeline while forwarding
    [InlineData("/private/chunks", 401, "missing_api_key")]     // answered first; Kestrel meets the bad chunk draining the body
    public async Task MalformedChunkedBody_OneAccessLineFromThePipeline_NotAlsoCountedAsAServerRefusal(string path, int status, string error)
    {
        // Act: headers Kestrel accepts, then a chunk size that is not hex
        var request = $"POST {path} HTTP/1.1\r\nHost: a\r\nX-Request-ID: bad-chunk\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
        var response = await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));
        var line = await AccessLineAsync("bad-chunk");
        await Gateway.StopAsync();

        // Assert: the pipeline's line, and no second line for the same request
        Assert.Equal(status, response.Status);
        Assert.Equal(status, line.GetProperty("Status").GetInt32());
        Assert.Equal(error, line.GetProperty("Error").GetString());
        Assert.Single(AccessLines(_log.Text));
    }

    [Fact]
    public async Task UpstreamTimesOutMidBody_AccessLineCarriesTheErrorNotAPlainSuccess()
    {
        // Arrange: a 2 s bound on the exchange (room for the headers on a loaded machine) and a backend whose body
        // takes 9 s.
        await Gateway.AddUpstreamAsync("slow", Upstream.Url, new UpstreamInput { Timeout = "2s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "slow", Path = "/slow/*", Upstream = "slow" });

        // Act: the headers arrive, then the connection is cut; the line is written before the gateway stops (else a
        // stop that begins first ends the exchange itself, and its end is recorded as the stop's).
        var response = await RawHttp.GetAsync(Gateway.Url, "/slow/trickle?chunks=45&interval=200", "X-Request-ID: cut-mid-body");
        var line = await AccessLineAsync("cut-mid-body");
        await Gateway.StopAsync();

        // Assert
        Assert.Equal(200, response.Status);
        Assert.DoesNotContain("chunk44", response.Body, StringComparison.Ordinal);
        Assert.Equal("/slow/trickle", line.GetProperty("Path").GetString());
        Assert.Equal("upstream_timeout", line.GetProperty("Error").GetString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StreamCutByItsIdleTimeout_AccessLineSaysUpstreamTimeout_NoUnhandledException(bool authRequired)
    {
        // Arrange: an SSE route whose upstream sends one event and then nothing for longer than its 1 s idle timeout;
        // on the authenticated route the response also carries the rate-limit and quota headers.
        await Gateway.AddUpstreamAsync("quiet", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "live", Path = "/live/*", Upstream = "quiet", Protocol = "sse", AuthRequired = authRequired });
        var (key, _, _) = await Gateway.CreateKeyAsync("streams@example.com");

        // Act: the stream is decided before the gateway stops (else a stop that begins first, on a loaded machine, ends
        // the stream itself, and its end is recorded as the stop's, not the timeout's)
        var response = await RawHttp.GetAsync(Gateway.Url, "/live/sse", "X-API-Key: " + key);
        await Poll.UntilAsync(() => Gateway.Service<ApiGate.Gateway.Forwarding.OpenStreams>().Open == 0);
        await Gateway.StopAsync();

        // Assert: the event arrived, then the stream was cut, and it is logged as the timeout it was.
        Assert.Equal(200, response.Status);
        Assert.Contains("data: one", response.Body, StringComparison.Ordinal);
        var line = Assert.Single(AccessLines(_log.Text), a => a.GetProperty("Path").GetString() == "/live/sse");
        Assert.Equal("upstream_timeout", line.GetProperty("Error").GetString());
        Assert.DoesNotContain("unhandled exception", _log.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task WebSocketCutByItsIdleTimeout_AccessLineSaysUpstreamTimeout()
    {
        // Arrange: an echo upstream and a client that says nothing, on a route with a 1 s idle timeout.
        await Gateway.AddUpstreamAsync("quiet-ws", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "live-ws", Path = "/livews/*", Upstream = "quiet-ws", Protocol = "websocket" });
        using var client = new System.Net.WebSockets.ClientWebSocket();
        await client.ConnectAsync(new Uri(Gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal) + "/livews/ws"), CancellationToken.None);

        // Act: the gateway ends the idle tunnel (bounded wait).
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(async () => await client.ReceiveAsync(new byte[16], bound.Token)); // closed without a close frame
        Assert.False(bound.IsCancellationRequested); // cut by the gateway, not by the test's bound
        await Poll.UntilAsync(() => Gateway.Service<ApiGate.Gateway.Forwarding.OpenStreams>().Open == 0); // decided before the stop (above)
        await Gateway.StopAsync();

        // Assert
        var line = Assert.Single(AccessLines(_log.Text), a => a.GetProperty("Path").GetString() == "/livews/ws");
        Assert.Equal("upstream_timeout", line.GetProperty("Error").GetString());
    }

    [Fact]
    public async Task StreamTheClientDoesNotRead_CutByItsIdleTimeout_AccessLineSaysRequestTimeout()
    {
        // Arrange: a streamed download far larger than the socket buffers, on a route with a 1 s idle timeout.
        await Gateway.AddUpstreamAsync("big", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "big", Path = "/big/*", Upstream = "big", Protocol = "http_stream" });

        // Act: the client asks for it and never reads; the gateway cuts the stream once nothing has moved for 1 s.
        using var client = await SendAndNeverReadAsync("GET /big/download?bytes=268435456 HTTP/1.1\r\nHost: gw\r\nX-Request-ID: unread-stream\r\n\r\n"u8.ToArray());
        var line = await AccessLineAsync("unread-stream");

        // Assert: the client's fault, recorded as such — not a plain success, and not the upstream's timeout.
        Assert.Equal(200, line.GetProperty("Status").GetInt32());
        Assert.Equal("request_timeout", line.GetProperty("Error").GetString());
    }

    [Fact]
    public async Task WebSocketTheClientDoesNotRead_CutByItsIdleTimeout_AccessLineSaysRequestTimeout()
    {
        // Arrange: an echo upstream on a websocket route with a 1 s idle timeout.
        await Gateway.AddUpstreamAsync("echo-ws", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "echo-ws", Path = "/echows/*", Upstream = "echo-ws", Protocol = "websocket" });

        // Act: the client opens the socket and sends 16 MB of messages that are echoed back, without ever reading.
        var frame = new byte[14 + 65536]; // header: 2 bytes, a 64-bit length, a 4-byte mask (all zero); then the payload
        frame[0] = 0x82; // FIN, binary
        frame[1] = 0x80 | 127; // masked, 64-bit length
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), 65536);
        using var client = await SendAndNeverReadAsync(System.Text.Encoding.ASCII.GetBytes(
            "GET /echows/ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Request-ID: unread-ws\r\n\r\n"));
        _ = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; i < 256; i++)
                {
                    await client.GetStream().WriteAsync(frame);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // the gateway cut the connection while this side was still sending
            }
        });
        var line = await AccessLineAsync("unread-ws");

        // Assert
        Assert.Equal(101, line.GetProperty("Status").GetInt32());
        Assert.Equal("request_timeout", line.GetProperty("Error").GetString());
    }

    [Fact]
    public async Task StreamRequestBodyTheClientStalls_CutByItsIdleTimeout_408RequestTimeout()
    {
        // Arrange: an SSE route (its own HTTP/1.1 client) with a 1 s idle timeout.
        await Gateway.AddUpstreamAsync("events", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "events", Protocol = "sse" });

        // Act: a prompt that promises 100 bytes and sends 10, then waits.
        var response = await RawHttp.SendAsync(Gateway.Url,
            "POST /events/sse HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\nX-Request-ID: stalled-prompt\r\n\r\n0123456789"u8.ToArray());
        var line = await AccessLineAsync("stalled-prompt");

        // Assert: the body came too slowly — not a malformed one.
        Assert.Equal(408, response.Status);
        Assert.Equal("request_timeout", response.ErrorCode);
        Assert.Equal(408, line.GetProperty("Status").GetInt32());
        Assert.Equal("request_timeout", line.GetProperty("Error").GetString());
    }

    [Fact]
    public async Task WebSocketClientResetsItsConnection_AccessLineHasNoError()
    {
        // Arrange: a WebSocket that has exchanged one message.
        await Gateway.AddRouteAsync(new RouteInput { Name = "reset-ws", Path = "/resetws/*", Upstream = "backend", Protocol = "websocket" });
        var uri = new Uri(Gateway.Url);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            "GET /resetws/ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Request-ID: reset-ws\r\n\r\n"));
        await stream.WriteAsync(new byte[] { 0x81, 0x82, 0, 0, 0, 0, (byte)'h', (byte)'i' }); // "hi", masked with zeros
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new System.Text.StringBuilder();
        var buffer = new byte[1024];
        while (!received.ToString().EndsWith("\u0081\u0002hi", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, bound.Token);
            Assert.NotEqual(0, read);
            received.Append(System.Text.Encoding.Latin1.GetString(buffer, 0, read));
        }

        // Act: the client's connection is reset (a phone losing its network, a killed process), no close frame.
        client.Client.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        client.Client.Close();
        var line = await AccessLineAsync("reset-ws");

        // Assert: a client that went away, as for any request; not a malformed request body.
        Assert.Equal(101, line.GetProperty("Status").GetInt32());
        Assert.Equal("", line.GetProperty("Error").GetString());
    }

    /// <summary>Sends <paramref name="request"/> on a connection with a small receive buffer whose data is never read.</summary>
    private async Task<System.Net.Sockets.TcpClient> SendAndNeverReadAsync(byte[] request)
    {
        var client = new System.Net.Sockets.TcpClient { ReceiveBufferSize = 4096 };
        var uri = new Uri(Gateway.Url);
        await client.ConnectAsync(uri.Host, uri.Port);
        await client.GetStream().WriteAsync(request);
        return client;
    }

    /// <summary>The access line of <paramref name="requestId"/>, once written (bounded wait).</summary>
    private async Task<JsonElement> AccessLineAsync(string requestId)
    {
        Assert.True(await Balancing.BalancingTestBase.EventuallyAsync(
            () => AccessLines(_log.Text).Any(a => a.GetProperty("RequestId").GetString() == requestId), TimeSpan.FromSeconds(60)));
        return Assert.Single(AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == requestId);
    }

    /// <summary>The <c>State</c> of each JSON line in the access-log category.</summary>
    internal static List<JsonElement> AccessLines(string output)
    {
        var lines = new List<JsonElement>();
        // Only whole lines: read while the log writer is writing, the output may end in the first part of a line.
        var complete = output[..(output.LastIndexOf('\n') + 1)];
        foreach (var line in complete.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var document = JsonDocument.Parse(line); // every line is one JSON object
            var root = document.RootElement;
            if (root.GetProperty("Category").GetString() == "ApiGate.Access")
            {
                Assert.Equal("Information", root.GetProperty("LogLevel").GetString());
                lines.Add(root.GetProperty("State").Clone());
            }
        }

        return lines;
    }
}

public sealed class AccessLogDisabledTests : GatewayTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options);
        options.AccessLog = false;
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "public", Path = "/public/*", Upstream = "backend" });
    }

    [Fact]
    public async Task AccessLogOff_NoAccessLines_OtherLogsStill()
    {
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/public/p")).StatusCode);
        Assert.Equal(400, (await RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes("GARBAGE\r\n\r\n"))).Status); // refused by the server
        await Gateway.StopAsync();

        var output = _log.Text;
        Assert.Empty(AccessLogTests.AccessLines(output));
        Assert.Contains("Config snapshot", output);
    }
}
