using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// A connection middleware in front of a TLS listener's handshake: a client that sends plain HTTP to the TLS port gets
/// <c>400</c> with a line saying the port speaks HTTPS, then the connection is closed, instead of a close without a word.
/// It looks at the first byte once per connection, without consuming it: a TLS record starts with 0x16 (handshake),
/// an HTTP request line with a method's letter (or the empty line a client may send before it). Anything else goes to
/// the handshake as before.
/// </summary>
internal static class PlainHttpRefusal
{
    /// <summary>How long a connection may stay silent before its first byte: as long as Kestrel allows a handshake.</summary>
    public static readonly TimeSpan FirstByteTimeout = TimeSpan.FromSeconds(10);

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

        // What came of the request is read before answering: bytes left unread at close would make the close a reset,
        // which can discard the answer before the client reads it.
        input.AdvanceTo(buffer.End);
        await connection.Transport.Output.WriteAsync(Answer);
    }
}
