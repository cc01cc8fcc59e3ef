using ApiGate.Gateway.Metering;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// What metrics, the access line and the span read of a proxied request once it is over. The pipeline's request
/// state implements it and puts it on the context's features, so telemetry needs nothing from the pipeline itself.
/// </summary>
internal interface IObservedRequest
{
    string RequestId { get; }

    /// <summary>Slug of the matched route.</summary>
    string RouteSlug { get; }

    /// <summary>Slug of the route's upstream.</summary>
    string UpstreamSlug { get; }

    /// <summary>Label of the target last tried ("" when none was).</summary>
    string TargetLabel { get; }

    int Attempts { get; }

    /// <summary>The caller's user and key ids ("" on public routes).</summary>
    string UserId { get; }

    string KeyId { get; }

    /// <summary>Duration and bytes of the upstream exchange (null: not forwarded).</summary>
    UpstreamExchange? Exchange { get; }
}
