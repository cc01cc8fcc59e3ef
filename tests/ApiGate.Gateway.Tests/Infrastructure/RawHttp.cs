using System.Net.Sockets;
using System.Text;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A response read off a raw socket: status, headers (last value wins) and body text.</summary>
internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The JSON:API error code in the body, or null when the body is not a gateway error.</summary>
    public string? ErrorCode => Body.Contains("\"errors\"", StringComparison.Ordinal)
        ? System.Text.Json.JsonDocument.Parse(Body).RootElement.GetProperty("errors")[0].GetProperty("code").GetString()
        : null;
}

/// <summary>
/// Sends bytes exactly as written over a loopback TCP connection, for requests an HTTP client would refuse or
/// normalise (encoded dot segments, bare LF, raw non-ASCII header values, broken chunking).
/// </summary>
internal static class RawHttp
{
    /// <summary>A GET for <paramref name="target"/> sent verbatim, with extra header lines (each without CRLF).</summary>
    public static Task<RawResponse> GetAsync(string baseUrl, string target, params string[] headerLines)
    {
        var uri = new Uri(baseUrl);
        var text = new StringBuilder();
        text.Append("GET ").Append(target).Append(" HTTP/1.1\r\nHost: ").Append(uri.Authority).Append("\r\nConnection: close\r\n");
        foreach (var line in headerLines)
        {
            text.Append(line).Append("\r\n");
        }

        text.Append("\r\n");
        return SendAsync(baseUrl, Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>Sends <paramref name="request"/>, optionally waits, and reads the response until the server closes.</summary>
    public static async Task<RawResponse> SendAsync(string baseUrl, byte[] request, TimeSpan? holdOpen = null)
    {
        var uri = new Uri(baseUrl);
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(uri.Host, uri.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        if (holdOpen is { } wait)
        {
            await Task.Delay(wait, timeout.Token);
        }

        return await ReadUntilClosedAsync(stream, timeout.Token);
    }

    /// <summary>Reads what the server sends until it closes the connection (a reset after the response keeps what came), and parses it.</summary>
    public static async Task<RawResponse> ReadUntilClosedAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        var buffer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(buffer, bound.Token);
        }
        catch (IOException)
        {
            // A reset after the response was written still leaves the response in the buffer.
        }

        return Parse(buffer.ToArray());
    }

    /// <summary>
    /// Parses a response as received: the head, and the body (de-chunked by its byte counts — a chunk's size counts
    /// bytes, not the characters of a page holding non-ASCII text) as UTF-8.
    /// </summary>
    internal static RawResponse Parse(byte[] received)
    {
        if (received.Length == 0)
        {
            return new RawResponse(0, new Dictionary<string, string>(), "");
        }

        var headEnd = received.AsSpan().IndexOf("\r\n\r\n"u8);
        var head = Encoding.UTF8.GetString(headEnd < 0 ? received : received[..headEnd]);
        var body = headEnd < 0 ? [] : received[(headEnd + 4)..];
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }

        return new RawResponse(status, headers, Encoding.UTF8.GetString(body));
    }

    private static byte[] Dechunk(byte[] body)
    {
        var result = new MemoryStream();
        var position = 0;
        while (position < body.Length)
        {
            var lineEnd = body.AsSpan(position).IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                break;
            }

            lineEnd += position;
            var size = Convert.ToInt32(Encoding.ASCII.GetString(body, position, lineEnd - position).Split(';')[0], 16);
            if (size == 0)
            {
                break;
            }

            result.Write(body, lineEnd + 2, Math.Min(size, body.Length - lineEnd - 2));
            position = lineEnd + 2 + size + 2;
        }

        return result.ToArray();
    }
}
