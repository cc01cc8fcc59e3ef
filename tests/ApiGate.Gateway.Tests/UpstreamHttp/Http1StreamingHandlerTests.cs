using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.UpstreamHttp;

namespace ApiGate.Gateway.Tests.UpstreamHttp;

/// <summary>The HTTP/1.1 client of event streams against raw loopback servers: framing, strictness, errors, buffers.</summary>
public sealed class Http1StreamingHandlerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Chunked_OneByteAtATime_HeadersBodyAndTrailersArrive_ThenConnectionClosed()
    {
        await using var server = RawHttpServer.StartByteByByte(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nX-Custom:  spaced value \t\r\n\r\n"
            + "5;name=value\r\nhello\r\n7 \r\n, world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/events"), CancellationToken.None);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("spaced value", Assert.Single(response.Headers.GetValues("X-Custom")));
        Assert.Equal("hello, world0123456789", body);
        Assert.Equal("t", Assert.Single(response.TrailingHeaders.GetValues("X-Trailer")));
        await server.ClientClosed.Task.WaitAsync(Wait);
    }

    [Fact]
    public async Task ContentLength_ExactlyThatManyBytesRead_ThenConnectionClosed()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(5, response.Content.Headers.ContentLength);
        Assert.Equal("hello", await response.Content.ReadAsStringAsync());
        await server.ClientClosed.Task.WaitAsync(Wait);
    }

    [Fact]
    public async Task NeitherLengthNorChunked_BodyReadUntilTheUpstreamCloses()
    {
        await using var server = RawHttpServer.Start(async stream =>
        {
            await stream.WriteAsync("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst "u8.ToArray());
            await stream.WriteAsync("second"u8.ToArray());
            stream.Close();
        });
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Equal(HttpVersion.Version10, response.Version);
        Assert.Null(response.Content.Headers.ContentLength);
        Assert.Equal("first second", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InterimResponses_AreSkipped_TheFinalOneIsReturned()
    {
        await using var server = RawHttpServer.Start(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Link"));
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HeadRequest_NoBodyIsRead_AndItsContentLengthIsPassedOn()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
        using var client = Client();

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, server.Url + "/x"), CancellationToken.None);

        Assert.Equal(42, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        await server.ClientClosed.Task.WaitAsync(Wait);
    }

    [Theory]
    [InlineData(204)]
    [InlineData(304)]
    public async Task NoContentStatuses_HaveNoBody(int status)
    {
        await using var server = RawHttpServer.Start($"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task TransferEncodingAndContentLength_ChunkedWins_AndTheLengthIsNotPassedOn()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsix ok\r\n0\r\n\r\n");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Null(response.Content.Headers.ContentLength);
        Assert.Equal("six ok", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("Transfer-Encoding: chunked,")]
    [InlineData("Transfer-Encoding: chunked , ,")]
    [InlineData("Transfer-Encoding: chunked\r\nTransfer-Encoding: ,")]
    [InlineData("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked,")]
    public async Task TransferEncodingEndingInChunked_WithEmptyListElements_IsReadAsChunked(string transferEncoding)
    {
        // Empty list elements are no codings (RFC 9110 §5.6.1.2): chunked is still the last one, as the pooled client reads it
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\n" + transferEncoding + "\r\n\r\n2\r\nok\r\n0\r\n\r\n");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        // (read as until-close it never ends: the server waits for the client to close, with the framing passed on as data)
        Assert.Equal("ok", await response.Content.ReadAsStringAsync().WaitAsync(Wait));
    }

    [Fact]
    public async Task NonStandardReasonPhrase_IsKept_StandardOneIsNotCopied()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 418 Short And Stout\r\nContent-Length: 0\r\n\r\n");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Equal("Short And Stout", response.ReasonPhrase);
    }

    [Theory]
    [InlineData("HTTP/2.0 200 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n", "status line")]
    [InlineData("ICY 200 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n", "below 100")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Bad : v\r\n\r\n", "not a token")]
    [InlineData("HTTP/1.1 200 OK\r\nX(Bad): v\r\n\r\n", "not a token")]
    [InlineData("HTTP/1.1 200 OK\r\n X-A: v\r\n\r\n", "not a token")]
    [InlineData("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "without a name")]
    [InlineData("HTTP/1.1 200 OK\r\n: v\r\n\r\n", "without a name")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", "CR or NUL")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", "CR or NUL")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "two different")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "two different")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "not a number")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "switched protocols")]
    public async Task MalformedHead_IsAnInvalidResponse(string head, string expectedInMessage)
    {
        await using var server = RawHttpServer.Start(head);
        using var client = Client();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(server.Url + "/x"), CancellationToken.None));

        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
        Assert.Contains(expectedInMessage, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n", "not a hexadecimal")]
    [InlineData("5 x\r\nhello\r\n0\r\n\r\n", "other than an extension")]
    [InlineData("1000000000000000\r\n", "not a hexadecimal")]
    [InlineData("3\r\nhello\r\n0\r\n\r\n", "longer than its chunk size")]
    [InlineData("5\r\r\nhello\r\n0\r\n\r\n", "CR or NUL")]
    [InlineData("0\r\nBad Trailer: v\r\n\r\n", "not a token")]
    public async Task MalformedChunks_FailTheBodyAsAnInvalidResponse(string chunks, string expectedInMessage)
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
        using var client = Client();
        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => response.Content.ReadAsByteArrayAsync());

        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
        Assert.Contains(expectedInMessage, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkExtensionLongerThan16KiB_FailsTheBodyAsAnInvalidResponse()
    {
        // Arrange: a chunk-size line the upstream never ends would otherwise grow the framing buffer without bound
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + new string('e', 20_000) + "\r\nhello\r\n0\r\n\r\n");
        using var client = Client();
        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        // Act
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => response.Content.ReadAsByteArrayAsync());

        // Assert
        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
        Assert.Contains("longer than 16 KiB", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrailersLargerThan64KiB_AreAConfigurationLimit()
    {
        // Arrange: each trailer line is short; together they pass the 64 KiB the trailer section may take
        var trailers = string.Concat(Enumerable.Range(0, 700).Select(i => $"X-Trailer-{i}: {new string('v', 90)}\r\n"));
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + trailers + "\r\n");
        using var client = Client();
        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        // Act
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => response.Content.ReadAsByteArrayAsync());

        // Assert
        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
        Assert.Contains("trailers are larger than 64 KiB", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InterimResponsesTogetherLargerThan64KiB_AreAConfigurationLimit()
    {
        // Arrange: each 103 is small and skipped, but they count toward one head's 64 KiB, so an endless series ends
        var interim = string.Concat(Enumerable.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </" + new string('a', 40) + ".css>; rel=preload\r\n\r\n", 1000));
        await using var server = RawHttpServer.Start(interim + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        using var client = Client();

        // Act
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(server.Url + "/x"), CancellationToken.None));

        // Assert
        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
    }

    [Fact]
    public async Task HeadLargerThan64KiB_IsAConfigurationLimit()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Range(0, 700).Select(i => $"X-Filler-{i}: {new string('v', 90)}\r\n")) + "\r\n");
        using var client = Client();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(server.Url + "/x"), CancellationToken.None));

        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
    }

    [Fact]
    public async Task HeadJustUnder64KiB_IsRead()
    {
        var filler = string.Concat(Enumerable.Range(0, 600).Select(i => $"X-Filler-{i}: {new string('v', 90)}\r\n"));
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\n" + filler + "Content-Length: 2\r\n\r\nok");
        using var client = Client();

        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(new string('v', 90), Assert.Single(response.Headers.GetValues("X-Filler-599")));
    }

    [Fact]
    public async Task ClosedBeforeTheHeadEnds_IsResponseEnded()
    {
        await using var server = RawHttpServer.Start(async stream =>
        {
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-"u8.ToArray());
            stream.Close();
        });
        using var client = Client();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(server.Url + "/x"), CancellationToken.None));

        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
    }

    [Theory]
    [InlineData("Content-Length: 10\r\n\r\nhalf!")]
    [InlineData("Transfer-Encoding: chunked\r\n\r\nA\r\nhalf!")]
    [InlineData("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")]
    public async Task ClosedBeforeTheBodyEnds_ReadFailsAsResponseEnded(string rest)
    {
        await using var server = RawHttpServer.Start(async stream =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n" + rest));
            stream.Close();
        });
        using var client = Client();
        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);

        var body = await response.Content.ReadAsStreamAsync();

        var error = await Assert.ThrowsAsync<HttpIOException>(() => body.CopyToAsync(Stream.Null));

        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
    }

    [Fact]
    public async Task Request_IsWrittenWithHostEveryHeaderAndConnectionClose_FramingHeadersTheWritersOwn()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 204 No Content\r\n\r\n");
        using var client = Client();
        var request = Get(server.Url + "/a%20b/c?q=1&r=%2F");
        request.Headers.TryAddWithoutValidation("X-Multi", ["one", "two"]);
        request.Headers.TryAddWithoutValidation("X-Name", "Zoë");
        request.Headers.TryAddWithoutValidation("Transfer-Encoding", "gzip");
        request.Headers.TryAddWithoutValidation("Connection", "keep-alive");
        request.Headers.TryAddWithoutValidation("Expect", "100-continue");

        using var response = await client.SendAsync(request, CancellationToken.None);

        var sent = Encoding.UTF8.GetString(Assert.Single(server.Requests));
        var port = new Uri(server.Url).Port;
        Assert.StartsWith($"GET /a%20b/c?q=1&r=%2F HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n", sent);
        Assert.Contains("\r\nX-Multi: one, two\r\n", sent);
        Assert.Contains("\r\nX-Name: Zoë\r\n", sent);
        Assert.Contains("\r\nConnection: close\r\n\r\n", sent);
        Assert.DoesNotContain("Transfer-Encoding", sent);
        Assert.DoesNotContain("keep-alive", sent);
        Assert.DoesNotContain("Expect", sent);
    }

    [Fact]
    public async Task Request_BodyWithLength_SentWithContentLength_BodyOfUnknownLength_SentChunked()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        using var client = Client();
        var known = new HttpRequestMessage(HttpMethod.Post, server.Url + "/known") { Content = new StringContent("{\"prompt\":\"hi\"}", Encoding.UTF8, "application/json") };
        var unknown = new HttpRequestMessage(HttpMethod.Post, server.Url + "/unknown") { Content = new StreamedContent(["part one, ", new string('x', 20_000), "end"]) };

        (await client.SendAsync(known, CancellationToken.None)).Dispose();
        (await client.SendAsync(unknown, CancellationToken.None)).Dispose();

        var requests = server.Requests.Select(r => Encoding.UTF8.GetString(r)).ToArray();
        var first = requests.Single(r => r.StartsWith("POST /known", StringComparison.Ordinal));
        var second = requests.Single(r => r.StartsWith("POST /unknown", StringComparison.Ordinal));
        Assert.Contains("\r\nContent-Length: 15\r\n", first);
        Assert.Contains("\r\nContent-Type: application/json; charset=utf-8\r\n", first);
        Assert.EndsWith("\r\n\r\n{\"prompt\":\"hi\"}", first);
        Assert.Contains("\r\nTransfer-Encoding: chunked\r\n", second);
        Assert.DoesNotContain("Content-Length", second);
        Assert.EndsWith("\r\n\r\nA\r\npart one, \r\n4E20\r\n" + new string('x', 20_000) + "\r\n3\r\nend\r\n0\r\n\r\n", second);
    }

    [Fact]
    public async Task Request_PostWithoutBody_SaysContentLengthZero()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        using var client = Client();

        (await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, server.Url + "/x"), CancellationToken.None)).Dispose();

        Assert.Contains("\r\nContent-Length: 0\r\n", Encoding.UTF8.GetString(Assert.Single(server.Requests)));
    }

    [Fact]
    public async Task Request_BodyLongerThanItsContentLength_FailsAndTheExtraIsNeverSent()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        using var client = Client();
        var content = new StreamedContent(["12345", "GET /smuggled HTTP/1.1\r\n\r\n"]);
        content.Headers.ContentLength = 5;

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Post, server.Url + "/x") { Content = content }, CancellationToken.None));

        Assert.Contains("longer than its Content-Length", error.Message, StringComparison.Ordinal);
        await Task.Delay(200); // let the server record what reached it
        Assert.DoesNotContain(server.Requests, r => Encoding.UTF8.GetString(r).Contains("smuggled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Request_HeaderValueWithALineBreak_FailsAndNothingIsSent()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        using var client = Client();
        var request = Get(server.Url + "/x");
        request.Headers.TryAddWithoutValidation("X-Injected", "a\r\nX-User-ID: usr_admin");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(request, CancellationToken.None));

        Assert.Contains("'X-Injected' has a line break", error.Message, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task ConnectionRefused_IsAConnectionError()
    {
        var port = LoopbackPorts.Closed();
        using var client = Client();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get($"http://127.0.0.1:{port}/x"), CancellationToken.None));

        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.IsType<SocketException>(error.InnerException);
    }

    [Fact]
    public async Task TlsUpstream_TrustedRoot_StreamsOverTls_UntrustedIsASecureConnectionError()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntls!\r\n0\r\n\r\n", certificate);
        var root = X509CertificateLoader.LoadCertificate(certificate.RawData);
        var trusting = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        trusting.CustomTrustStore.Add(root);
        using var trustingClient = new HttpMessageInvoker(new Http1StreamingHandler(TimeSpan.FromSeconds(5), trusting));
        using var systemRootsClient = Client();

        using var response = await trustingClient.SendAsync(Get(server.Url + "/x"), CancellationToken.None);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => systemRootsClient.SendAsync(Get(server.Url + "/x"), CancellationToken.None));

        Assert.Equal("tls!", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
    }

    [Fact]
    public async Task IdleStream_HoldsNoBuffer_BetweenEvents()
    {
        var nextEvent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = RawHttpServer.Start(async stream =>
        {
            // The first event arrives with the head, in the same write: it sits in the head's buffer at first.
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n"u8.ToArray());
            await nextEvent.Task;
            await stream.WriteAsync("9\r\ndata: 2\n\n\r\n0\r\n\r\n"u8.ToArray());
        });
        using var client = Client();
        using var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);
        var body = Assert.IsType<Http1ResponseBody>(await response.Content.ReadAsStreamAsync());
        Assert.True(body.HoldsBuffer);
        var buffer = new byte[64];

        var first = await body.ReadAsync(buffer);
        var idle = body.ReadAsync(Memory<byte>.Empty).AsTask(); // what a copy loop issues while it waits for the next event
        await Task.Delay(100);

        Assert.Equal("data: 1\n\n", Encoding.ASCII.GetString(buffer, 0, first));
        Assert.False(idle.IsCompleted);
        Assert.False(body.HoldsBuffer);
        nextEvent.SetResult();
        await idle.WaitAsync(Wait);
        var second = await body.ReadAsync(buffer);
        Assert.Equal("data: 2\n\n", Encoding.ASCII.GetString(buffer, 0, second));
        Assert.Equal(0, await body.ReadAsync(buffer));
        Assert.True(body.IsComplete);
        Assert.False(body.HoldsBuffer);
    }

    [Fact]
    public async Task Upgrade_SwitchingProtocols_TheConnectionIsATunnelBothWays()
    {
        await using var server = RawHttpServer.Start(async stream =>
        {
            await stream.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello"u8.ToArray());
            var ping = new byte[4];
            await stream.ReadExactlyAsync(ping);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(ping) == "ping" ? "pong" : "????"));
        });
        using var client = Client();
        var request = Get(server.Url + "/socket");
        request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
        request.Headers.TryAddWithoutValidation("Connection", "Upgrade");

        using var response = await client.SendAsync(request, CancellationToken.None);
        var tunnel = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[5];
        await tunnel.ReadExactlyAsync(buffer);
        await tunnel.WriteAsync("ping"u8.ToArray());
        var pong = new byte[4];
        await tunnel.ReadExactlyAsync(pong);

        Assert.Equal(HttpStatusCode.SwitchingProtocols, response.StatusCode);
        Assert.True(tunnel.CanWrite);
        Assert.Equal("hello", Encoding.ASCII.GetString(buffer));
        Assert.Equal("pong", Encoding.ASCII.GetString(pong));
        var sent = Encoding.ASCII.GetString(Assert.Single(server.Requests));
        Assert.Contains("\r\nUpgrade: websocket\r\n", sent);
        Assert.EndsWith("\r\nConnection: Upgrade\r\n\r\n", sent);
        Assert.DoesNotContain("close", sent);
    }

    [Fact]
    public async Task PendingRead_Canceled_ThrowsCanceled_AndDisposingClosesTheConnection()
    {
        await using var server = RawHttpServer.Start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        using var client = Client();
        var response = await client.SendAsync(Get(server.Url + "/x"), CancellationToken.None);
        var body = await response.Content.ReadAsStreamAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => body.ReadAsync(new byte[16], cancel.Token).AsTask());
        response.Dispose();

        await server.ClientClosed.Task.WaitAsync(Wait);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\nbody")]
    [InlineData("HTTP/1.1 200 OK\nA: b\n\nbody")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nA: \r\r\n\r\n")]
    public void FindEnd_FedAByteAtATime_FindsTheSameEndAsAtOnce(string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var whole = 0;
        var expected = Http1ResponseHead.FindEnd(bytes, ref whole);
        var scanned = 0;
        var found = -1;
        var length = 0;

        while (found < 0 && length < bytes.Length)
        {
            length++;
            found = Http1ResponseHead.FindEnd(bytes.AsSpan(0, length), ref scanned);
        }

        Assert.True(expected > 0);
        Assert.Equal(expected, found);
        Assert.Equal(expected, length);
    }

    [Theory]
    [InlineData(4096)] // the head fills the first buffer exactly: it is swapped for a larger one, then the read fails
    [InlineData(8192)] // and the second
    public async Task HeadFillsItsBuffer_ThenTheUpstreamCloses_NoBufferGoesBackToThePoolTwice(int sentBytes)
    {
        // Arrange: a head that never ends, exactly sentBytes long, then the connection closed
        var head = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Range(0, sentBytes / 16).Select(i => $"X-F{i:D5}: vvvvv\r\n"));
        var bytes = Encoding.ASCII.GetBytes(head)[..sentBytes];
        await using var server = RawHttpServer.Start(async stream =>
        {
            await stream.WriteAsync(bytes);
            stream.Close();
        });
        using var client = Client();

        // Act: on one thread (with a context of its own, so every continuation of the client runs there too, and
        // every buffer it returns goes to that thread's slots of the shared pool), then rent every buffer of the sizes
        // the head used that the pool holds
        var (error, duplicates) = await OneThread.RunAsync(async () =>
        {
            var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(server.Url + "/x"), CancellationToken.None));
            return (error, RentedTwice(4096) + RentedTwice(8192) + RentedTwice(16384));
        });

        // Assert: the read failed as it should, and no array came out of the pool twice (one returned twice would be
        // handed to two users at once: one stream's bytes in another's buffer)
        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
        Assert.Equal(0, duplicates);
    }

    /// <summary>Rents every array of <paramref name="size"/> the shared pool holds for this thread and counts any handed out twice.</summary>
    private static int RentedTwice(int size)
    {
        var rented = new List<byte[]>();
        try
        {
            // The pool holds at most a few dozen arrays of a size per core; past them it allocates new ones.
            for (var i = 0; i < 1000; i++)
            {
                rented.Add(ArrayPool<byte>.Shared.Rent(size));
            }

            return rented.Count - rented.Distinct(ReferenceEqualityComparer.Instance).Count();
        }
        finally
        {
            foreach (var array in rented.Distinct(ReferenceEqualityComparer.Instance))
            {
                ArrayPool<byte>.Shared.Return((byte[])array!);
            }
        }
    }

    private static HttpMessageInvoker Client() => new(new Http1StreamingHandler(TimeSpan.FromSeconds(5), chainPolicy: null));

    private static HttpRequestMessage Get(string url) => new(HttpMethod.Get, url);

    /// <summary>Runs an asynchronous function on a thread of its own, every continuation back on that thread.</summary>
    private sealed class OneThread : SynchronizationContext
    {
        private readonly System.Collections.Concurrent.BlockingCollection<(SendOrPostCallback, object?)> _queue = [];

        public static Task<T> RunAsync<T>(Func<Task<T>> action)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                var context = new OneThread();
                SetSynchronizationContext(context);
                var task = action();
                task.ContinueWith(_ => context._queue.CompleteAdding(), TaskScheduler.Default);
                foreach (var (callback, state) in context._queue.GetConsumingEnumerable())
                {
                    callback(state);
                }

                if (task.IsCompletedSuccessfully)
                {
                    done.SetResult(task.Result);
                }
                else
                {
                    done.SetException(task.Exception!.InnerExceptions);
                }
            }) { IsBackground = true };
            thread.Start();
            return done.Task.WaitAsync(Http1StreamingHandlerTests.Wait);
        }

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException();
    }

    /// <summary>A request body of unknown length, written in the given pieces.</summary>
    private sealed class StreamedContent(string[] pieces) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            foreach (var piece in pieces)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(piece));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
