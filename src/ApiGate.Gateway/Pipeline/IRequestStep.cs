namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// One step of the request path (docs/architecture.md): authenticate, admit, transform the request, meter, forward.
/// Steps run in order for every protocol; a step that answers the request itself (an error) returns false and the
/// steps after it do not run.
/// </summary>
internal interface IRequestStep
{
    /// <summary>Returns true to continue with the next step, false when this step has written the response.</summary>
    ValueTask<bool> InvokeAsync(GatewayRequest request);
}

/// <summary>
/// A step that also owns something after the exchange: once the request is over (answered, forwarded, failed or
/// aborted), <see cref="OnCompleted"/> runs for every such step whose <see cref="IRequestStep.InvokeAsync"/> was
/// called, last step first — as <c>finally</c> blocks unwind.
/// </summary>
internal interface ICompletingStep : IRequestStep
{
    /// <summary>Settles what this step started. Must not throw; runs after the response (or the abort).</summary>
    void OnCompleted(GatewayRequest request);
}
