using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Writes log entries, formatted exactly as the console logger formats them (same <see cref="ConsoleFormatter"/>),
/// to a <see cref="TextWriter"/> — for <see cref="Hosting.GatewayOptions.LogWriter"/> (embedding, tests). Synchronous
/// and serialised; not meant for high-volume production output (use stdout).
/// </summary>
internal sealed class TextWriterLoggerProvider(TextWriter writer, ConsoleFormatter formatter) : ILoggerProvider
{
    private readonly Lock _lock = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write<TState>(string category, LogLevel level, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> format)
    {
        var entry = new LogEntry<TState>(level, category, eventId, state, exception, format);
        using var line = new StringWriter();
        formatter.Write(in entry, null, line);
        lock (_lock)
        {
            writer.Write(line.ToString());
            writer.Flush();
        }
    }

    private sealed class Logger(TextWriterLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => NullScope.Instance;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(category, logLevel, eventId, state, exception, formatter);
            }
        }
    }

    private sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new();

        public void Dispose()
        {
        }
    }
}
