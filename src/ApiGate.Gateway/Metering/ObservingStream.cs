using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// A stream that passes every read and write straight to <paramref name="inner"/> and shows the bytes to the subclass
/// on the way (nothing is buffered or delayed).
/// </summary>
/// <param name="connection">
/// The server's own writer behind <paramref name="inner"/> (a response body nothing else wraps), written to in its
/// place: its flush result tells a write the connection took from one it dropped because the client had gone away.
/// The server's stream drops such a write without an error, so counting it would bill data the client never received.
/// </param>
/// <param name="responseHeaders">
/// The response's headers when <paramref name="connection"/> is given: a response the server sends in chunked transfer
/// coding reports a dropped write as taken, so there each write is confirmed by a flush, which does report it.
/// </param>
internal abstract class ObservingStream(Stream inner, PipeWriter? connection = null, Microsoft.AspNetCore.Http.IHeaderDictionary? responseHeaders = null) : Stream
{
    private bool? _chunked;

    /// <summary>The wrapped stream.</summary>
    protected Stream Inner { get; } = inner;

    public override bool CanRead => Inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => Inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => Inner.Flush();

    /// <summary>
    /// True once a read, write or flush on the inner stream was cancelled while it waited: the exchange was then held
    /// up by this side (for the client's streams, a client sending or reading too slowly), not by the other.
    /// </summary>
    public bool CanceledWhileWaiting => ReadCanceledWhileWaiting || WriteCanceledWhileWaiting;

    /// <summary>True once a read from the inner stream was cancelled while it waited for data.</summary>
    public bool ReadCanceledWhileWaiting { get; private set; }

    /// <summary>
    /// True once a write or flush to the inner stream was cancelled while it waited: the peer was not taking data (for
    /// a tunnel, which is read and written at once, this is the direction that tells a client not reading).
    /// </summary>
    public bool WriteCanceledWhileWaiting { get; private set; }

    /// <summary>
    /// True once a write through the server's writer, or a flush after one, had to wait for room (the server held as much
    /// for the peer as it may), whether it then went out or was dropped: the peer stopped taking data as fast as it came
    /// at least once. Kept once set: the write under way when the peer left need not be the one that waited (a write
    /// the server took just before it left, into room the peer's last window update made).
    /// </summary>
    public bool WriteWaited { get; private set; }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        var flush = Inner.FlushAsync(cancellationToken);
        if (flush.IsCompletedSuccessfully)
        {
            return flush;
        }

        // A copy that flushes after each write waits here, not in the write, when the peer stops taking data.
        WriteWaited |= connection is not null;
        return ObserveAsync(new ValueTask(flush)).AsTask();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = Inner.Read(buffer, offset, count);
        OnRead(buffer.AsSpan(offset, read));
        return read;
    }

    // Pooled: a read that has to wait (every idle moment of a stream, zero-byte reads included) would otherwise
    // allocate its state machine each time, i.e. once per event or message on long-lived streams.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await Inner.ReadAsync(buffer, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            ReadCanceledWhileWaiting = true;
            throw;
        }

        OnRead(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Written data is observed once the write succeeded: what a failed write (the connection aborted) did not pass on
    // is not counted (metered).
    public override void Write(byte[] buffer, int offset, int count)
    {
        Inner.Write(buffer, offset, count);
        OnWrite(buffer.AsSpan(offset, count));
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (connection is not null)
        {
            var flush = connection.WriteAsync(buffer, cancellationToken);
            WriteWaited |= !flush.IsCompletedSuccessfully;
            if (flush.IsCompletedSuccessfully)
            {
                var result = flush.Result;
                if (result.IsCompleted)
                {
                    return default;
                }

                if (!Chunked)
                {
                    OnWrite(buffer.Span);
                    return default;
                }

                var confirm = connection.FlushAsync(cancellationToken);
                if (confirm.IsCompletedSuccessfully)
                {
                    if (!confirm.Result.IsCompleted)
                    {
                        OnWrite(buffer.Span);
                    }

                    return default;
                }

                return ObserveConnectionWriteAsync(confirm, buffer, confirmed: true, cancellationToken);
            }

            return ObserveConnectionWriteAsync(flush, buffer, confirmed: false, cancellationToken);
        }

        var write = Inner.WriteAsync(buffer, cancellationToken);
        if (write.IsCompletedSuccessfully)
        {
            OnWrite(buffer.Span);
            return default;
        }

        return ObserveWriteAsync(write, buffer);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ObserveWriteAsync(ValueTask pending, ReadOnlyMemory<byte> written)
    {
        await ObserveAsync(pending);
        OnWrite(written.Span);
    }

    // A write the connection completed without taking (the client went away while it waited, or before it) is not counted.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ObserveConnectionWriteAsync(ValueTask<FlushResult> pending, ReadOnlyMemory<byte> written, bool confirmed, CancellationToken cancellationToken)
    {
        FlushResult result;
        try
        {
            result = await pending;
            if (!result.IsCompleted && !confirmed && Chunked)
            {
                result = await connection!.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            WriteCanceledWhileWaiting = true;
            throw;
        }

        if (!result.IsCompleted)
        {
            OnWrite(written.Span);
        }
    }

    // Kestrel answers a write to a chunked HTTP/1.1 response whose connection has gone as if it had been taken (a
    // flush, by contrast, says the connection completed). Read once the response has started, when the header is final.
    private bool Chunked => _chunked ??= responseHeaders is not null
        && responseHeaders.TransferEncoding.ToString().Contains("chunked", StringComparison.OrdinalIgnoreCase);

    // Only a write or flush that has to wait (the peer is not taking data) gets a state machine, and a pooled one.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (OperationCanceledException)
        {
            WriteCanceledWhileWaiting = true;
            throw;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Bytes read from the inner stream.</summary>
    protected abstract void OnRead(ReadOnlySpan<byte> data);

    /// <summary>Bytes written to the inner stream (called once the write succeeded).</summary>
    protected abstract void OnWrite(ReadOnlySpan<byte> data);
}
