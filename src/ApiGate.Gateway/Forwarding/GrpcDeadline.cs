namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// The deadline a gRPC call on an <c>http</c> route is forwarded with: what is left of the exchange's bound
/// (<paramref name="Bound"/> less <paramref name="Elapsed"/>, the time since the first attempt began), or the client's own
/// <c>grpc-timeout</c> when that is shorter — as sent on the first attempt, and less the time spent so far on a
/// <paramref name="Retry"/> (a target that could not be connected to may have taken seconds), so the upstream never
/// works past the moment the client stops waiting.
/// </summary>
internal readonly record struct GrpcDeadline(TimeSpan Bound, TimeSpan Elapsed, bool Retry)
{
    /// <summary>The header value to send instead of the client's <paramref name="asked"/>; null to send the client's unchanged.</summary>
    public string? Header(string? asked)
    {
        var left = Bound - Elapsed;
        if (!Grpc.GrpcTimeout.TryParse(asked, out var clients))
        {
            return Grpc.GrpcTimeout.Format(left); // none, or not one: the gateway's
        }

        if (!Retry)
        {
            return clients <= left ? null : Grpc.GrpcTimeout.Format(left);
        }

        var clientsLeft = clients - Elapsed;
        return Grpc.GrpcTimeout.Format(clientsLeft <= left ? clientsLeft : left);
    }
}
