using System.Collections;
using System.Globalization;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// The fields of one access-log line. It is the state of an ordinary <c>ILogger</c> call, so level and category
/// filters (<c>APIGATE_LOG_LEVEL</c>, <c>APIGATE_ACCESS_LOG</c>) and every provider apply; it is also a list of
/// name/value pairs for providers that read structured state. The gateway's own log writer formats it directly
/// (<see cref="AccessLogFormatter"/>) instead of through the generic console formatter, which costs several times more
/// per line.
/// </summary>
internal readonly struct AccessLogEntry : IReadOnlyList<KeyValuePair<string, object?>>
{
    /// <summary>Property names, in output order (the same in JSON and in the structured state).</summary>
    public static readonly string[] Names =
    [
        "RequestId", "Method", "Path", "Route", "Upstream", "Target", "Attempts", "UserId", "KeyId", "Status",
        "BytesIn", "BytesOut", "DurationMs", "UpstreamMs", "ClientIp", "Error", "TraceId",
    ];

    public required string RequestId { get; init; }
    public required string Method { get; init; }
    public required string Path { get; init; }
    public required string Route { get; init; }
    public required string Upstream { get; init; }
    public required string Target { get; init; }
    public required int Attempts { get; init; }
    public required string UserId { get; init; }
    public required string KeyId { get; init; }
    public required int Status { get; init; }
    public required long BytesIn { get; init; }
    public required long BytesOut { get; init; }
    public required double DurationMs { get; init; }
    public required double UpstreamMs { get; init; }
    public required string ClientIp { get; init; }
    public required string Error { get; init; }
    public required string TraceId { get; init; }

    public int Count => Names.Length;

    public KeyValuePair<string, object?> this[int index] => new(Names[index], index switch
    {
        0 => RequestId,
        1 => Method,
        2 => Path,
        3 => Route,
        4 => Upstream,
        5 => Target,
        6 => Attempts,
        7 => UserId,
        8 => KeyId,
        9 => Status,
        10 => BytesIn,
        11 => BytesOut,
        12 => DurationMs,
        13 => UpstreamMs,
        14 => ClientIp,
        15 => Error,
        16 => TraceId,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    });

    /// <summary>The human part of the line: <c>POST /orders 200 3.112 ms</c>.</summary>
    public string Summary()
    {
        Span<char> buffer = SummaryFits ? stackalloc char[SummaryBuffer] : new char[SummaryLength];
        return new string(buffer[..FormatSummary(buffer)]);
    }

    /// <summary>Writes <see cref="Summary"/> into <paramref name="destination"/> (at least <see cref="SummaryLength"/> long); returns its length.</summary>
    public int FormatSummary(Span<char> destination) =>
        destination.TryWrite(CultureInfo.InvariantCulture, $"{Method} {Path} {Status} {DurationMs} ms", out var written)
            ? written
            : throw new ArgumentException("destination is shorter than SummaryLength", nameof(destination));

    /// <summary>Room <see cref="FormatSummary"/> needs: method, path and 64 characters for the numbers and spaces.</summary>
    public int SummaryLength => Method.Length + Path.Length + 64;

    /// <summary>True when the summary fits a stack buffer of <see cref="SummaryBuffer"/> characters.</summary>
    public bool SummaryFits => SummaryLength <= SummaryBuffer;

    /// <summary>Stack buffer size for the summary of an ordinary request.</summary>
    public const int SummaryBuffer = 512;

    /// <summary>
    /// The whole line as one line of text (console format, and providers other than the gateway's own writer): the
    /// summary, then every field as <c>Name=value</c>. Control characters, spaces and double quotes in values are
    /// escaped (<c>\n</c> → <c>\u000A</c>, space → <c>\u0020</c>): the path comes from the client, and a decoded
    /// <c>%0A</c> must not start a forged log line, nor a decoded <c>%20Status=200</c> add a forged field to this one.
    /// </summary>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder(256);
        AppendEscaped(text, Method);
        text.Append(' ');
        AppendEscaped(text, Path);
        text.Append(CultureInfo.InvariantCulture, $" {Status} {DurationMs} ms");
        for (var i = 0; i < Names.Length; i++)
        {
            var (name, value) = this[i];
            text.Append(' ').Append(name).Append('=');
            AppendEscaped(text, value as string ?? string.Create(CultureInfo.InvariantCulture, $"{value}"));
        }

        return text.ToString();
    }

    private static void AppendEscaped(System.Text.StringBuilder text, string value)
    {
        foreach (var c in value)
        {
            // Line separators and bidirectional overrides too (TextFields' rule): a viewer would break or reorder the line.
            if (Core.Management.TextFields.IsControl(c) || c is ' ' or '"')
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                text.Append(c);
            }
        }
    }

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Names.Length; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
