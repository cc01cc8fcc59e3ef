using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ApiGate.Core.Management;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Writes an <see cref="AccessLogEntry"/> in the same line shapes as the rest of the log (JSON: <c>Timestamp</c>,
/// <c>EventId</c>, <c>LogLevel</c>, <c>Category</c>, <c>Message</c>, <c>State</c>; console: timestamp, level,
/// category and event id, then the message), straight into the caller's buffer: no template parsing, no boxing, no
/// intermediate message string in JSON.
/// </summary>
internal static class AccessLogFormatter
{
    /// <summary>The timestamp format of every log line (UTC).</summary>
    public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static void WriteJson(in AccessLogEntry entry, DateTimeOffset now, StringBuilder output)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var json = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        json.Reset(buffer);

        Span<char> stamp = stackalloc char[32];
        now.UtcDateTime.TryFormat(stamp, out var stampLength, TimestampFormat, CultureInfo.InvariantCulture);
        json.WriteStartObject();
        json.WriteString("Timestamp"u8, stamp[..stampLength]);
        json.WriteNumber("EventId"u8, AccessLog.EventId);
        json.WriteString("LogLevel"u8, "Information"u8);
        json.WriteString("Category"u8, AccessLog.Category);
        Span<char> summary = entry.SummaryFits ? stackalloc char[AccessLogEntry.SummaryBuffer] : new char[entry.SummaryLength];
        json.WriteString("Message"u8, summary[..entry.FormatSummary(summary)]); // no string per line
        json.WriteStartObject("State"u8);
        json.WriteString("RequestId"u8, entry.RequestId);
        json.WriteString("Method"u8, entry.Method);
        json.WriteString("Path"u8, entry.Path);
        json.WriteString("Route"u8, entry.Route);
        json.WriteString("Upstream"u8, entry.Upstream);
        json.WriteString("Target"u8, entry.Target);
        json.WriteNumber("Attempts"u8, entry.Attempts);
        json.WriteString("UserId"u8, entry.UserId);
        json.WriteString("KeyId"u8, entry.KeyId);
        json.WriteNumber("Status"u8, entry.Status);
        json.WriteNumber("BytesIn"u8, entry.BytesIn);
        json.WriteNumber("BytesOut"u8, entry.BytesOut);
        json.WriteNumber("DurationMs"u8, entry.DurationMs);
        json.WriteNumber("UpstreamMs"u8, entry.UpstreamMs);
        json.WriteString("ClientIp"u8, entry.ClientIp);
        json.WriteString("Error"u8, entry.Error);
        json.WriteString("TraceId"u8, entry.TraceId);
        json.WriteEndObject();
        json.WriteEndObject();
        json.Flush();

        AppendUtf8(buffer.WrittenSpan, output);
        output.Append('\n');
        if (buffer.Capacity > 64 * 1024)
        {
            t_buffer = null; // an unusually long path; do not keep its buffer per thread
            t_writer = null;
        }
    }

    public static void WriteConsole(in AccessLogEntry entry, DateTimeOffset now, StringBuilder output)
    {
        output.Append(CultureInfo.InvariantCulture, $"{now.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture)} info: {AccessLog.Category}[{AccessLog.EventId}] ");
        output.Append(entry.ToString());
        output.Append('\n');
    }

    private static void AppendUtf8(ReadOnlySpan<byte> utf8, StringBuilder output)
    {
        var chars = ArrayPool<char>.Shared.Rent(utf8.Length);
        var text = chars.AsSpan(0, Encoding.UTF8.GetChars(utf8, chars));
        // The relaxed encoder passes line and paragraph separators and bidirectional overrides through (C0 it escapes):
        // a log viewer would break the line there or show it reordered. Written as \uXXXX like the console format's,
        // which keeps the JSON valid (they can only be inside strings; every name is ASCII). In UTF-8 each of them, and each
        // C1 control, starts with the byte 0xC2 or 0xE2: a line without either or DEL (nearly every line) is not scanned.
        if (utf8.IndexOfAny((byte)0xC2, (byte)0xE2, (byte)0x7F) >= 0)
        {
            AppendEscaped(text, output);
        }
        else
        {
            output.Append(text);
        }

        ArrayPool<char>.Shared.Return(chars);
    }

    /// <summary>
    /// Appends <paramref name="text"/> with every character <see cref="TextFields.IsControl"/> names (control characters,
    /// line and paragraph separators, bidirectional overrides and isolates) written as <c>\uXXXX</c>.
    /// </summary>
    public static void AppendEscaped(ReadOnlySpan<char> text, StringBuilder output)
    {
        int at;
        while ((at = TextFields.IndexOfControl(text)) >= 0)
        {
            output.Append(text[..at]);
            output.Append(CultureInfo.InvariantCulture, $"\\u{(int)text[at]:X4}");
            text = text[(at + 1)..];
        }

        output.Append(text);
    }
}
