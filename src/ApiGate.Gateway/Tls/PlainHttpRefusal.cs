using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// A connection middleware in front of a TLS listener's handshake: a client that sends plain HTTP to the TLS port gets
/// <c>400</c> with a line saying the port speaks HTTPS, then the connection is closed, instead of a close without a word;
/// what the client sends after its first bytes is read and discarded (bounded) until it closes, so the close is not a
/// reset that would throw the answer away.
/// It looks at the first byte once per connection, without consuming it: a TLS record starts with 0x16 (handshake),
/// an HTTP request line with a method's letter (or the empty line a client may send before it). Anything else goes to
/// the handshake as before.
/// </summary>
internal static class PlainHttpRefusal
{
    /// <summary>How long a connection may stay silent before its first byte: as long as Kestrel allows a handshake.</summary>
    public static readonly TimeSpan FirstByteTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long the client's bytes after the answer are read and discarded, at most, waiting for it to close.</summary>
    public static readonly TimeSpan DiscardTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How many of the client's bytes after the answer are read and discarded, at most (16 MiB).</summary>
    public const long DiscardLimit = 16 * 1024 * 1024;

    private const string Body = "This port speaks HTTPS only: use an https:// URL\n";

    private static readonly byte[] Answer = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}"));

    /// <summary>Adds the check to <paramref name="listen"/>; call before <c>UseHttps</c>, so it runs before the handshake.</summary>
    public static void Use(ListenOptions listen) => listen.Use(next => connection => InvokeAsync(connection, next));

    /// <summary>
    /// A method's first letter, or the empty line (CR or LF) HTTP/1.1 lets a client send before its request line
    /// (RFC 9112 §2.2), which servers skip: a TLS record starts with neither. Such a request was handed to the handshake,
    /// which closed the connection without a word.
    /// </summary>
    private static bool StartsPlainHttp(byte first) => char.IsAsciiLetter((char)first) || first is (byte)'\r' or (byte)'\n';

    private static async Task InvokeAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var input = connection.Transport.Input;
        if (!input.TryRead(out var read))
        {
            // Bounded like the handshake after it: a client that connects and sends nothing holds no connection for ever.
            using var silence = new CancellationTokenSource(FirstByteTimeout);
            try
            {
                read = await input.ReadAsync(silence.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var buffer = read.Buffer;
        if (buffer.IsEmpty)
        {
            input.AdvanceTo(buffer.Start);
            return; // closed before its first byte
        }

        if (!StartsPlainHttp(buffer.FirstSpan[0]))
        {
            input.AdvanceTo(buffer.Start); // nothing consumed: the handshake reads the same bytes
            await next(connection);
            return;
        }

        input.AdvanceTo(buffer.End);
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket)
        {
            await connection.Transport.Output.WriteAsync(Answer);
            return;
        }

        // The answer goes out with the end of what the gateway sends (a half-close), then what the client still sends
        // is read and thrown away until it closes its side: a close with bytes left unread is a reset, and a reset
        // throws away the answer the client has not read yet (a request larger than the first read, a body sent at
        // once). Bounded, so a client cannot hold the connection for ever.
        try
        {
            await socket.SendAsync(Answer, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            return; // the client is gone
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        await DiscardAsync(input);
    }

    /// <summary>Reads and drops what the client sends until it closes, at most <see cref="DiscardLimit"/> bytes or for <see cref="DiscardTimeout"/>.</summary>
    private static async Task DiscardAsync(PipeReader input)
    {
        using var linger = new CancellationTokenSource(DiscardTimeout);
        long discarded = 0;
        try
        {
            while (discarded <= DiscardLimit)
            {
                var result = await input.ReadAsync(linger.Token);
                discarded += result.Buffer.Length;
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Time is up: closed with what is still coming unread.
        }
        catch (ConnectionResetException)
        {
            // The client reset the connection itself.
        }
    }
}
