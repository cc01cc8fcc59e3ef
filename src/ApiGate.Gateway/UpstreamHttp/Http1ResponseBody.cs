using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>
/// The body of a response read by <see cref="Http1StreamingHandler"/>: <c>Content-Length</c>, chunked or until the
/// connection closes, read from the connection's stream, which it owns and closes when the body ends or it is disposed.
/// <para>
/// Sized for idle streams: body bytes are read straight into the caller's buffer, and the small pooled buffer used for
/// chunk framing (and bytes that came with the head) is returned to the pool as soon as it is empty, so a stream
/// waiting for its next event holds no buffer. A zero-byte read waits for the connection without one, as YARP's copy
/// loop issues between events.
/// </para>
/// </summary>
internal sealed class Http1ResponseBody : Stream
{
    private const int BufferSize = 4096;

    /// <summary>The longest chunk-size or trailer line accepted.</summary>
    private const int MaxLineBytes = 16 * 1024;

    private readonly HttpResponseMessage _response;
    private Stream? _transport;
    private Http1BodyFraming _framing;
    private ChunkState _chunk;
    private long _remaining;
    private byte[]? _buffer;
    private int _start;
    private int _end;
    private int _trailerBytes;
    private int _reading;
    private int _disposed;
    private bool _tunnel;

    /// <summary>
    /// A body delimited by <paramref name="framing"/> (<paramref name="contentLength"/> bytes for
    /// <see cref="Http1BodyFraming.Length"/>); <paramref name="buffer"/> (pooled, now owned by the body) holds
    /// <paramref name="start"/>..<paramref name="end"/>, bytes read past the head. Trailers go to <paramref name="response"/>.
    /// </summary>
    public Http1ResponseBody(Stream transport, HttpResponseMessage response, Http1BodyFraming framing, long contentLength, byte[]? buffer, int start, int end)
    {
        _transport = transport;
        _response = response;
        _framing = framing;
        _remaining = framing == Http1BodyFraming.Length ? contentLength : 0;
        _buffer = buffer;
        _start = start;
        _end = end;
        ReleaseBufferIfEmpty();
        if (framing == Http1BodyFraming.None || (framing == Http1BodyFraming.Length && contentLength == 0))
        {
            Complete();
        }
    }

    /// <summary>
    /// The connection after a <c>101 Switching Protocols</c>: read (bytes that came with the head first) and written
    /// both ways; the end of what the upstream sends does not close it — disposing does.
    /// </summary>
    public static Http1ResponseBody Tunnel(Stream transport, HttpResponseMessage response, byte[]? buffer, int start, int end) =>
        new(transport, response, Http1BodyFraming.UntilClose, 0, buffer, start, end) { _tunnel = true };

    private enum ChunkState
    {
        Size,
        Data,
        DataEnd,
        Trailers,
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => _tunnel;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>True once the whole body has been read (and the connection closed).</summary>
    internal bool IsComplete => _transport is null;

    /// <summary>True while bytes the caller has not read yet sit in a pooled buffer (for tests: idle streams hold none).</summary>
    internal bool HoldsBuffer => _buffer is not null;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // no allocation per event on a long-lived stream
    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Interlocked.Exchange(ref _reading, 1);
        try
        {
            while (true)
            {
                if (_transport is null)
                {
                    return 0;
                }

                if (_framing == Http1BodyFraming.Chunked)
                {
                    AdvanceFraming();
                    if (_transport is null)
                    {
                        return 0;
                    }
                }

                if (_framing != Http1BodyFraming.Chunked || _chunk == ChunkState.Data)
                {
                    return await ReadDataAsync(destination, cancellationToken);
                }

                // Chunk framing needs more bytes than are buffered.
                if (destination.IsEmpty && _start == _end)
                {
                    ReleaseBufferIfEmpty();
                    _ = await _transport.ReadAsync(Memory<byte>.Empty, cancellationToken); // a zero-byte read: waits for data, reads none
                    return 0;
                }

                await FillAsync(cancellationToken);
            }
        }
        catch (IOException e) when (e is not HttpIOException && !cancellationToken.IsCancellationRequested)
        {
            throw new HttpIOException(HttpRequestError.ResponseEnded, "The upstream connection failed while the response body was read: " + e.Message, e);
        }
        finally
        {
            Interlocked.Exchange(ref _reading, 0);
            if (Volatile.Read(ref _disposed) != 0)
            {
                ReturnBuffer();
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("The upstream response body is read asynchronously only.");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The tunnel is written asynchronously only.");

    /// <summary>Writes to the upstream through a tunnel (after a <c>101</c>); a response body cannot be written.</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_tunnel)
        {
            throw new NotSupportedException("A response body cannot be written.");
        }

        var transport = Volatile.Read(ref _transport);
        ObjectDisposedException.ThrowIf(transport is null, this);
        return transport.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _tunnel && Volatile.Read(ref _transport) is { } transport ? transport.FlushAsync(cancellationToken) : Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Interlocked.Exchange(ref _transport, null)?.Dispose();
            // A read still pending may be filling the buffer: then that read returns it when it ends, never this.
            if (Volatile.Read(ref _reading) == 0)
            {
                ReturnBuffer();
            }
        }

        base.Dispose(disposing);
    }

