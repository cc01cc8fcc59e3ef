using System.Net;
using System.Runtime.CompilerServices;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// An event stream's upstream body that ends, as if the upstream had finished it, when the gateway's stop begins
/// (<see cref="OpenStreams"/>): the forwarder then completes the client's response normally (the last chunk on
/// HTTP/1.1, the end of the stream on HTTP/2) instead of resetting it, and the client's EventSource reconnects. The
/// upstream's connection is closed at that moment (its read is abandoned). Events never end mid-way on the gateway's
/// side: whatever the upstream sent is passed on, and an event it had only half sent is dropped by the client as
/// unfinished, as the event stream format says.
/// </summary>
internal sealed class StopEndedContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly CancellationToken _stop;

    public StopEndedContent(HttpContent inner, CancellationToken stop)
    {
        _inner = inner;
        _stop = stop;
        foreach (var header in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new StopEndedStream(await _inner.ReadAsStreamAsync(cancellationToken), _stop);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

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

    private sealed class StopEndedStream : Metering.ReadOnlyStream
    {
        private readonly Stream _inner;
        private readonly CancellationTokenRegistration _registration;
        private volatile bool _stopped;

        public StopEndedStream(Stream inner, CancellationToken stop)
        {
            _inner = inner;
            // Disposing the upstream's body stream fails the read waiting on it, which is then reported as the end.
            _registration = stop.UnsafeRegister(static state =>
            {
                var self = (StopEndedStream)state!;
                self._stopped = true;
                self._inner.Dispose();
            }, this);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_stopped)
            {
                return 0;
            }

            try
            {
                return await _inner.ReadAsync(buffer, cancellationToken);
            }
            catch (Exception) when (_stopped && !cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            try
            {
                return _stopped ? 0 : _inner.Read(buffer, offset, count);
            }
            catch (Exception) when (_stopped)
            {
                return 0;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _registration.Dispose();
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
