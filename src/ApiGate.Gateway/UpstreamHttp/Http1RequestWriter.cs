using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>
/// Writes an <see cref="HttpRequestMessage"/> as an HTTP/1.1 request (RFC 9112 §3) on a connection used for this one
/// exchange: the request line with the URI's path and query as they are, <c>Host</c>, every header of the request
/// and its content (values as UTF-8, as the gateway's pooled client sends them), <c>Connection: close</c> (or
/// <c>Connection: Upgrade</c> for a request that carries an <c>Upgrade</c> header), and the
/// body with its <c>Content-Length</c> when known, else chunked. The framing is the writer's alone: a
/// <c>Transfer-Encoding</c>, <c>Content-Length</c>, <c>Connection</c> or <c>Expect</c> header on the message is not
/// copied, and a body that does not match its declared length fails the request instead of being sent.
/// </summary>
internal static class Http1RequestWriter
{
    public static async ValueTask WriteAsync(Stream transport, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var content = request.Content;
        var length = content is null ? (MustSayLength(request.Method) ? 0 : (long?)null) : content.Headers.ContentLength;
        var head = WriteHead(request, length, chunked: content is not null && length is null, out var headLength);
        try
        {
            await transport.WriteAsync(head.AsMemory(0, headLength), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(head);
        }

        if (content is null)
        {
            return;
        }

        if (length is { } declared)
        {
            var limited = new LengthCheckingStream(transport, declared);
            await content.CopyToAsync(limited, cancellationToken);
            if (limited.Remaining != 0)
            {
                throw new HttpRequestException(HttpRequestError.Unknown,
                    $"The request body ended {limited.Remaining} bytes before its Content-Length; the request was not completed.");
            }
        }
        else
        {
            var chunked = new ChunkedWriteStream(transport);
            await content.CopyToAsync(chunked, cancellationToken);
            await chunked.WriteEndAsync(cancellationToken);
        }
    }

    /// <summary>Methods whose request is expected to have a body say <c>Content-Length: 0</c> when it has none.</summary>
    private static bool MustSayLength(HttpMethod method) => method == HttpMethod.Post || method == HttpMethod.Put || method == HttpMethod.Patch;

    /// <summary>The request line and headers in a pooled buffer (returned by the caller).</summary>
    internal static byte[] WriteHead(HttpRequestMessage request, long? contentLength, bool chunked, out int length)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var writer = new HeadBuilder(2048);
        writer.AppendAscii(request.Method.Method);
        writer.AppendAscii(" ");
        var target = uri.PathAndQuery;
        if (target.Length == 0 || target.AsSpan().IndexOfAny(" \r\n\0") >= 0 || !Ascii.IsValid(target))
        {
            throw new HttpRequestException(HttpRequestError.Unknown, "The request target contains white space, a control character or a non-ASCII character; it cannot be sent.");
        }

        writer.AppendAscii(target);
        writer.AppendAscii(" HTTP/1.1\r\nHost: ");
        writer.AppendValue("Host", request.Headers.Host ?? (uri.IsDefaultPort ? uri.IdnHost : uri.IdnHost + ":" + uri.Port.ToString(CultureInfo.InvariantCulture)));
        writer.AppendAscii("\r\n");
        AppendHeaders(ref writer, request.Headers);
        if (request.Content is { } content)
        {
            AppendHeaders(ref writer, content.Headers);
        }

        if (contentLength is { } declared)
        {
            writer.AppendAscii("Content-Length: ");
            writer.AppendAscii(declared.ToString(CultureInfo.InvariantCulture));
            writer.AppendAscii("\r\n");
        }
        else if (chunked)
        {
            writer.AppendAscii("Transfer-Encoding: chunked\r\n");
        }

        // An upgrade (WebSocket) keeps the connection as the tunnel; anything else ends with its response.
        writer.AppendAscii(IsUpgrade(request) ? "Connection: Upgrade\r\n\r\n" : "Connection: close\r\n\r\n");
        length = writer.Length;
        return writer.Buffer;
    }

    /// <summary>The request asks to switch protocols (it carries an <c>Upgrade</c> header, which is sent as it is).</summary>
    public static bool IsUpgrade(HttpRequestMessage request) => request.Headers.NonValidated.Contains("Upgrade");

