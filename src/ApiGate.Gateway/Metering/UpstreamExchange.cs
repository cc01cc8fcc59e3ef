namespace ApiGate.Gateway.Metering;

/// <summary>
/// What the forwarder measured of the upstream exchange (from sending the request to the end of the response body):
/// its duration and the bytes that crossed the gateway each way.
/// </summary>
internal readonly record struct UpstreamExchange(double DurationMs, long BytesIn, long BytesOut);
