using System.Runtime.CompilerServices;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// A stream that passes every read and write straight to <paramref name="inner"/> and shows the bytes to the subclass
/// on the way (nothing is buffered or delayed).
/// </summary>
internal abstract class ObservingStream(Stream inner) : Stream
{
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
    public bool CanceledWhileWaiting { get; private set; }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        var flush = Inner.FlushAsync(cancellationToken);
        return flush.IsCompletedSuccessfully ? flush : ObserveAsync(new ValueTask(flush)).AsTask();
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
            CanceledWhileWaiting = true;
            throw;
        }

        OnRead(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        OnWrite(buffer.AsSpan(offset, count));
        Inner.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        OnWrite(buffer.Span);
        var write = Inner.WriteAsync(buffer, cancellationToken);
        return write.IsCompletedSuccessfully ? write : ObserveAsync(write);
    }

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
            CanceledWhileWaiting = true;
            throw;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Bytes read from the inner stream.</summary>
    protected abstract void OnRead(ReadOnlySpan<byte> data);

    /// <summary>Bytes about to be written to the inner stream.</summary>
    protected abstract void OnWrite(ReadOnlySpan<byte> data);
}