    private static void AppendHeaders(ref HeadBuilder writer, HttpHeaders headers)
    {
        foreach (var (name, values) in headers.NonValidated)
        {
            if (IsFramingHeader(name))
            {
                continue;
            }

            writer.AppendAscii(name);
            writer.AppendAscii(": ");
            // Several values are joined with the header's own separator (", " for most, "; " for Cookie).
            writer.AppendValue(name, values.Count == 1 ? FirstOf(values) : values.ToString());
            writer.AppendAscii("\r\n");
        }
    }

    private static string FirstOf(HeaderStringValues values)
    {
        foreach (var value in values)
        {
            return value;
        }

        return "";
    }

    private static bool IsFramingHeader(string name) =>
        name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase) || name.Equals("Expect", StringComparison.OrdinalIgnoreCase);

    /// <summary>A growing pooled byte buffer for one request head.</summary>
    private struct HeadBuilder(int capacity)
    {
        public byte[] Buffer = ArrayPool<byte>.Shared.Rent(capacity);

        public int Length;

        public void AppendAscii(string text)
        {
            Ensure(text.Length);
            Length += Encoding.ASCII.GetBytes(text, Buffer.AsSpan(Length));
        }

        /// <summary>A header value as UTF-8; a CR, LF or NUL in it would end the line early, so it fails the request.</summary>
        public void AppendValue(string name, string value)
        {
            if (value.AsSpan().IndexOfAny("\r\n\0") >= 0)
            {
                throw new HttpRequestException(HttpRequestError.Unknown, $"The request header '{name}' has a line break or NUL in its value; it cannot be sent.");
            }

            Ensure(Encoding.UTF8.GetMaxByteCount(value.Length));
            Length += Encoding.UTF8.GetBytes(value, Buffer.AsSpan(Length));
        }

        private void Ensure(int more)
        {
            if (Length + more <= Buffer.Length)
            {
                return;
            }

            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(Buffer.Length * 2, Length + more));
            Buffer.AsSpan(0, Length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = larger;
        }
    }

    /// <summary>Passes a body through, failing the write that would go past the declared length.</summary>
    private sealed class LengthCheckingStream(Stream inner, long length) : WriteOnlyStream
    {
        public long Remaining { get; private set; } = length;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.Length > Remaining)
            {
                throw new HttpRequestException(HttpRequestError.Unknown, "The request body is longer than its Content-Length; the request was not completed.");
            }

            Remaining -= buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    }

    /// <summary>Writes each write as one chunk (RFC 9112 §7.1), framing and data in one write when small.</summary>
    private sealed class ChunkedWriteStream(Stream inner) : WriteOnlyStream
    {
        private const int CombineBelow = 16 * 1024;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                return; // an empty chunk would end the body
            }

            var frame = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length, CombineBelow) + 24);
            try
            {
                var prefix = WritePrefix(frame, buffer.Length);
                if (buffer.Length < CombineBelow)
                {
                    buffer.Span.CopyTo(frame.AsSpan(prefix));
                    "\r\n"u8.CopyTo(frame.AsSpan(prefix + buffer.Length));
                    await inner.WriteAsync(frame.AsMemory(0, prefix + buffer.Length + 2), cancellationToken);
                    return;
                }

                await inner.WriteAsync(frame.AsMemory(0, prefix), cancellationToken);
                await inner.WriteAsync(buffer, cancellationToken);
                "\r\n"u8.CopyTo(frame);
                await inner.WriteAsync(frame.AsMemory(0, 2), cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(frame);
            }
        }

        private static readonly byte[] LastChunk = "0\r\n\r\n"u8.ToArray();

        public ValueTask WriteEndAsync(CancellationToken cancellationToken) => inner.WriteAsync(LastChunk, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        private static int WritePrefix(byte[] frame, int length)
        {
            length.TryFormat(frame.AsSpan(), out var written, "X", CultureInfo.InvariantCulture);
            frame[written] = (byte)'\r';
            frame[written + 1] = (byte)'\n';
            return written + 2;
        }
    }

    /// <summary>The members every write-only wrapper here answers the same way.</summary>
    private abstract class WriteOnlyStream : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException("The request body is written asynchronously only.");

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
