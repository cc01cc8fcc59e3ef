using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>
/// The HTTP/1.1 client of <c>sse</c> and <c>websocket</c> routes (docs/forwarding.md, "Streams through HTTP/1.1
/// upstreams"): one connection per exchange, closed when the response ends (or, after a <c>101</c>, when the tunnel
/// does), that holds no buffer while a stream is idle. The runtime's pooled
/// client keeps a 4 KiB read and a 4 KiB write buffer for the whole life of every HTTP/1.1 connection — a third of
/// what an idle stream costs the gateway — and a stream holds its connection for as long as it lasts, so pooling buys
/// nothing there.
/// <para>
/// It reports failures the way the pooled client does, so retries and target health treat both alike: a connection
/// refused is <see cref="HttpRequestError.ConnectionError"/>, a connect (or TLS handshake) past the connect timeout an
/// <see cref="OperationCanceledException"/> wrapping a <see cref="TimeoutException"/>, a failed TLS handshake
/// <see cref="HttpRequestError.SecureConnectionError"/>, a connection closed or reset before the response head
/// <see cref="HttpRequestError.ResponseEnded"/>, a head that breaks the rules <see cref="HttpRequestError.InvalidResponse"/>
/// and one past 64 KiB <see cref="HttpRequestError.ConfigurationLimitExceeded"/>.
/// </para>
/// </summary>
internal sealed class Http1StreamingHandler(TimeSpan connectTimeout, X509ChainPolicy? chainPolicy) : HttpMessageHandler
{
    private const int HeadBufferSize = 4096;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var transport = await ConnectAsync(uri, request.Headers.Host, cancellationToken);
        try
        {
            try
            {
                SentAttempt.Mark(request);
                await Http1RequestWriter.WriteAsync(transport, request, cancellationToken);
            }
            catch (IOException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HttpRequestException(HttpRequestError.Unknown, "Sending the request to the upstream failed: " + e.Message, e);
            }

            return await ReadResponseAsync(transport, request, cancellationToken);
        }
        catch
        {
            await transport.DisposeAsync();
            throw;
        }
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Requests are sent asynchronously only.");

    private async ValueTask<Stream> ConnectAsync(Uri uri, string? hostHeader, CancellationToken cancellationToken)
    {
        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.DnsSafeHost : uri.IdnHost;
        using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connecting.CancelAfter(connectTimeout);
        Socket? socket = null;
        try
        {
            if (IPAddress.TryParse(host, out var address))
            {
                socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(address, uri.Port), connecting.Token);
            }
            else
            {
                socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new DnsEndPoint(host, uri.Port), connecting.Token);
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            socket?.Dispose();
            throw TimedOut(host, uri.Port, e);
        }
        catch (SocketException e)
        {
            socket?.Dispose();
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"{e.Message} ({host}:{uri.Port.ToString(CultureInfo.InvariantCulture)})", e);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }

        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (!uri.Scheme.Equals(Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            return stream;
        }

        var tls = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            // The name the certificate must carry: the Host header's when one is set (as the pooled client does), else the URI's.
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = HostOf(hostHeader) ?? uri.IdnHost,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                CertificateChainPolicy = chainPolicy,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, connecting.Token);
            return tls;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            await tls.DisposeAsync();
            throw TimedOut(host, uri.Port, e);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync();
            throw new HttpRequestException(HttpRequestError.SecureConnectionError, "The TLS connection to the upstream could not be established: " + e.Message, e);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    private static TaskCanceledException TimedOut(string host, int port, Exception inner) =>
        new($"The connection to {host}:{port.ToString(CultureInfo.InvariantCulture)} timed out.", new TimeoutException(inner.Message, inner));

    /// <summary>Reads heads until the final (non-1xx) one and returns the response, its body left on the connection.</summary>
    private static async Task<HttpResponseMessage> ReadResponseAsync(Stream transport, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        int start = 0, end = 0, interimBytes = 0, scanned = 0;
        try
        {
            while (true)
            {
                var headLength = buffer is null ? -1 : Http1ResponseHead.FindEnd(buffer.AsSpan(start, end - start), ref scanned);
                if (headLength < 0)
                {
                    if (interimBytes + (end - start) >= Http1ResponseHead.MaxBytes)
                    {
                        throw new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, "The upstream's response head is larger than 64 KiB.");
                    }

                    // The buffer is swapped here, not in the read: whatever the read throws, `buffer` is the one this method
                    // owns, so the finally below returns it once (a buffer returned twice is handed to two renters at once).
                    if (buffer is null)
                    {
                        // Wait for the head without a buffer: an upstream that sends it with its first event may take a while.
                        _ = await ReadHeadBytesAsync(transport, Memory<byte>.Empty, cancellationToken); // waits for data, reads none
                        buffer = ArrayPool<byte>.Shared.Rent(HeadBufferSize);
                    }
                    else if (end == buffer.Length)
                    {
                        var full = buffer;
                        buffer = ArrayPool<byte>.Shared.Rent(start > 0 ? full.Length : full.Length * 2);
                        full.AsSpan(start, end - start).CopyTo(buffer);
                        (end, start) = (end - start, 0);
                        ArrayPool<byte>.Shared.Return(full);
                    }

                    end += await ReadHeadBytesAsync(transport, buffer.AsMemory(end), cancellationToken);
                    continue;
                }

                var head = buffer.AsSpan(start, headLength);
                var status = Http1ResponseHead.ReadStatus(head);
                var upgraded = status == 101 && Http1RequestWriter.IsUpgrade(request);
                if (status < 200 && !upgraded)
                {
                    if (status == 101)
                    {
                        throw Http1ResponseHead.Invalid("The upstream switched protocols, which was not asked for.");
                    }

                    start += headLength; // an interim response (100 Continue, 103 Early Hints): the final one follows
                    interimBytes += headLength;
                    scanned = 0;
                    continue;
                }

                var content = new Http1ResponseContent();
                var response = new HttpResponseMessage { RequestMessage = request, Content = content };
                var framing = Http1ResponseHead.Apply(head, response, request.Method == HttpMethod.Head, out var contentLength);
                // Switched protocols: the connection is the tunnel, read and written both ways until either side closes.
                content.Body = upgraded
                    ? Http1ResponseBody.Tunnel(transport, response, buffer, start + headLength, end)
                    : new Http1ResponseBody(transport, response, framing, contentLength, buffer, start + headLength, end);
                buffer = null; // the body owns it now
                return response;
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Reads head bytes into <paramref name="destination"/> (an empty one waits for data and reads none); the connection
    /// ending or failing before the head is complete is <see cref="HttpRequestError.ResponseEnded"/>.
    /// </summary>
    private static async ValueTask<int> ReadHeadBytesAsync(Stream transport, Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            var read = await transport.ReadAsync(destination, cancellationToken);
            if (read == 0 && !destination.IsEmpty)
            {
                throw new HttpRequestException(HttpRequestError.ResponseEnded, "The upstream closed the connection before a complete response head.",
                    new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely."));
            }

            return read;
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException(HttpRequestError.ResponseEnded, "The upstream connection failed before a complete response head: " + e.Message, e);
        }
    }

    /// <summary>The host part of a Host header value (<c>name</c>, <c>name:port</c>, <c>[v6]:port</c>), or null.</summary>
    private static string? HostOf(string? hostHeader)
    {
        if (string.IsNullOrEmpty(hostHeader))
        {
            return null;
        }

        if (hostHeader[0] == '[')
        {
            var close = hostHeader.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? hostHeader[1..close] : null;
        }

        var colon = hostHeader.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? hostHeader : hostHeader[..colon];
    }
}
