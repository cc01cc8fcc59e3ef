using System.Net;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// An upstream's response body the forwarder reads through a stream of the gateway's own (<see cref="Through"/>: decoded,
/// or ended at a stop): the upstream content's headers but <paramref name="dropped"/>, no length known ahead, and the
/// upstream content disposed with it.
/// </summary>
internal abstract class ReadThroughContent : HttpContent
{
    protected ReadThroughContent(HttpContent inner, params string[] dropped)
    {
        Inner = inner;
        foreach (var header in inner.Headers.NonValidated)
        {
            if (Array.FindIndex(dropped, name => header.Key.Equals(name, StringComparison.OrdinalIgnoreCase)) < 0)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
    }

    /// <summary>The upstream's content.</summary>
    protected HttpContent Inner { get; }

    /// <summary>The stream the forwarder reads instead of the upstream's <paramref name="body"/>.</summary>
    protected abstract Stream Through(Stream body);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        Through(await Inner.ReadAsStreamAsync(cancellationToken));

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await using var body = Through(await Inner.ReadAsStreamAsync());
        await body.CopyToAsync(stream);
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
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
