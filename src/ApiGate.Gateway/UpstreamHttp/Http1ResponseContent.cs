using System.Net;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>The content of a response read by <see cref="Http1StreamingHandler"/>: its body stream, handed out as it is.</summary>
internal sealed class Http1ResponseContent : HttpContent
{
    private Http1ResponseBody? _body;

    /// <summary>Set once the head is parsed (the head's content headers go on this content first).</summary>
    public Http1ResponseBody Body
    {
        get => _body ?? throw new InvalidOperationException("The response body is not attached yet.");
        set => _body = value;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => Body.CopyToAsync(stream);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        Body.CopyToAsync(stream, cancellationToken);

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(Body);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(Body);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => Body;

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body?.Dispose();
        }

        base.Dispose(disposing);
    }
}
