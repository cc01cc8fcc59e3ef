using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Transforms;

/// <summary>
/// The gateway-wide bound on bodies held in memory by body transforms and by metering expressions that read a body
/// (<see cref="GatewayOptions.TransformMaxBufferedBytes"/>). Each body is bounded by
/// <see cref="GatewayOptions.TransformMaxBodyBytes"/>, but a client chooses how many it sends at once, and one that sends
/// most of a body and then trickles the rest (above the server's minimum data rate) keeps its buffer: without this
/// bound, 300 such connections held 410 MB. A transformed body takes its share before it is read — its
/// <c>Content-Length</c>; a chunked one its first buffer, then what the buffer grows by — and is refused with
/// <c>503 gateway_busy</c> when it does not fit; a metering capture takes its share as its buffer grows and reads as no body when it does not fit.
/// Shares are given back when their request ends.
/// </summary>
internal sealed class BufferedBodies(GatewayOptions options)
{
    private long _held;

    /// <summary>Bytes taken by bodies being buffered or forwarded now.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Takes <paramref name="bytes"/> of the budget; null when they do not fit. Dispose the share when the request ends.</summary>
    public Share? TryTake(long bytes) => TryAdd(bytes) ? new Share(this, bytes) : null;

    private bool TryAdd(long bytes)
    {
        var held = Interlocked.Read(ref _held);
        while (true)
        {
            if (held + bytes > options.TransformMaxBufferedBytes)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _held, held + bytes, held);
            if (seen == held)
            {
                return true;
            }

            held = seen;
        }
    }

    /// <summary>One body's part of the budget, given back once. Used by one request at a time.</summary>
    public sealed class Share(BufferedBodies owner, long bytes) : IDisposable
    {
        private long _bytes = bytes;
        private int _returned;

        /// <summary>Takes <paramref name="more"/> bytes into this share; false (nothing taken) when they do not fit or the share was given back.</summary>
        public bool TryGrow(long more)
        {
            if (Volatile.Read(ref _returned) != 0 || !owner.TryAdd(more))
            {
                return false;
            }

            _bytes += more;
            return true;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _returned, 1) == 0)
            {
                Interlocked.Add(ref owner._held, -_bytes);
            }
        }
    }
}
