using System.Runtime.InteropServices;
using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Usage;

/// <summary>
/// A bounded, preallocated ring of <see cref="UsageEvent"/> structs: many producers (request threads), one consumer (the
/// usage writer). Lock-free: a producer claims a slot with one compare-and-swap on the tail and publishes it through the
/// slot's sequence number (the bounded queue of D. Vyukov), so enqueueing allocates nothing and never waits. When every
/// slot is taken <see cref="TryEnqueue"/> returns false and the caller counts the drop.
/// </summary>
internal sealed class UsageRing
{
    private readonly Slot[] _slots;
    private long _head; // next position to read (one consumer)
    private long _tail; // next position to claim

    public UsageRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new Slot[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _slots[i].Sequence = i;
        }
    }

    public int Capacity => _slots.Length;

    /// <summary>Events enqueued and not yet taken (a snapshot).</summary>
    public int Count => (int)Math.Clamp(Volatile.Read(ref _tail) - Volatile.Read(ref _head), 0, _slots.Length);

    public bool TryEnqueue(in UsageEvent usageEvent)
    {
        var slots = _slots;
        var position = Volatile.Read(ref _tail);
        while (true)
        {
            ref var slot = ref slots[position % slots.Length];
            var difference = Volatile.Read(ref slot.Sequence) - position;
            if (difference == 0)
            {
                var claimed = Interlocked.CompareExchange(ref _tail, position + 1, position);
                if (claimed == position)
                {
                    slot.Event = usageEvent;
                    Volatile.Write(ref slot.Sequence, position + 1);
                    return true;
                }

                position = claimed;
            }
            else if (difference < 0)
            {
                return false; // the slot still holds an event from one lap ago: full
            }
            else
            {
                position = Volatile.Read(ref _tail);
            }
        }
    }

    /// <summary>Takes the oldest event; false when none is ready. Only the one consumer calls this.</summary>
    public bool TryDequeue(out UsageEvent usageEvent)
    {
        var slots = _slots;
        var position = _head;
        ref var slot = ref slots[position % slots.Length];
        if (Volatile.Read(ref slot.Sequence) - (position + 1) != 0)
        {
            usageEvent = default;
            return false;
        }

        usageEvent = slot.Event;
        slot.Event = default; // let the strings go
        Volatile.Write(ref _head, position + 1);
        Volatile.Write(ref slot.Sequence, position + slots.Length);
        return true;
    }

    [StructLayout(LayoutKind.Auto)]
    private struct Slot
    {
        public long Sequence;
        public UsageEvent Event;
    }
}
