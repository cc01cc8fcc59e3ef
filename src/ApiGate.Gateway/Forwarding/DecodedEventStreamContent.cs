using System.IO.Compression;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// The body of an <c>sse</c> route's response that the upstream compressed although the gateway offered it no coding
/// (it drops the client's <c>Accept-Encoding</c> on these routes), decoded on its way to the client: passed on as it
/// came, its events could not be counted (<c>sseEvents</c> read 0 and the stream was billed nothing), and a client that
/// never asked for the coding got bytes it may not read. Each read returns what the upstream's data decoded so far, so
/// an event the upstream flushed still reaches the client at once. <c>gzip</c> (<c>x-gzip</c>) and <c>br</c> are decoded;
/// any other coding, or several, is passed on as it came — <c>deflate</c> too, which servers send in two formats (zlib, as
/// RFC 9110 §8.4.1.2 says, or raw) that the header does not tell apart.
/// </summary>
internal sealed class DecodedEventStreamContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly string _coding;

    private DecodedEventStreamContent(HttpContent inner, string coding)
    {
        _inner = inner;
        _coding = coding;
        foreach (var header in inner.Headers.NonValidated)
        {
            if (!header.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase) && !header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
    }

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

        proxyResponse.Content = new DecodedEventStreamContent(proxyResponse.Content, coding);
        clientHeaders.ContentEncoding = default;
        clientHeaders.ContentLength = null;
        return true;
    }

    /// <summary>The coding's canonical name when it is one the gateway decodes, else null.</summary>
    private static string? Decodes(string coding) =>
        coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase) ? "gzip"
        : coding.Equals("br", StringComparison.OrdinalIgnoreCase) ? "br"
        : null;

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        Decoder(await _inner.ReadAsStreamAsync(cancellationToken));

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await using var decoded = Decoder(await _inner.ReadAsStreamAsync());
        await decoded.CopyToAsync(stream);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private Stream Decoder(Stream compressed) => _coding == "gzip"
        ? new GZipStream(compressed, CompressionMode.Decompress)
        : new BrotliStream(compressed, CompressionMode.Decompress);
}
