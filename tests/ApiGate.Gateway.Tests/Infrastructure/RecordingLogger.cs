using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A logger for one category that keeps the event id and level of every entry, for tests that check what was logged.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(int EventId, LogLevel Level)> _entries = new();

    /// <summary>How many entries had <paramref name="eventId"/>.</summary>
    public int Count(int eventId) => _entries.Count(e => e.EventId == eventId);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((eventId.Id, logLevel));
}
