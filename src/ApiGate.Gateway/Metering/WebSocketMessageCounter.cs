namespace ApiGate.Gateway.Metering;

/// <summary>
/// Counts complete WebSocket data messages in one direction of a tunnelled connection by following the RFC 6455 frame
/// headers as bytes pass (payloads are skipped, never copied): a message ends at a text, binary or continuation
/// frame with the FIN bit, and counts once that frame's payload has passed (a message cut off in its payload is not
/// counted); control frames (close, ping, pong) are not messages.
/// </summary>
internal sealed class WebSocketMessageCounter
{
    private int _headerNeeded = 2;
    private int _headerRead;
    private readonly byte[] _header = new byte[14];
    private long _payloadLeft;
    private bool _endsMessage; // the frame whose payload is passing ends a data message

    public long Messages { get; private set; }

    /// <summary>True between two frames: a frame of the gateway's own (a close) can be sent here without splitting one.</summary>
    public bool AtFrameBoundary => _payloadLeft == 0 && _headerRead == 0;

    /// <summary>
    /// True once a close frame's header has passed: the closing handshake has begun in this direction, and no frame (a
    /// close of the gateway's own least of all) may follow it (RFC 6455 §5.5.1).
    /// </summary>
    public bool ClosePassed { get; private set; }

    public void Observe(ReadOnlySpan<byte> data)
    {
        var i = 0;
        while (i < data.Length)
        {
            if (_payloadLeft > 0)
            {
                var skip = (int)Math.Min(_payloadLeft, data.Length - i);
                _payloadLeft -= skip;
                i += skip;
                if (_payloadLeft == 0 && _endsMessage)
                {
                    _endsMessage = false;
                    Messages++;
                }

                continue;
            }

            _header[_headerRead++] = data[i++];
            if (_headerRead == 2)
            {
                var length7 = _header[1] & 0x7F;
                var masked = (_header[1] & 0x80) != 0;
                _headerNeeded = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (masked ? 4 : 0);
            }

            if (_headerRead >= 2 && _headerRead == _headerNeeded)
            {
                CompleteHeader();
            }
        }
    }

    private void CompleteHeader()
    {
        var fin = (_header[0] & 0x80) != 0;
        var opcode = _header[0] & 0x0F;
        var length7 = _header[1] & 0x7F;
        long length = length7 switch
        {
            126 => (_header[2] << 8) | _header[3],
            // RFC 6455 wants the top bit clear; a peer that sets it breaks the framing, and the rest of the connection is
            // taken as this frame's payload (no boundary is known after it) rather than as a negative length, which read
            // the payload's bytes as frame headers and counted messages that were never sent.
            127 => (long)Math.Min(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2, 8)), long.MaxValue),
            _ => length7,
        };

        ClosePassed |= opcode == 0x8;
        _endsMessage = fin && opcode is 0x0 or 0x1 or 0x2;
        if (_endsMessage && length == 0)
        {
            _endsMessage = false;
            Messages++; // an empty message: nothing more to pass
        }

        _payloadLeft = length;
        _headerRead = 0;
        _headerNeeded = 2;
    }
}

/// <summary>A duplex stream wrapper (the upgraded client connection) that counts messages read from and written to it.</summary>
/// <param name="clientGone">
/// Whether the client's connection is known to be gone. The server's upgraded stream takes writes without an error once
/// the connection cannot send any more and drops them, and the forwarder copying from a fast upstream goes on writing
/// until it learns the client left (several MB later): from then on a write is refused rather than counted, so data the
/// client never received is not billed and the copy stops at once.
/// </param>
internal sealed class WebSocketCountingStream(Stream stream, Func<bool>? clientGone = null) : ObservingStream(stream)
{
    private readonly WebSocketMessageCounter _fromClient = new();
    private readonly WebSocketMessageCounter _toClient = new();

    /// <summary>Data messages in both directions.</summary>
    public long Messages => _fromClient.Messages + _toClient.Messages;

    public long BytesFromClient { get; private set; }

    public long BytesToClient { get; private set; }

    /// <summary>
    /// True once a write to the client had to wait for room (the server held as much for the client as it may): the
    /// client stopped taking data as fast as it came at least once. Kept once set.
    /// </summary>
    public bool WriteHeldUp { get; private set; }

    /// <summary>
    /// True once the client sent a Close frame after the gateway had passed it one: it answered the closing handshake,
    /// so it had received everything written before that Close (WebSocket frames arrive in order).
    /// </summary>
    public bool ClientAnsweredClose { get; private set; }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (clientGone?.Invoke() == true)
        {
            return ValueTask.FromException(new IOException("The client's connection has gone; the tunnel's data was not sent."));
        }

        var write = base.WriteAsync(buffer, cancellationToken);
        WriteHeldUp |= !write.IsCompleted;
        return write;
    }

    protected override void OnRead(ReadOnlySpan<byte> data) => Count(data, fromClient: true);

    // A write that returned once the client was known gone may have been dropped by the server: it is not counted.
    protected override void OnWrite(ReadOnlySpan<byte> data)
    {
        if (clientGone?.Invoke() != true)
        {
            Count(data, fromClient: false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => Inner.DisposeAsync();

    private void Count(ReadOnlySpan<byte> data, bool fromClient)
    {
        if (fromClient)
        {
            BytesFromClient += data.Length;
            var closeSentFirst = _toClient.ClosePassed && !_fromClient.ClosePassed;
            _fromClient.Observe(data);
            ClientAnsweredClose |= closeSentFirst && _fromClient.ClosePassed;
        }
        else
        {
            BytesToClient += data.Length;
            _toClient.Observe(data);
        }
    }
}
