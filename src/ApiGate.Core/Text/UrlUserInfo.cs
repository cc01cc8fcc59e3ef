namespace ApiGate.Core.Text;

/// <summary>
/// The <c>user:password@</c> part of a URL, for showing a URL without it: in error messages, pages, metrics labels and
/// logs. Works on any text, parseable or not (an address refused as invalid may still carry a password): the user info
/// is everything between the scheme's <c>://</c> (or the start, when there is none) and the last <c>@</c> before the
/// first <c>/</c>. That over-masks rather than under-masks when a password holds an unencoded <c>?</c>, <c>#</c> or
/// <c>@</c>. <see cref="Mask"/>, which shows what was refused, also hides a password with an unencoded <c>/</c>: in text
/// that is no absolute URL (or has no <c>://</c>) the user info ends at the last <c>@</c> of all, which over-masks a
/// path holding one.
/// </summary>
public static class UrlUserInfo
{
    /// <summary><paramref name="url"/> with its user info replaced by <c>***</c>; the same string when it has none.</summary>
    public static string Mask(string url) =>
        (Find(url) ?? FindInAnyText(url)) is var (start, at) ? string.Concat(url.AsSpan(0, start), "***", url.AsSpan(at)) : url;

    /// <summary><paramref name="url"/> without its user info (and its <c>@</c>); the same string when it has none.</summary>
    public static string Remove(string url) => Find(url) is var (start, at) ? string.Concat(url.AsSpan(0, start), url.AsSpan(at + 1)) : url;

    /// <summary>
    /// For text a URL parser does not take (<c>http://u:pa/ss@host</c>: a port "pa") or that names no scheme: the user info
    /// up to the last <c>@</c>, whatever stands between — a password may hold a <c>/</c> when nothing checked it.
    /// </summary>
    private static (int Start, int At)? FindInAnyText(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0 && Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            return null;
        }

        var start = scheme < 0 ? 0 : scheme + 3;
        var at = url.LastIndexOf('@');
        return at < start ? null : (start, at);
    }

    /// <summary>Where the user info starts and where its closing <c>@</c> is, or null.</summary>
    private static (int Start, int At)? Find(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        var start = scheme < 0 ? 0 : scheme + 3;
        var end = url.IndexOf('/', start);
        if (end < 0)
        {
            end = url.Length;
        }

        var at = end == start ? -1 : url.LastIndexOf('@', end - 1, end - start);
        return at < 0 ? null : (start, at);
    }
}
