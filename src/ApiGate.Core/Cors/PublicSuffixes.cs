using System.Globalization;

namespace ApiGate.Core.Cors;

/// <summary>
/// The public suffix list: names under which anyone can register a domain of their own (<c>co.uk</c>, <c>github.io</c>,
/// <c>azurewebsites.net</c> …). A CORS pattern <c>*.github.io</c> would let every such site read the route's responses,
/// so such patterns are refused. The list is the system's (<see cref="SystemFile"/>, from Debian's <c>publicsuffix</c>
/// package, kept current by the system's updates); without it only one-label suffixes (<c>*.com</c>) are refused.
/// Rules as the list's format defines them: a name, <c>*.name</c> (every label under it) and <c>!name</c> (an exception
/// to a wildcard); internationalised names are compared in their ASCII (punycode) form, as origins carry them.
/// </summary>
public sealed class PublicSuffixes
{
    /// <summary>Where Debian's <c>publicsuffix</c> package installs the list.</summary>
    public const string SystemFile = "/usr/share/publicsuffix/public_suffix_list.dat";

    private static readonly Lazy<PublicSuffixes> SystemList = new(LoadSystem);

    private readonly HashSet<string> _names;
    private readonly HashSet<string> _wildcardParents;
    private readonly HashSet<string> _exceptions;

    private PublicSuffixes(HashSet<string> names, HashSet<string> wildcardParents, HashSet<string> exceptions)
    {
        _names = names;
        _wildcardParents = wildcardParents;
        _exceptions = exceptions;
    }

    /// <summary>The system's list, read once on first use; <see cref="Empty"/> when it is not installed or unreadable.</summary>
    public static PublicSuffixes System => SystemList.Value;

    /// <summary>No rules (only the one-label rule of <see cref="CorsOrigins"/> applies).</summary>
    public static PublicSuffixes Empty { get; } = new([], [], []);

    /// <summary>How many rules were read (0 for <see cref="Empty"/>).</summary>
    public int Count => _names.Count + _wildcardParents.Count + _exceptions.Count;

    /// <summary>Reads the list's text: one rule per line (the first word), <c>//</c> comments and blank lines skipped.</summary>
    public static PublicSuffixes Parse(IEnumerable<string> lines)
    {
        var idn = new IdnMapping();
        HashSet<string> names = new(StringComparer.Ordinal), wildcards = new(StringComparer.Ordinal), exceptions = new(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var rule = line.AsSpan().Trim();
            var space = rule.IndexOfAny(' ', '\t');
            rule = space < 0 ? rule : rule[..space];
            if (rule.IsEmpty || rule.StartsWith("//"))
            {
                continue;
            }

            var (set, text) = rule switch
            {
                ['!', .. var rest] => (exceptions, rest.ToString()),
                ['*', '.', .. var rest] => (wildcards, rest.ToString()),
                _ => (names, rule.ToString()),
            };
            try
            {
                set.Add(idn.GetAscii(text).ToLowerInvariant());
            }
            catch (ArgumentException)
            {
                // A rule the IDN mapping refuses matches no origin a browser sends: skipped.
            }
        }

        return new PublicSuffixes(names, wildcards, exceptions);
    }

    /// <summary>True when <paramref name="name"/> (lower-case ASCII, no trailing dot) is a public suffix.</summary>
    public bool Contains(string name)
    {
        if (_names.Contains(name))
        {
            return true;
        }

        if (_exceptions.Contains(name))
        {
            return false;
        }

        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && _wildcardParents.Contains(name[(dot + 1)..]);
    }

    private static PublicSuffixes LoadSystem()
    {
        try
        {
            return File.Exists(SystemFile) ? Parse(File.ReadLines(SystemFile)) : Empty;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Empty;
        }
    }
}
