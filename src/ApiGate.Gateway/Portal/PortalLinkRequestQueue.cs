using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// The requests for a link by email that were answered and wait for <see cref="PortalLinkRequestWorker"/>: in memory
/// and bounded, so a form posted from many networks at once cannot grow it without end. A request that finds it full
/// is dropped (the customer asks again); the first drop of a burst is logged, without the address, and the next burst
/// is logged again once the worker has emptied the queue. What is still queued when the gateway stops is lost too.
/// </summary>
internal sealed partial class PortalLinkRequestQueue(ILogger<PortalLinkRequestQueue> logger)
{
    /// <summary>Requests waiting beyond this are dropped.</summary>
    public const int Capacity = 1_000;

    // Wait, not one of the Drop modes: with those TryWrite reports success for the item it drops, and a full queue
    // would never be noticed.
    private readonly Channel<PortalLinkRequest> _queue = Channel.CreateBounded<PortalLinkRequest>(new BoundedChannelOptions(Capacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>1 once a drop was logged, until the queue next runs empty.</summary>
    private int _dropping;

    /// <summary>Queues the request without waiting; false (and dropped) when <see cref="Capacity"/> requests wait already.</summary>
    public bool TryEnqueue(PortalLinkRequest request)
    {
        if (_queue.Writer.TryWrite(request))
        {
            return true;
        }

        if (Interlocked.Exchange(ref _dropping, 1) == 0)
        {
            LogFull(logger, Capacity);
        }

        return false;
    }

    /// <summary>The next request, waiting for one when none is queued (which also ends a burst of drops).</summary>
    public async ValueTask<PortalLinkRequest> ReadAsync(CancellationToken ct)
    {
        if (_queue.Reader.TryRead(out var request))
        {
            return request;
        }

        Volatile.Write(ref _dropping, 0);
        return await _queue.Reader.ReadAsync(ct);
    }

    [LoggerMessage(EventId = 8014, Level = LogLevel.Warning,
        Message = "Portal link requests (password reset, new confirmation link) are dropped: {Capacity} wait already; the form still answered as usual, and its customer has to ask again. Logged once until the queue is empty again")]
    private static partial void LogFull(ILogger logger, int capacity);
}
