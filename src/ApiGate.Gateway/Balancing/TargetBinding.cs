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
            throw new ArgumentException($"target '{Core.Text.UrlUserInfo.Mask(url)}' is not an absolute URL"); // a snapshot with it is refused
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

    private static readonly UriCreationOptions VerbatimUri = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private LastUri? _lastUri;

    /// <summary>
    /// The outgoing URI for an encoded path and a query (<c>?a=b</c> or empty): origin + base path + path + query, taken
    /// verbatim (nothing on the way out unescapes or removes dot segments again; docs/routing.md). The last one built is
    /// kept: a request for the same path and query as the one before reuses it (a <see cref="Uri"/> is immutable and
    /// safe to share), which saves the string, the <see cref="Uri"/> and the parts the HTTP client computes from it.
    /// </summary>
    public Uri UriFor(string path, string? query)
    {
        query ??= "";
        var last = Volatile.Read(ref _lastUri);
        if (last is not null && string.Equals(last.Path, path, StringComparison.Ordinal) && string.Equals(last.Query, query, StringComparison.Ordinal))
        {
            return last.Uri;
        }

        var uri = new Uri(string.Concat(Origin, BasePath, path, query), in VerbatimUri);
        Volatile.Write(ref _lastUri, new LastUri(path, query, uri));
        return uri;
    }

    private sealed record LastUri(string Path, string Query, Uri Uri);
}
