namespace ApiGate.Gateway.Observability;

/// <summary>Maps HTTP status codes to the low-cardinality <c>status_class</c> label (1xx … 5xx).</summary>
internal static class StatusClasses
{
    /// <summary>"1xx" to "5xx"; anything outside 100–599 (a connection aborted before a status was sent, say) is "other".</summary>
    public static string Of(int status) => status switch
    {
        >= 100 and < 200 => "1xx",
        >= 200 and < 300 => "2xx",
        >= 300 and < 400 => "3xx",
        >= 400 and < 500 => "4xx",
        >= 500 and < 600 => "5xx",
        _ => "other",
    };
}
