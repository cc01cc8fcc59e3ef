using System.Net;
using System.Runtime.CompilerServices;
using ApiGate.Gateway.Metering;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// The upstream's side of an event stream or a WebSocket, ended as if the upstream had ended it when the gateway's stop
/// begins (<see cref="OpenStreams"/>), so the forwarder finishes the client's side normally instead of resetting it:
/// <list type="bullet">
/// <item>an event stream gets its proper end (the last chunk on HTTP/1.1, the end of the stream on HTTP/2) after the
/// last event the upstream sent, and the client's EventSource reconnects; an event the upstream had only half sent is
/// dropped by the client as unfinished, as the event stream format says;</item>
/// <item>a WebSocket gets a close frame with status 1001 (going away, RFC 6455 §7.4.1) between two of the upstream's
/// frames, then the end of the connection; when the upstream stopped in the middle of a frame, or had already sent its
/// own close frame, only the end.</item>
/// </list>
/// The upstream's connection is closed at that moment (its pending read is abandoned).
/// </summary>
internal sealed class StopEndedContent(HttpContent inner, CancellationToken stop, bool webSocket) : ReadThroughContent(inner)
{
    protected override Stream Through(Stream body) => new StopEndedStream(body, stop, webSocket ? new WebSocketMessageCounter() : null);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => Inner.CopyToAsync(stream, context);

    /// <summary>
    /// Reads pass through until the stop; then the pending read ends (the inner stream is disposed under it) with the
    /// close frame when one is due, and every read after it with the end. A WebSocket's stream is duplex: the client's
    /// frames are written through it to the upstream.
    /// </summary>
    private sealed class StopEndedStream : Stream
    {
        /// <summary>A server's close frame (unmasked): FIN + close, 2 bytes of payload, status 1001.</summary>
        private static readonly byte[] GoingAway = [0x88, 0x02, 0x03, 0xE9];

        private readonly Stream _inner;
        private readonly WebSocketMessageCounter? _frames;
        private readonly CancellationTokenRegistration _registration;
        private volatile bool _stopped;
        private bool _ended;

        public StopEndedStream(Stream inner, CancellationToken stop, WebSocketMessageCounter? frames)
        {
            _inner = inner;
            _frames = frames;
            // Disposing the upstream's stream fails the read waiting on it, which is then reported as the end.
            _registration = stop.UnsafeRegister(static state =>
            {
                var self = (StopEndedStream)state!;
                self._stopped = true;
                self._inner.Dispose();
            }, this);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => _frames is not null;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_stopped)
            {
                try
                {
                    var read = await _inner.ReadAsync(buffer, cancellationToken);
                    if (read > 0 || !_stopped || buffer.IsEmpty)
                    {
                        _frames?.Observe(buffer.Span[..read]);
                        return read;
                    }

                    // the stop closed it under the read, which some streams report as their end
                }
                catch (Exception) when (_stopped && !cancellationToken.IsCancellationRequested)
                {
                    // ended by the stop: below
                }
            }

            return End(buffer.Span);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (!_stopped)
            {
                try
                {
                    var read = _inner.Read(buffer, offset, count);
                    if (read > 0 || !_stopped || count == 0)
                    {
                        _frames?.Observe(buffer.AsSpan(offset, read));
                        return read;
                    }
                }
                catch (Exception) when (_stopped)
                {
                    // ended by the stop: below
                }
            }

            return End(buffer.AsSpan(offset, count));
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            _frames is null ? throw new NotSupportedException() : _inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_frames is null)
            {
                throw new NotSupportedException();
            }

            _inner.Write(buffer, offset, count);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => _frames is null ? Task.CompletedTask : _inner.FlushAsync(cancellationToken);

        public override void Flush()
        {
            if (_frames is not null)
            {
                _inner.Flush();
            }
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _registration.Dispose();
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }

        /// <summary>
        /// What a read returns once the stop has ended the stream: the WebSocket's close frame once (when it falls between
        /// two frames and the upstream has not sent its own: the client would get a second close), then the end.
        /// </summary>
        private int End(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return 0; // a zero-byte read (the copier waiting for data before it takes a buffer): the next read gets the rest
            }

            if (_ended || _frames is not { AtFrameBoundary: true, ClosePassed: false } || buffer.Length < GoingAway.Length)
            {
                _ended = true;
                return 0;
            }

            _ended = true;
            GoingAway.CopyTo(buffer);
            return GoingAway.Length;
        }
    }
}
