using System.Text;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>
/// Whether one attempt through a client that caps its connections (<c>max_conns</c>) was written on a connection at all.
/// Such an attempt can wait in the HTTP client's own queue for a connection (HTTP/1.1) or a stream (HTTP/2) and end there —
/// the upstream's timeout fires, its client goes away — with no byte sent: no backend saw it, so it is neither billed nor
/// recorded (docs/usage.md). The HTTP client asks its header encoding selector (<see cref="MarkSent"/>) for each request
/// header as it writes the request's head, which it does only on the connection or stream it holds, so the selector
/// marks the attempt.
/// </summary>
internal sealed class SentAttempt
{
    private static readonly HttpRequestOptionsKey<SentAttempt> Key = new("apigate.sent-attempt");

    private int _sent;

    /// <summary>True once the HTTP client began writing the request's head on a connection.</summary>
    public bool Sent => Volatile.Read(ref _sent) != 0;

    /// <summary>Attaches this mark to the outgoing request, for <see cref="MarkSent"/>.</summary>
    public void Track(HttpRequestMessage message) => message.Options.Set(Key, this);

    /// <summary>
    /// The header encoding selector of a capped client: UTF-8, as for every upstream client (Kestrel decodes request
    /// header values as UTF-8, so the client's bytes go on unchanged), marking the request's attempt as sent.
    /// </summary>
    public static Encoding MarkSent(string name, HttpRequestMessage message)
    {
        if (message.Options.TryGetValue(Key, out var attempt))
        {
            Volatile.Write(ref attempt._sent, 1);
        }

        return Encoding.UTF8;
    }
}
