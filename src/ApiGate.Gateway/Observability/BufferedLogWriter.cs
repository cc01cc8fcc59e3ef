using System.Text;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Collects formatted log text from any thread and writes it to a <see cref="TextWriter"/> from one background
/// thread in batches (every <see cref="FlushInterval"/>, one write and flush per batch instead of one per line; after a
/// second with nothing to write the thread sleeps until the next line wakes it).
/// Bounded: past <see cref="Capacity"/> characters waiting, lines are dropped and counted, so a stalled stdout never
/// blocks a request; the count is reported by <c>onDropped</c> on the next flush. Disposing writes what is left.
/// </summary>
internal sealed class BufferedLogWriter : IDisposable
{
    /// <summary>How often waiting text is written.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>How long disposing waits for the last batch to be written.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Default bound on characters waiting to be written (~4 MB of log text).</summary>
    public const int DefaultCapacity = 4 * 1024 * 1024;

    private readonly TextWriter _target;
    private readonly Func<long, string>? _droppedNotice;
    /// <summary>Rounds in a row with nothing to write after which the thread sleeps until a line comes (one second).</summary>
    internal const int IdleRoundsBeforeParking = 50;

    private readonly Lock _lock = new();
    // Set to stop, and to wake the thread parked by a quiet log. No spinning before each 20 ms sleep: a spin-wait is
    // sched_yield calls on a box whose cores serve requests.
    private readonly ManualResetEventSlim _wake = new(initialState: false, spinCount: 0);
    private readonly Thread _thread;
    private TextChunks _pending = new();
    private TextChunks _writing = new();
    private readonly Stack<char[]> _free = new(); // chunks written and kept for reuse, guarded by _lock
    private long _dropped;
    private bool _disposed;
    private bool _parked; // guarded by _lock: the thread sleeps without a timeout and the next line wakes it

    /// <param name="target">Written by the background thread only.</param>
    /// <param name="droppedNotice">Formats the line reporting dropped lines (in the log's own format).</param>
    public BufferedLogWriter(TextWriter target, Func<long, string>? droppedNotice = null, int capacity = DefaultCapacity)
    {
        _target = target;
        _droppedNotice = droppedNotice;
        Capacity = capacity;
        _thread = new Thread(Run) { IsBackground = true, Name = "ApiGate log writer" };
        _thread.Start();
    }

    public int Capacity { get; }

    /// <summary>Lines dropped since start because the buffer was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues <paramref name="text"/> (one or more whole lines); drops it when the buffer is full.</summary>
    public void Append(StringBuilder text)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                _dropped++;
                return;
            }

            if (_pending.Length + text.Length > Capacity)
            {
                // A parked thread has an empty buffer, so this is a line longer than the whole of it: the thread still
                // has a notice to write, on its next round as for a drop under load, not whenever another line comes.
                _dropped++;
                WakeIfParked();
                return;
            }

            foreach (var chunk in text.GetChunks())
            {
                _pending.Append(chunk.Span, _free);
            }

            // The first line after a quiet second: one wake-up, instead of the thread looking 50 times a second while
            // nothing is logged. Under traffic the thread never parks and lines cost no system call.
            WakeIfParked();
        }
    }

    /// <summary>Wakes the thread when it sleeps without a timeout. Under <see cref="_lock"/>, not after <see cref="Dispose"/>.</summary>
    private void WakeIfParked()
    {
        if (_parked)
        {
            _parked = false;
            _wake.Set();
        }
    }

    /// <summary>Whether the background thread has ended (after <see cref="Dispose"/>).</summary>
    internal bool Stopped => !_thread.IsAlive;

    /// <summary>Whether the thread sleeps until the next line (nothing was logged for a while).</summary>
    internal bool Parked
    {
        get
        {
            lock (_lock)
            {
                return _parked;
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _wake.Set();
        // Bounded: a stdout nobody reads must not keep the process from exiting.
        if (_thread.Join(ShutdownTimeout))
        {
            _wake.Dispose();
        }
    }

    private void Run()
    {
        long reported = 0;
        var quietRounds = 0;
        while (true)
        {
            bool park;
            lock (_lock)
            {
                park = quietRounds >= IdleRoundsBeforeParking && _pending.Length == 0 && !_disposed;
                _parked = park;
            }

            if (park)
            {
                _wake.Wait();
            }
            else
            {
                _wake.Wait(FlushInterval);
            }

            bool stopping;
            lock (_lock)
            {
                stopping = _disposed;
                if (!stopping)
                {
                    _wake.Reset(); // woken by a line: the next rounds sleep their 20 ms again
                }

                (_pending, _writing) = (_writing, _pending);
            }

            var wrote = false;
            try
            {
                _writing.WriteTo(_target);

                var dropped = Dropped;
                var noticed = false;
                if (dropped != reported && _droppedNotice is not null)
                {
                    _target.Write(_droppedNotice(dropped - reported));
                    reported = dropped;
                    noticed = true;
                }

                // A notice written alone is flushed too (compared after reported caught up, it never was). Without a
                // notice to write, a drop is not text: it must not count as writing, or the thread never parks again.
                if (_writing.Length > 0 || noticed)
                {
                    wrote = true;
                    _target.Flush();
                }
            }
            catch (IOException)
            {
                // stdout closed or broken: nothing better to do with log text than to lose it
            }
            catch (ObjectDisposedException)
            {
            }

            quietRounds = wrote ? 0 : quietRounds + 1;
            lock (_lock)
            {
                _writing.Clear(_free);
            }

            if (stopping)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Text waiting to be written, in fixed-size character chunks that are reused once written: appending never
    /// grows or copies a buffer, and a batch allocates nothing in a steady state (a <see cref="StringBuilder"/> cleared
    /// after a batch of many chunks allocates one array of its whole capacity, often on the large object heap).
    /// </summary>
    private sealed class TextChunks
    {
        private const int ChunkSize = 16 * 1024;

        /// <summary>At most this many written chunks (~1 MB of text) are kept; a burst's extra memory is let go.</summary>
        private const int MaxFree = 32;

        private readonly List<char[]> _chunks = [];
        private int _lastUsed;

        public int Length { get; private set; }

        public void Append(ReadOnlySpan<char> text, Stack<char[]> free)
        {
            Length += text.Length;
            while (!text.IsEmpty)
            {
                if (_chunks.Count == 0 || _lastUsed == ChunkSize)
                {
                    _chunks.Add(free.TryPop(out var reused) ? reused : new char[ChunkSize]);
                    _lastUsed = 0;
                }

                var chunk = _chunks[^1];
                var count = Math.Min(text.Length, ChunkSize - _lastUsed);
                text[..count].CopyTo(chunk.AsSpan(_lastUsed));
                _lastUsed += count;
                text = text[count..];
            }
        }

        public void WriteTo(TextWriter target)
        {
            for (var i = 0; i < _chunks.Count; i++)
            {
                target.Write(_chunks[i].AsSpan(0, i == _chunks.Count - 1 ? _lastUsed : ChunkSize));
            }
        }

        public void Clear(Stack<char[]> free)
        {
            foreach (var chunk in _chunks)
            {
                if (free.Count < MaxFree)
                {
                    free.Push(chunk);
                }
            }

            _chunks.Clear();
            _lastUsed = 0;
            Length = 0;
        }
    }
}
