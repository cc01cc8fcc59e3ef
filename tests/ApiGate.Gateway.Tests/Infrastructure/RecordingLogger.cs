using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A logger for one category that keeps every entry (event id, level, formatted message), for tests that check what was logged.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(int EventId, LogLevel Level, string Message)> _entries = new();

    /// <summary>Every entry so far, oldest first.</summary>
    public IReadOnlyList<(int EventId, LogLevel Level, string Message)> Entries => [.. _entries];

    /// <summary>The formatted messages so far, oldest first.</summary>
    public IReadOnlyList<string> Messages => [.. _entries.Select(e => e.Message)];

    /// <summary>How many entries had <paramref name="eventId"/>.</summary>
    public int Count(int eventId) => _entries.Count(e => e.EventId == eventId);

    /// <summary>Forgets the entries so far.</summary>
    public void Clear() => _entries.Clear();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
}
