using System.Text.RegularExpressions;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Architecture;

/// <summary>
/// Every relative link in README.md and docs/*.md names a file of the checkout and, after a '#', a heading (or an
/// <c>&lt;a id="…"&gt;</c>) of that file, spelled as GitHub spells heading anchors.
/// </summary>
public sealed partial class DocumentationLinkTests
{
    private static string Root => RepositoryRoot.Find() ?? throw new InvalidOperationException("not run from a checkout");

    [Fact]
    public void RelativeLinks_InReadmeAndDocs_NameAnExistingFileAndAnchor()
    {
        var files = Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Prepend(Path.Combine(Root, "README.md"));

        var broken = BrokenLinks(Root, files);

        Assert.True(broken.Count == 0, "broken links: " + string.Join("; ", broken));
    }

    [Fact]
    public void TheReader_FindsAMissingFileAndAMissingAnchor_NotHeadingsDuplicatesHtmlAnchorsOrCode()
    {
        var directory = Directory.CreateTempSubdirectory("apigate-doclinks-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(directory, "a.md"),
                "# Top\n\n## The `serve` command, step 1\n\n## Notes\n\n## Notes\n\n<a id=\"kept-name\"></a>\n**Kept name.**\n\n" +
                "```\n## Not a heading\n[in code](nowhere.md)\n```\n");
            File.WriteAllText(Path.Combine(directory, "b.md"),
                "[ok](a.md#the-serve-command-step-1) [dup](a.md#notes-1) [html](a.md#kept-name) [self](#own) " +
                "[web](https://example.com/x.md) [gone](missing.md) [no anchor](a.md#not-a-heading)\n\n## Own\n");

            var broken = BrokenLinks(directory, [Path.Combine(directory, "b.md")]);

            Assert.Equal(["b.md: missing.md (no such file)", "b.md: a.md#not-a-heading (no such anchor)"], broken);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static List<string> BrokenLinks(string root, IEnumerable<string> files)
    {
        var broken = new List<string>();
        foreach (var file in files)
        {
            var name = Path.GetRelativePath(root, file).Replace('\\', '/');
            foreach (Match link in Link().Matches(OutsideCode(File.ReadAllText(file))))
            {
                var target = link.Groups[1].Value;
                if (target.StartsWith("http://", StringComparison.Ordinal) || target.StartsWith("https://", StringComparison.Ordinal)
                    || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }

                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var path = hash < 0 ? target : target[..hash];
                var targetFile = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, path));
                if (!File.Exists(targetFile) && !Directory.Exists(targetFile))
                {
                    broken.Add($"{name}: {target} (no such file)");
                }
                else if (hash >= 0 && targetFile.EndsWith(".md", StringComparison.Ordinal)
                    && !Anchors(File.ReadAllText(targetFile)).Contains(target[(hash + 1)..]))
                {
                    broken.Add($"{name}: {target} (no such anchor)");
                }
            }
        }

        return broken;
    }

    /// <summary>The anchors GitHub makes: each heading lower-cased, punctuation but '-' and '_' dropped, spaces as '-', a repeat numbered.</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var text = OutsideCode(markdown);
        foreach (Match heading in Heading().Matches(text))
        {
            var slug = NotInSlug().Replace(heading.Groups[1].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-');
            anchors.Add(seen.TryGetValue(slug, out var count) ? $"{slug}-{count}" : slug);
            seen[slug] = count + 1;
        }

        foreach (Match html in HtmlAnchor().Matches(text))
        {
            anchors.Add(html.Groups[1].Value);
        }

        return anchors;
    }

    private static string OutsideCode(string markdown) => Fence().Replace(markdown, "");

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^#{1,6}[ \t]+(.*?)[ \t]*\r?$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\w\- ]")]
    private static partial Regex NotInSlug();

    [GeneratedRegex("<a (?:id|name)=\"([^\"]+)\"")]
    private static partial Regex HtmlAnchor();

    [GeneratedRegex(@"^```.*?^```[^\n]*$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();
}
