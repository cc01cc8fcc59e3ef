using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Transforms;

/// <summary>
/// The gateway-wide bound on request bodies held in memory by body transforms
/// (<see cref="GatewayOptions.TransformMaxBufferedBytes"/>). Each body is bounded by
/// <see cref="GatewayOptions.TransformMaxBodyBytes"/>, but a client chooses how many it sends at once, and one that sends
/// most of a body and then trickles the rest (above the server's minimum data rate) keeps its buffer for an hour:
/// without this bound, 300 such connections held 410 MB. A body takes its share before it is read — its
/// <c>Content-Length</c>, or the per-body limit when it is chunked — and gives it back when its request ends; a body
/// that does not fit is refused with <c>503 gateway_busy</c> before anything is read.
/// </summary>
internal sealed class BufferedBodies(GatewayOptions options)
{
    private long _held;

    /// <summary>Bytes taken by bodies being buffered or forwarded now.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Takes <paramref name="bytes"/> of the budget; null when they do not fit. Dispose the share when the request ends.</summary>
    public Share? TryTake(long bytes)
    {
        var held = Interlocked.Read(ref _held);
        while (true)
        {
            if (held + bytes > options.TransformMaxBufferedBytes)
            {
                return null;
            }

            var seen = Interlocked.CompareExchange(ref _held, held + bytes, held);
            if (seen == held)
            {
                return new Share(this, bytes);
            }

            held = seen;
        }
    }

    /// <summary>One body's part of the budget, given back once.</summary>
    public sealed class Share(BufferedBodies owner, long bytes) : IDisposable
    {
        private int _returned;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _returned, 1) == 0)
            {
                Interlocked.Add(ref owner._held, -bytes);
            }
        }
    }
}
