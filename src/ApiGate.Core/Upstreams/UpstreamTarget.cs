namespace ApiGate.Core.Upstreams;

/// <summary>
/// One backend instance of an upstream. <see cref="Url"/> is a base URL like an upstream's <c>base_url</c>: its path,
/// if any, is prepended to every path forwarded to this target.
/// </summary>
public sealed record UpstreamTarget(string Url, int Weight = UpstreamTarget.DefaultWeight)
{
    /// <summary>Weight of a target given without one.</summary>
    public const int DefaultWeight = 1;

    /// <summary>Largest accepted weight.</summary>
    public const int MaxWeight = 1000;

    /// <summary>Most targets one upstream may have.</summary>
    public const int MaxTargets = 64;
}