    private async ValueTask<int> ReadDataAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var transport = _transport!;
        var limit = _framing == Http1BodyFraming.UntilClose ? int.MaxValue : (int)Math.Min(_remaining, int.MaxValue);
        if (_start < _end)
        {
            if (destination.IsEmpty)
            {
                return 0;
            }

            var count = Math.Min(Math.Min(_end - _start, destination.Length), limit);
            _buffer.AsSpan(_start, count).CopyTo(destination.Span);
            _start += count;
            ReleaseBufferIfEmpty();
            Consumed(count);
            return count;
        }

        if (destination.IsEmpty)
        {
            _ = await transport.ReadAsync(Memory<byte>.Empty, cancellationToken); // waits for data, reads none
            return 0;
        }

        var read = await transport.ReadAsync(destination[..Math.Min(destination.Length, limit)], cancellationToken);
        if (read == 0)
        {
            if (_framing != Http1BodyFraming.UntilClose)
            {
                throw Ended();
            }

            if (!_tunnel)
            {
                Complete(); // a tunnel's other direction may still be sending: only disposing closes it
            }

            return 0;
        }

        Consumed(read);
        return read;
    }

    private void Consumed(int count)
    {
        if (_framing == Http1BodyFraming.UntilClose)
        {
            return;
        }

        _remaining -= count;
        if (_remaining > 0)
        {
            return;
        }

        if (_framing == Http1BodyFraming.Length)
        {
            Complete();
        }
        else
        {
            _chunk = ChunkState.DataEnd;
        }
    }

    /// <summary>Consumes every complete framing line in the buffer: the CRLF after a chunk, chunk sizes, trailers.</summary>
    private void AdvanceFraming()
    {
        while (_chunk != ChunkState.Data && TryTakeLine(out var line))
        {
            switch (_chunk)
            {
                case ChunkState.Size:
                    _remaining = ParseChunkSize(line);
                    _chunk = _remaining == 0 ? ChunkState.Trailers : ChunkState.Data;
                    break;
                case ChunkState.DataEnd:
                    if (!line.IsEmpty)
                    {
                        throw Http1ResponseHead.Invalid("The upstream's chunk data is longer than its chunk size.");
                    }

                    _chunk = ChunkState.Size;
                    break;
                default:
                    if (line.IsEmpty)
                    {
                        Complete();
                        return;
                    }

                    AddTrailer(line);
                    break;
            }
        }

        ReleaseBufferIfEmpty();
    }

    private bool TryTakeLine(out ReadOnlySpan<byte> line)
    {
        ReadOnlySpan<byte> buffered = _buffer.AsSpan(_start, _end - _start);
        var lf = buffered.IndexOf((byte)'\n');
        if (lf < 0)
        {
            if (buffered.Length >= MaxLineBytes)
            {
                throw Http1ResponseHead.Invalid("The upstream sent a chunk-size or trailer line longer than 16 KiB.");
            }

            line = default;
            return false;
        }

        if (_chunk == ChunkState.Trailers && (_trailerBytes += lf + 1) > Http1ResponseHead.MaxBytes)
        {
            throw new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, "The upstream's trailers are larger than 64 KiB.");
        }

        line = Http1ResponseHead.LineContent(buffered[..lf]);
        _start += lf + 1;
        return true;
    }

    /// <summary>chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits, then optionally white space and extensions, ignored.</summary>
    private static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        var digits = line.IndexOfAnyExcept("0123456789abcdefABCDEF"u8);
        if (digits < 0)
        {
            digits = line.Length;
        }

        if (digits == 0 || digits > 15)
        {
            throw Http1ResponseHead.Invalid("The upstream sent a chunk size that is not a hexadecimal number.");
        }

        var rest = line[digits..].TrimStart(" \t"u8);
        if (!rest.IsEmpty && rest[0] != (byte)';')
        {
            throw Http1ResponseHead.Invalid("The upstream sent a chunk size followed by something other than an extension.");
        }

        long size = 0;
        foreach (var digit in line[..digits])
        {
            size = (size << 4) | (long)HexValue(digit);
        }

        return size;
    }

    private static int HexValue(byte digit) => digit <= '9' ? digit - '0' : (digit | 0x20) - 'a' + 10;

    private void AddTrailer(ReadOnlySpan<byte> line)
    {
        var name = Http1ResponseHead.SplitField(line, out var value);
        _response.TrailingHeaders.TryAddWithoutValidation(Encoding.ASCII.GetString(name), Encoding.Latin1.GetString(value));
    }

    /// <summary>Reads at least one more byte into the buffer, waiting for the connection without holding a buffer.</summary>
    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        var transport = _transport!;
        if (_buffer is null)
        {
            _ = await transport.ReadAsync(Memory<byte>.Empty, cancellationToken); // waits for data, reads none
            _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        }
        else if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        var read = await transport.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw Ended();
        }

        _end += read;
    }

    private void ReleaseBufferIfEmpty()
    {
        if (_buffer is not null && _start == _end)
        {
            ReturnBuffer();
        }
    }

    private void ReturnBuffer()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _start = _end = 0;
    }

    /// <summary>The body is over: the connection is closed (it is never reused) and the buffer goes back.</summary>
    private void Complete()
    {
        Interlocked.Exchange(ref _transport, null)?.Dispose();
        ReturnBuffer();
    }

    private static HttpIOException Ended() => new(HttpRequestError.ResponseEnded, "The upstream closed the connection before the response body ended.");
}
