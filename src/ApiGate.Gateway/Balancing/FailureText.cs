using ApiGate.Core.Text;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// How a failed exchange with a target reads in the gateway's own words: the <c>3001</c> warning, a target's ejection
/// reason (logs, <c>apigate upstreams get</c>), a failed probe. The HTTP client's message is sometimes only a pointer to
/// an inner exception that a log line never shows — a TLS handshake refused for an untrusted certificate read
/// <c>The SSL connection could not be established, see inner exception.</c> and nothing more — so the inner
/// exceptions' messages are added, each once. The messages quote what the target sent (the HTTP client's
/// <c>Received an invalid status line: '…'</c> holds the line as received), so the text is made one bounded line.
/// </summary>
internal static class FailureText
{
    private const int MaxInner = 4;

    /// <summary>The longest text returned, in characters, before the <c>…</c> that says it was cut.</summary>
    public const int MaxLength = 500;

    /// <summary>
    /// <paramref name="exception"/>'s message followed by what its inner exceptions add, as one line of at most
    /// <see cref="MaxLength"/> characters (and a <c>…</c> when cut): a control character (CR, LF, escape…) becomes a
    /// space, so a target cannot forge log lines or colour a terminal, nor fill the log with a status line of 64 KiB.
    /// </summary>
    public static string Of(Exception exception)
    {
        var text = Joined(exception);
        return TextCut.OneLine(text, MaxLength) + (text.Length > MaxLength ? "…" : "");
    }

    private static string Joined(Exception exception)
    {
        var text = WithoutPointer(exception.Message);
        var inner = exception.InnerException;
        for (var i = 0; inner is not null && i < MaxInner; i++, inner = inner.InnerException)
        {
            var message = WithoutPointer(inner.Message);
            if (message.Length > 0 && !text.Contains(message, StringComparison.Ordinal))
            {
                text = string.Concat(text.TrimEnd('.'), ": ", message);
            }
        }

        return text;
    }

    /// <summary>The message without the runtime's "see inner exception" tail (that text is added instead).</summary>
    private static string WithoutPointer(string message)
    {
        var at = message.IndexOf("see inner exception", StringComparison.OrdinalIgnoreCase);
        return at < 0 ? message : message[..at].TrimEnd(' ', ',', '.', ';');
    }
}
