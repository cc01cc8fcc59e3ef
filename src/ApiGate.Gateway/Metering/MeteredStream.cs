using System.Buffers;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// A pass-through stream wrapper that counts bytes, optionally counts server-sent events (blank-line terminators)
/// and optionally keeps the first bytes (for metering expressions that read <c>request.body</c>/<c>response.body</c>).
/// It never delays or buffers the data it passes on.
/// </summary>
internal sealed class MeteredStream(Stream inner, bool countEvents, int captureLimit) : Stream
{
    private ArrayBufferWriter<byte>? _capture;
    private bool _captureOverflow;
    private int _newlines; // consecutive '\n' seen, ignoring '\r'

    public long Bytes { get; private set; }

    public long Events { get; private set; }

    /// <summary>The captured body, or null when nothing was captured or it exceeded the limit.</summary>
    public ReadOnlyMemory<byte>? Captured => _capture is null || _captureOverflow ? null : _capture.WrittenMemory;

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        Observe(buffer.AsSpan(offset, read));
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        Observe(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Observe(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Observe(buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Observe(ReadOnlySpan<byte> data)
    {
        Bytes += data.Length;
        if (countEvents)
        {
            foreach (var b in data)
            {
                if (b == (byte)'\n')
                {
                    if (++_newlines == 2)
                    {
                        Events++;
                    }
                }
                else if (b != (byte)'\r')
                {
                    _newlines = 0;
                }
            }
        }

        if (captureLimit > 0 && !_captureOverflow && data.Length > 0)
        {
            _capture ??= new ArrayBufferWriter<byte>(Math.Min(captureLimit, 16 * 1024));
            if (_capture.WrittenCount + data.Length > captureLimit)
            {
                _captureOverflow = true;
            }
            else
            {
                _capture.Write(data);
            }
        }
    }
}
