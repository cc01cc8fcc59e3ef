using System.IO.Compression;
using System.Net;
using ApiGate.Gateway.Metering;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// A response body the upstream compressed although the gateway offered it no coding (it drops the client's
/// <c>Accept-Encoding</c> on <c>sse</c> routes and on routes whose metering or response transform reads the body),
/// decoded on its way to the client: passed on as it came, an event stream's events could not be counted (<c>sseEvents</c>
/// read 0 and the stream was billed nothing), <c>response.body</c> read null (billed by the expression's fallback), a
/// response transform withheld the body (502), and a client that never asked for the coding got bytes it may not read.
/// Each read returns what the upstream's data decoded so far, so
/// an event the upstream flushed still reaches the client at once. <c>gzip</c> (<c>x-gzip</c>), <c>br</c> and <c>deflate</c>
/// are decoded — <c>deflate</c> in either format servers send it (zlib, as RFC 9110 §8.4.1.2 says, or raw), told apart
/// by the body's first two bytes; any other coding, or several, is passed on as it came.
/// </summary>
internal sealed class DecodedResponseContent : ReadThroughContent
{
    private readonly string _coding;

    private DecodedResponseContent(HttpContent inner, string coding)
        : base(inner, "Content-Encoding", "Content-Length") => _coding = coding;

    /// <summary>
    /// Replaces the response's content by its decoded body when the upstream compressed it with a coding the gateway
    /// decodes, and takes the coding and the (compressed) length off the client's response headers.
    /// </summary>
    /// <returns>True when the body is decoded.</returns>
    public static bool TryDecode(HttpResponseMessage proxyResponse, IHeaderDictionary clientHeaders)
    {
        if (!proxyResponse.Content.Headers.NonValidated.TryGetValues("Content-Encoding", out var values)
            || values.Count != 1 || Decodes(values.ToString().Trim()) is not { } coding)
        {
            return false;
        }

        proxyResponse.Content = new DecodedResponseContent(proxyResponse.Content, coding);
        clientHeaders.ContentEncoding = default;
        clientHeaders.ContentLength = null;
        return true;
    }

    /// <summary>The coding's canonical name when it is one the gateway decodes, else null.</summary>
    private static string? Decodes(string coding) =>
        coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase) ? "gzip"
        : coding.Equals("br", StringComparison.OrdinalIgnoreCase) ? "br"
        : coding.Equals("deflate", StringComparison.OrdinalIgnoreCase) ? "deflate"
        : null;

    protected override Stream Through(Stream body) => new UpstreamDecoding(Decoder(body), _coding);

    private Stream Decoder(Stream compressed) => _coding switch
    {
        "gzip" => new GZipStream(compressed, CompressionMode.Decompress),
        "br" => new BrotliStream(compressed, CompressionMode.Decompress),
        _ => new EitherDeflateStream(compressed),
    };

    /// <summary>
    /// The decoded body, whose bytes failing to decode is the upstream's broken response: an
    /// <see cref="HttpIOException"/> (<see cref="HttpRequestError.InvalidResponse"/>), as a body cut short is, not the
    /// decoder's <see cref="InvalidDataException"/> (Brotli: <see cref="InvalidOperationException"/>) — which a response
    /// transform reading the body reported as its own failure (<c>500 transform_error</c>, the target not blamed).
    /// </summary>
    private sealed class UpstreamDecoding(Stream decoder, string coding) : ReadOnlyStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await decoder.ReadAsync(buffer, cancellationToken);
            }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException)
            {
                throw new HttpIOException(HttpRequestError.InvalidResponse, $"The upstream's {coding} body does not decode: {e.Message}", e);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous reads of a decoded body are not supported.");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                decoder.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// A <c>deflate</c> body decoded in the format it came in: zlib (RFC 1950) when its first two bytes are a zlib header
    /// (compression method 8, and a multiple of 31 read as a big-endian number), else raw deflate (RFC 1951). The first
    /// read waits for those two bytes only, which come in the upstream's first flush, so no flushed event is held back.
    /// </summary>
    private sealed class EitherDeflateStream(Stream compressed) : ReadOnlyStream
    {
        private readonly Stream _compressed = compressed;
        private readonly byte[] _head = new byte[2];
        private int _headLength;
        private int _headGiven;
        private Stream? _decoder;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_decoder is null)
            {
                while (_headLength < _head.Length && await _compressed.ReadAsync(_head.AsMemory(_headLength), cancellationToken) is > 0 and var read)
                {
                    _headLength += read;
                }

                var source = new HeadFirstStream(this);
                _decoder = _headLength == 2 && (_head[0] & 0x0F) == 8 && ((_head[0] << 8) | _head[1]) % 31 == 0
                    ? new ZLibStream(source, CompressionMode.Decompress)
                    : new DeflateStream(source, CompressionMode.Decompress);
            }

            return await _decoder.ReadAsync(buffer, cancellationToken);
        }

        // The forwarder reads the body asynchronously; so does the decoder, from HeadFirstStream.
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous reads of a decoded event stream are not supported.");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                (_decoder ?? _compressed).Dispose();
            }

            base.Dispose(disposing);
        }

        /// <summary>The compressed body as it came: the bytes read ahead, then the rest.</summary>
        private sealed class HeadFirstStream(EitherDeflateStream owner) : ReadOnlyStream
        {
            public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                if (owner._headGiven == owner._headLength)
                {
                    return owner._compressed.ReadAsync(buffer, cancellationToken);
                }

                var count = Math.Min(buffer.Length, owner._headLength - owner._headGiven);
                owner._head.AsSpan(owner._headGiven, count).CopyTo(buffer.Span);
                owner._headGiven += count;
                return ValueTask.FromResult(count);
            }

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous reads of a decoded event stream are not supported.");

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    owner._compressed.Dispose();
                }

                base.Dispose(disposing);
            }
        }
    }
}
