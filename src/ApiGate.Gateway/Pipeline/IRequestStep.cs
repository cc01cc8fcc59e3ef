namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// One step of the request path (SPEC §1): authenticate, quota, rate-limit, entitle, transform, rewrite. Steps run
/// in order for every protocol; a step that answers the request itself (an error) returns false and the pipeline stops.
/// </summary>
internal interface IRequestStep
{
    /// <summary>Returns true to continue with the next step, false when this step has written the response.</summary>
    ValueTask<bool> InvokeAsync(GatewayRequest request);
}
