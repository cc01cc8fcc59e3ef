namespace ApiGate.Gateway.Errors;

/// <summary>An error the gateway itself answers with (SPEC §1.2), written as a JSON:API error document.</summary>
internal sealed record GatewayError(int Status, string Code, string Title, string Detail)
{
    /// <summary>The <c>Allow</c> header sent with a 405, listing the methods that are served.</summary>
    public string? Allow { get; init; }

    /// <summary>The <c>WWW-Authenticate</c> challenge sent with a 401 for a bearer token (RFC 6750).</summary>
    public string? WwwAuthenticate { get; init; }

    /// <summary>
    /// The client's request body could not be read to its end (malformed, stalled, too large): the HTTP/1.x connection is
    /// closed after the answer (<c>Connection: close</c>, as RFC 9110 §15.5.9 asks of a 408) instead of the rest of the
    /// body being waited for or read as the next request.
    /// </summary>
    public bool ClosesConnection { get; init; }

    /// <summary>
    /// Set on the copy <see cref="GatewayErrorWriter"/> records when it answered a gRPC call with a trailers-only response
    /// (HTTP 200, the status in <c>grpc-status</c>): usage, the access log, metrics and traces still record <see cref="Status"/>.
    /// </summary>
    public bool AnsweredAsGrpc { get; init; }

    /// <summary>
    /// The status of a response as the gateway records it: <paramref name="answered"/>'s own when that error went to a gRPC
    /// call as 200, else the response's.
    /// </summary>
    public static int RecordedStatus(Microsoft.AspNetCore.Http.HttpResponse response, GatewayError? answered) =>
        answered is { AnsweredAsGrpc: true } ? answered.Status : response.StatusCode;

    public static readonly GatewayError RouteNotFound = new(404, "route_not_found", "Not Found", "No route matches this request.");
    public static readonly GatewayError UpstreamError = new(502, "upstream_error", "Bad Gateway", "The upstream refused, reset or could not be reached.");
    public static readonly GatewayError UpstreamTimeout = new(504, "upstream_timeout", "Gateway Timeout", "The upstream did not answer within its timeout.");
    public static readonly GatewayError UpstreamUnavailable = new(503, "upstream_unavailable", "Service Unavailable", "The upstream is disabled or has no healthy target.");
    public static readonly GatewayError NotReady = new(503, "not_ready", "Service Unavailable", "The gateway has not loaded its configuration yet.");
    public static readonly GatewayError Stopping = new(503, "stopping", "Service Unavailable", "The gateway is stopping; try again, or another instance.");
    public static readonly GatewayError NotFound = new(404, "not_found", "Not Found", "This gateway endpoint does not exist.");

    public static GatewayError TransformError(string detail) => new(500, "transform_error", "Internal Server Error", detail);
}
