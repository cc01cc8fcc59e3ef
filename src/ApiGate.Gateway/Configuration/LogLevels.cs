using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Configuration;

/// <summary>The names <c>APIGATE_LOG_LEVEL</c> accepts.</summary>
internal static class LogLevels
{
    /// <summary>Maps <c>APIGATE_LOG_LEVEL</c> names to log levels; false for a name that is not one.</summary>
    public static bool TryParse(string level, out LogLevel parsed)
    {
        parsed = level.Trim().ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "info" or "information" => LogLevel.Information,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" or "fatal" => LogLevel.Critical,
            "none" or "off" => LogLevel.None,
            _ => (LogLevel)(-1),
        };
        return parsed >= 0;
    }
}
