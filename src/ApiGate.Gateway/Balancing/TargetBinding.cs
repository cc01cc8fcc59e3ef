namespace ApiGate.Gateway.Balancing;

/// <summary>One target of an upstream in one snapshot: where to send (origin and base path) and its long-lived state.</summary>
internal sealed class TargetBinding
{
    public TargetBinding(string url, int weight, TargetState state)
    {
        Url = url;
        Weight = weight;
        State = state;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new ArgumentException($"target '{url}' is not an absolute URL"); // a snapshot with it is refused
        }

        Origin = uri.GetLeftPart(UriPartial.Authority);
        BasePath = uri.AbsolutePath.TrimEnd('/');
    }

    /// <summary>The target URL as configured (the label metrics and logs use).</summary>
    public string Url { get; }

    public int Weight { get; }

    /// <summary><c>scheme://host:port</c>.</summary>
    public string Origin { get; }

    /// <summary>The target URL's path without a trailing slash (<c>/v2</c>), prepended to every forwarded path.</summary>
    public string BasePath { get; }

    public TargetState State { get; }
}
