using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// At start, warns about OpenTelemetry exporter settings that cannot be used: the SDK reads the standard
/// <c>OTEL_EXPORTER_OTLP_*</c> variables itself and reports a value it cannot use (ignored for its default, or an
/// endpoint it then fails to send to) only on its own event source, so a mistyped endpoint would leave traces going
/// nowhere without a word in the log. The warning names the variable; a URL is shown without its user info.
/// </summary>
internal sealed partial class TelemetrySettingsStartupCheck(IReadOnlyList<string> problems, ILogger<TelemetrySettingsStartupCheck> logger) : IHostedService
{
    private static readonly string[] EndpointVariables = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];

    private static readonly string[] ProtocolVariables = ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"];

    /// <summary>What is wrong with the exporter settings in <paramref name="configuration"/>, one sentence per variable.</summary>
    public static IReadOnlyList<string> Problems(IConfiguration configuration)
    {
        var problems = new List<string>();
        foreach (var name in EndpointVariables)
        {
            if (configuration[name] is { Length: > 0 } value
                && !(Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0))
            {
                problems.Add($"{name}: '{Shown(value)}' is not an absolute http:// or https:// URL (e.g. http://otel-collector:4317)");
            }
        }

        foreach (var name in ProtocolVariables)
        {
            if (configuration[name] is { Length: > 0 } value && value.Trim() is not ("grpc" or "http/protobuf"))
            {
                problems.Add($"{name}: '{value}' is not grpc or http/protobuf");
            }
        }

        return problems;
    }

    /// <summary>
    /// A value that is not a URL may still carry a password (<c>http//user:pw@host</c>, a missing colon): everything up to
    /// its last <c>@</c> is masked.
    /// </summary>
    private static string Shown(string value) => value.LastIndexOf('@') is var at and >= 0 ? "***" + value[at..] : value;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var problem in problems)
        {
            LogUnusable(problem);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning,
        Message = "Trace export setting cannot be used, spans will not reach the collector meant: {Problem}")]
    private partial void LogUnusable(string problem);
}
