using System.Runtime.CompilerServices;
using System.Text;
using ApiGate.Core.Management;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Logs formatted exactly as the console logger formats them (the same <see cref="ConsoleFormatter"/>, json or simple)
/// but written through a <see cref="BufferedLogWriter"/>: the request thread formats its line and appends it to a
/// buffer under a short lock; one background thread writes the buffer every 20 ms. The stock console logger writes
/// and flushes every line separately from its queue thread, which at one access-log line per request costs a write
/// system call and a thread hand-off per request (docs/performance.md).
/// </summary>
internal sealed class BufferedLoggerProvider : ILoggerProvider
{
    [ThreadStatic]
    private static StringWriter? t_line;

    private readonly ConsoleFormatter _formatter;
    private readonly bool _json;
    private readonly BufferedLogWriter _writer;

    public BufferedLoggerProvider(ConsoleFormatter formatter, TextWriter target)
    {
        _formatter = formatter;
        _json = formatter.Name == ConsoleFormatterNames.Json;
        _writer = new BufferedLogWriter(target, DroppedNotice);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() => _writer.Dispose();

    private void Write<TState>(string category, LogLevel level, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> format)
    {
        var line = t_line ??= new StringWriter(new StringBuilder(1024), System.Globalization.CultureInfo.InvariantCulture);
        var text = line.GetStringBuilder();
        text.Clear();
        if (typeof(TState) == typeof(AccessLogEntry))
        {
            // The one line written per request: formatted directly (same shape, a fraction of the cost).
            ref var entry = ref Unsafe.As<TState, AccessLogEntry>(ref state);
            if (_json)
            {
                AccessLogFormatter.WriteJson(entry, DateTimeOffset.UtcNow, text);
            }
            else
            {
                AccessLogFormatter.WriteConsole(entry, DateTimeOffset.UtcNow, text);
            }
        }
        else
        {
            _formatter.Write(new LogEntry<TState>(level, category, eventId, state, exception, format), null, line);
            if (!_json)
            {
                EscapeControls(text);
            }
        }

        if (text.Length > 0)
        {
            _writer.Append(text);
        }

        if (text.Capacity > 64 * 1024)
        {
            t_line = null; // a huge exception message; do not keep its buffer per thread
        }
    }

    /// <summary>
    /// The simple formatter writes a message as it is (single-line mode only turns <c>\n</c> into a space), so a value a
    /// client chose — an admin API path, decoded — could end the line on a terminal or in a viewer (CR, a line separator),
    /// recolour or erase it (an escape sequence) or show the rest of it reversed (a bidirectional override). Those are
    /// written as <c>\uXXXX</c>, as in the access line; the line's own final newline stays. (The JSON formatter's encoder
    /// escapes them already.) A line without any is only scanned.
    /// </summary>
    private static void EscapeControls(StringBuilder text)
    {
        var end = text.Length > 0 && text[^1] == '\n' ? text.Length - 1 : text.Length;
        var scanned = 0;
        foreach (var chunk in text.GetChunks())
        {
            if (scanned >= end)
            {
                return;
            }

            if (TextFields.IndexOfControl(chunk.Span[..Math.Min(chunk.Length, end - scanned)]) >= 0)
            {
                var line = text.ToString(0, end);
                var newline = end < text.Length;
                text.Clear();
                AccessLogFormatter.AppendEscaped(line, text);
                if (newline)
                {
                    text.Append('\n');
                }

                return;
            }

            scanned += chunk.Length;
        }
    }

    private string DroppedNotice(long count)
    {
        var line = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var message = $"{count} log message(s) dropped: output could not keep up (buffer of {_writer.Capacity} characters full)";
        _formatter.Write(new LogEntry<string>(LogLevel.Warning, "ApiGate.Logging", new EventId(9002, "LogDropped"), message, null, static (m, _) => m), null, line);
        return line.ToString();
    }

    private sealed class Logger(BufferedLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        // Levels are filtered by the logger factory's rules (APIGATE_LOG_LEVEL and the category filters).
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(category, logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
