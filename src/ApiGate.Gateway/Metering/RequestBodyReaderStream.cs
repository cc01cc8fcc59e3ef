using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// An HTTP/1.x request body read straight from the server's <see cref="PipeReader"/>, with a cancelled read undone
/// instead of abandoned. The server's own body stream passes the caller's token to the reader; when a timeout cancels
/// that read (a client whose upload stalls), the reader is left in the middle of a read, and the server's attempt to
/// drain the body after the response then fails and is logged as an error with a stack trace — one error line per
/// stalled upload, which any client can send. Here a token cancels the pending read (<see cref="PipeReader.CancelPendingRead"/>),
/// and the cancelled result is given back to the reader before <see cref="OperationCanceledException"/> is thrown.
/// </summary>
internal sealed class RequestBodyReaderStream(PipeReader reader) : ReadOnlyStream
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ReadResult result;
        var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((PipeReader)state!).CancelPendingRead(), reader)
            : default;
        try
        {
            result = await reader.ReadAsync(CancellationToken.None);
        }
        finally
        {
            registration.Dispose();
        }

        var data = result.Buffer;
        if (result.IsCanceled)
        {
            reader.AdvanceTo(data.Start);
            throw new OperationCanceledException(cancellationToken);
        }

        var count = (int)Math.Min(data.Length, buffer.Length);
        data.Slice(0, count).CopyTo(buffer.Span);
        reader.AdvanceTo(data.GetPosition(count));
        return count;
    }

    // The server refuses synchronous body reads by default; so does this.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous reads of the request body are not allowed.");
}
