using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>
/// How many streams each origin's HTTP/2 connection carries at once, as its server stated in the first SETTINGS frame
/// of the connection (<c>SETTINGS_MAX_CONCURRENT_STREAMS</c>, RFC 9113 §6.5.2), or <see cref="Default"/> until a
/// server has said. Read by the forwarding step to tell a request that waited for a stream in the gateway's own client
/// (its timeout is not the target's failure) from one the target was sent; kept for the pooled client of an upstream
/// with <c>max_conns</c>, whose HTTP/2 targets get one connection each. Only the first SETTINGS frame is read: the
/// connection's stream is passed through untouched after it, so the read path costs one branch per read.
/// </summary>
internal sealed class Http2StreamLimits
{
    /// <summary>Streams a connection is taken to carry before its server has said: RFC 9113's recommended least, the usual limit.</summary>
    public const int Default = 100;

    private readonly ConcurrentDictionary<string, int> _byOrigin = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The streams one connection to <paramref name="origin"/> (<c>scheme://host:port</c>) carries at once.</summary>
    public int For(string origin) => _byOrigin.TryGetValue(origin, out var limit) ? limit : Default;

    /// <summary>A <see cref="SocketsHttpHandler.PlaintextStreamFilter"/>: watches the first frames of HTTP/2 connections.</summary>
    public ValueTask<Stream> Filter(SocketsHttpPlaintextStreamFilterContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.NegotiatedHttpVersion == HttpVersion.Version20 && context.InitialRequestMessage.RequestUri is { } uri
            ? new SettingsWatcher(context.PlaintextStream, this, uri.GetLeftPart(UriPartial.Authority))
            : context.PlaintextStream);

    private void Record(string origin, long? maxConcurrentStreams)
    {
        if (maxConcurrentStreams is { } stated)
        {
            // A server that states 0 takes no stream until it says otherwise: counted as 1, so the first exchange in
            // flight is the target's own (its timeout held against it) instead of every one being taken as queued here.
            _byOrigin[origin] = (int)Math.Clamp(stated, 1, int.MaxValue);
        }
        else
        {
            _byOrigin.TryRemove(origin, out _); // not stated: no limit, so the default stands
        }
    }

    /// <summary>The connection's stream, reading the server's first frame (its SETTINGS) as it passes.</summary>
    internal sealed class SettingsWatcher(Stream inner, Http2StreamLimits owner, string origin) : Stream
    {
        private const int FrameHeaderLength = 9;
        private const int SettingLength = 6;
        private const byte SettingsFrame = 0x4;
        private const ushort MaxConcurrentStreams = 0x3;

        // Frame header, then one setting at a time; null once the first frame has been read.
        private byte[]? _pending = new byte[FrameHeaderLength + SettingLength];
        private int _headerFilled;
        private int _settingFilled;
        private int _payloadLeft;
        private long? _stated;

        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => false;

        public override bool CanWrite => inner.CanWrite;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        // Once the first frame is read, reads go straight to the connection: no state machine per read.
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _pending is null ? inner.ReadAsync(buffer, cancellationToken) : ReadWatchingAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            if (_pending is not null)
            {
                Observe(buffer[..read]);
            }

            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();

        private async ValueTask<int> ReadWatchingAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Observe(buffer.Span[..read]);
            return read;
        }

        /// <summary>Reads the first frame's bytes as they arrive (in any split); a first frame other than SETTINGS ends the watch.</summary>
        private void Observe(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty && _pending is { } pending)
            {
                if (_headerFilled < FrameHeaderLength)
                {
                    var take = Math.Min(FrameHeaderLength - _headerFilled, data.Length);
                    data[..take].CopyTo(pending.AsSpan(_headerFilled));
                    _headerFilled += take;
                    data = data[take..];
                    if (_headerFilled == FrameHeaderLength)
                    {
                        _payloadLeft = (pending[0] << 16) | (pending[1] << 8) | pending[2];
                        if (pending[3] != SettingsFrame)
                        {
                            _pending = null; // not a server preface: leave the connection alone
                            return;
                        }

                        FinishIfRead();
                    }

                    continue;
                }

                var part = Math.Min(Math.Min(SettingLength - _settingFilled, data.Length), _payloadLeft);
                data[..part].CopyTo(pending.AsSpan(FrameHeaderLength + _settingFilled));
                _settingFilled += part;
                _payloadLeft -= part;
                data = data[part..];
                if (_settingFilled == SettingLength)
                {
                    var setting = pending.AsSpan(FrameHeaderLength);
                    if (BinaryPrimitives.ReadUInt16BigEndian(setting) == MaxConcurrentStreams)
                    {
                        _stated = BinaryPrimitives.ReadUInt32BigEndian(setting[2..]);
                    }

                    _settingFilled = 0;
                }

                FinishIfRead();
            }
        }

        private void FinishIfRead()
        {
            if (_payloadLeft == 0)
            {
                _pending = null;
                owner.Record(origin, _stated);
            }
        }
    }
}
