using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>One HTTP/2 frame as read off the wire.</summary>
internal sealed record Http2Frame(byte Type, byte Flags, int StreamId, byte[] Payload)
{
    /// <summary>A GOAWAY's error code (RFC 9113 6.8).</summary>
    public uint GoAwayErrorCode => BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(4, 4));
}

/// <summary>
/// A hand-framed HTTP/2 client over cleartext with prior knowledge (the gateway's h2c port), for frame sequences a
/// real client never sends (a stream opened and reset at once, invalid settings). Header blocks are HPACK literals
/// without indexing and without Huffman coding. Frames the server sends are read in the background, so writing never
/// waits on a server blocked writing to a client that does not read.
/// </summary>
internal sealed class RawHttp2Connection : IAsyncDisposable
{
    public const byte DataFrame = 0x0;
    public const byte HeadersFrame = 0x1;
    public const byte RstStreamFrame = 0x3;
    public const byte SettingsFrame = 0x4;
    public const byte GoAwayFrame = 0x7;
    public const byte WindowUpdateFrame = 0x8;

    public const byte EndStream = 0x1;
    public const byte EndHeaders = 0x4;

    public const ushort InitialWindowSizeSetting = 0x4;

    /// <summary>The connection's flow-control window before any WINDOW_UPDATE (RFC 9113 6.9.2).</summary>
    public const int DefaultWindow = 65_535;

    public const uint CancelError = 0x8;
    public const uint FlowControlError = 0x3;
    public const uint EnhanceYourCalmError = 0xb;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Channel<Http2Frame> _received = Channel.CreateUnbounded<Http2Frame>();
    private readonly Task _reading;
    private readonly CancellationTokenSource _stop = new();

