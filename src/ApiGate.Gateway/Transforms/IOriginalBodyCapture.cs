namespace ApiGate.Gateway.Transforms;

/// <summary>
/// Takes the body the upstream answered when a route's response transform writes an edited one in its place: metering
/// reads what the upstream sent (a route that hides the field it bills by still bills by it). Implemented by the
/// metered response stream, so the transform does not reach into metering.
/// </summary>
internal interface IOriginalBodyCapture
{
    /// <summary>Makes <paramref name="original"/> the captured body in place of what was and will be written.</summary>
    void CaptureInstead(ReadOnlySpan<byte> original);
}
