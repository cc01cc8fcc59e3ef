using System.Text;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>
/// Whether one forwarding attempt was written on a connection at all. An attempt can end before that — it waits in the
/// HTTP client's own queue for a connection (HTTP/1.1, <c>max_conns</c>) or a stream (HTTP/2), or for a connection being
/// made (a TCP connect or TLS handshake that hangs), and there the upstream's timeout fires or its client goes away — with
/// no byte sent: no backend saw it, so it is neither billed nor recorded (docs/usage.md). The HTTP client asks its header
/// encoding selector (<see cref="MarkSent"/>) for each request header as it writes the request's head, which it does only
/// on the connection or stream it holds, so the selector marks the attempt; the gateway's own streaming client marks it
/// as it starts writing (<see cref="Mark"/>). The gateway adds headers of its own (<c>X-Forwarded-Proto</c>, and on a
/// caller's request the identity headers after every transform), so a head written asks the selector; one a route's
/// transform left with no header at all is taken as written (<see cref="TakeAsWritten"/>).
/// </summary>
internal sealed class SentAttempt
{
    private static readonly HttpRequestOptionsKey<SentAttempt> Key = new("apigate.sent-attempt");

    private int _sent;

    /// <summary>True once the HTTP client began writing the request's head on a connection.</summary>
    public bool Sent => Volatile.Read(ref _sent) != 0;

    /// <summary>Counts the attempt as written whatever happens: for a head whose writing the selector cannot see.</summary>
    public void TakeAsWritten() => Volatile.Write(ref _sent, 1);

    /// <summary>Attaches this mark to the outgoing request, for <see cref="MarkSent"/>.</summary>
    public void Track(HttpRequestMessage message) => message.Options.Set(Key, this);

    /// <summary>
    /// The header encoding selector of every upstream client: UTF-8 (Kestrel decodes request header values as UTF-8, so
    /// the client's bytes go on unchanged), marking the request's attempt as sent.
    /// </summary>
    public static Encoding MarkSent(string name, HttpRequestMessage message)
    {
        Mark(message);
        return Encoding.UTF8;
    }

    /// <summary>Marks the attempt <paramref name="message"/> carries (if any) as sent: its head is being written.</summary>
    public static void Mark(HttpRequestMessage message)
    {
        if (message.Options.TryGetValue(Key, out var attempt))
        {
            Volatile.Write(ref attempt._sent, 1);
        }
    }
}