    private RawHttp2Connection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reading = Task.Run(ReadLoopAsync);
    }

    /// <summary>Connects to <paramref name="h2cUrl"/> and sends the connection preface with empty SETTINGS.</summary>
    public static async Task<RawHttp2Connection> ConnectAsync(string h2cUrl)
    {
        var uri = new Uri(h2cUrl);
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var connection = new RawHttp2Connection(tcp);
        await connection._stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        await connection.WriteSettingsAsync();
        return connection;
    }

    /// <summary>Waits until the server has ended the connection (bounded: 30 s); false if it has not.</summary>
    public async Task<bool> WaitClosedAsync()
    {
        await Task.WhenAny(_reading, Task.Delay(TimeSpan.FromSeconds(30)));
        return _reading.IsCompleted;
    }

    /// <summary>True once the server has closed its side (every frame it sent is then in <see cref="ReadFrameAsync"/>).</summary>
    public bool Closed => _reading.IsCompleted;

    /// <summary>A GET request's HEADERS frame (END_STREAM, END_HEADERS) for <paramref name="path"/> on stream <paramref name="streamId"/>.</summary>
    public static byte[] GetHeaders(int streamId, string path, string authority = "gateway.test")
    {
        var block = new MemoryStream();
        foreach (var (name, value) in new[] { (":method", "GET"), (":scheme", "http"), (":path", path), (":authority", authority) })
        {
            block.WriteByte(0x00); // literal header field without indexing, new name
            WriteString(block, name);
            WriteString(block, value);
        }

        return Frame(HeadersFrame, EndStream | EndHeaders, streamId, block.ToArray());
    }

    /// <summary>
    /// An extended CONNECT's HEADERS frame (RFC 8441: END_HEADERS only, the stream stays open for the tunnel's DATA) opening
    /// a WebSocket at <paramref name="path"/> on stream <paramref name="streamId"/>.
    /// </summary>
    public static byte[] WebSocketConnectHeaders(int streamId, string path, string authority = "gateway.test")
    {
        var block = new MemoryStream();
        foreach (var (name, value) in new[]
        {
            (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", path), (":authority", authority), ("sec-websocket-version", "13"),
        })
        {
            block.WriteByte(0x00); // literal header field without indexing, new name
            WriteString(block, name);
            WriteString(block, value);
        }

        return Frame(HeadersFrame, EndHeaders, streamId, block.ToArray());
    }

    /// <summary>
    /// Whether <paramref name="headers"/> (a HEADERS frame's block) starts with <c>:status: 200</c> as servers send it: the
    /// HPACK static table's entry 8, indexed (RFC 7541 appendix A).
    /// </summary>
    public static bool IsStatus200(Http2Frame headers) => headers.Payload.Length > 0 && headers.Payload[0] == 0x88;

    /// <summary>An RST_STREAM frame for <paramref name="streamId"/> with <paramref name="errorCode"/>.</summary>
    public static byte[] RstStream(int streamId, uint errorCode)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, errorCode);
        return Frame(RstStreamFrame, 0, streamId, payload);
    }

    /// <summary>A frame: 9-byte header (length, type, flags, stream id) and payload.</summary>
    public static byte[] Frame(byte type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId & int.MaxValue);
        payload.CopyTo(frame.AsSpan(9));
        return frame;
    }

    /// <summary>Writes bytes as they are (one or more frames); false when the server has already closed the connection.</summary>
    public async Task<bool> WriteAsync(byte[] frames)
    {
        try
        {
            await _stream.WriteAsync(frames);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>A SETTINGS frame with the given parameters (none: an empty one, as in the preface).</summary>
    public Task<bool> WriteSettingsAsync(params (ushort Id, uint Value)[] settings)
    {
        var payload = new byte[settings.Length * 6];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 6), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan((i * 6) + 2), settings[i].Value);
        }

        return WriteAsync(Frame(SettingsFrame, 0, 0, payload));
    }

    /// <summary>The next frame of <paramref name="type"/> the server sent, or null when it closed without one (bounded: 30 s).</summary>
    public async Task<Http2Frame?> ReadFrameAsync(byte type)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await foreach (var frame in _received.Reader.ReadAllAsync(bound.Token))
            {
                if (frame.Type == type)
                {
                    return frame;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return null;
    }

    /// <summary>
    /// Reads what the server sends on <paramref name="streamId"/> until its DATA frames hold <paramref name="bytes"/>
    /// bytes (bounded: 30 s) and returns how many they hold: fewer when the stream or connection ended first, more only
    /// if the server sent past the window.
    /// </summary>
    public async Task<long> ReadDataAsync(int streamId, long bytes)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long received = 0;
        try
        {
            await foreach (var frame in _received.Reader.ReadAllAsync(bound.Token))
            {
                if (frame.StreamId == streamId && frame.Type == DataFrame)
                {
                    received += frame.Payload.Length;
                }

                if (received >= bytes || (frame.StreamId == streamId && (frame.Type == RstStreamFrame || (frame.Flags & EndStream) != 0)))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return received;
    }

    /// <summary>A WINDOW_UPDATE frame granting <paramref name="increment"/> more bytes on <paramref name="streamId"/> (0: the connection).</summary>
    public static byte[] WindowUpdate(int streamId, int increment)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, increment);
        return Frame(WindowUpdateFrame, 0, streamId, payload);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _tcp.Dispose();
        try
        {
            await _reading;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            var header = new byte[9];
            while (await ReadExactlyOrEndAsync(header))
            {
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var payload = new byte[length];
                if (!await ReadExactlyOrEndAsync(payload))
                {
                    break;
                }

                _received.Writer.TryWrite(new Http2Frame(header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue, payload));
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // A reset after the server's last frame (or the test's own dispose): what came before it is kept.
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer.AsMemory(read), _stop.Token);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private static void WriteString(MemoryStream block, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        if (bytes.Length >= 127)
        {
            throw new ArgumentException("only strings shorter than 127 bytes (a one-byte length) are written", nameof(text));
        }

        block.WriteByte((byte)bytes.Length); // H = 0: not Huffman-coded
        block.Write(bytes);
    }
}
