using System.Text.RegularExpressions;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Architecture;

/// <summary>
/// The folders of every project use each other without cycles, and the gateway's folders form the layers
/// docs/architecture.md lists ("Folders of the gateway and what they may use").
/// </summary>
public sealed partial class FolderCycleTests
{
    private static string Root => RepositoryRoot.Find() ?? throw new InvalidOperationException("not run from a checkout");

    [Theory]
    [InlineData("ApiGate.Core")]
    [InlineData("ApiGate.Storage")]
    [InlineData("ApiGate.Gateway")]
    [InlineData("ApiGate.Web")]
    [InlineData("ApiGate.Cli")]
    public void FoldersOfAProject_UseEachOtherWithoutCycles(string project)
    {
        var graph = FolderGraph.Read(Path.Combine(Root, "src", project), project);

        Assert.True(graph.Folders.Count >= 3, $"{project}: only {graph.Folders.Count} folders read");
        var cycles = graph.Cycles();
        Assert.True(cycles.Count == 0, $"{project}: folders in a cycle: " + string.Join(" | ", cycles.Select(graph.Describe)));
    }

    [Fact]
    public void GatewayFolders_UseOnlyFoldersOnEarlierLinesOfTheDocumentedLayers()
    {
        var graph = FolderGraph.Read(Path.Combine(Root, "src", "ApiGate.Gateway"), "ApiGate.Gateway");
        var layers = DocumentedLayers(File.ReadAllText(Path.Combine(Root, "docs", "architecture.md")));

        Assert.Equal(graph.Folders.Order(StringComparer.Ordinal), layers.Keys.Order(StringComparer.Ordinal));
        var wrong = graph.Folders
            .SelectMany(folder => graph.UsesOf(folder).Where(use => layers[use.Key] >= layers[folder])
                .Select(use => $"{folder} (line {layers[folder]}) -> {use.Key} (line {layers[use.Key]}) in {use.Value}"))
            .ToList();
        Assert.True(wrong.Count == 0, "uses of a folder on the same or a later line: " + string.Join("; ", wrong));
    }

    [Fact]
    public void TheReader_SeesAUsingAQualifiedNameAFolderQualifiedTypeAndRootImports_NotComments()
    {
        var directory = Directory.CreateTempSubdirectory("apigate-folders-").FullName;
        try
        {
            Write(directory, "A/One.cs", "using Sample.B;\nnamespace Sample.A;\npublic sealed class One { }\n");
            Write(directory, "B/Two.cs", "namespace Sample.B;\npublic sealed record Two(int X) { public object Y => C.Three.Make(); }\n");
            Write(directory, "C/Three.cs", "namespace Sample.C;\n// Sample.D is named here only in a comment\npublic static class Three { public static object Make() => new Sample.A.One(); }\n");
            Write(directory, "D/Four.cs", "namespace Sample.D;\n/* using Sample.E; */\npublic sealed class Four { }\n");
            Write(directory, "E/Page.razor", "<p>@Five.Name</p>\n");
            Write(directory, "F/Five.cs", "namespace Sample.F;\npublic static class Five { public const string Name = \"five\"; }\n");
            Write(directory, "_Imports.razor", "@using Sample.F\n");

            var graph = FolderGraph.Read(directory, "Sample");

            Assert.Equal(["B"], graph.UsesOf("A").Keys);
            Assert.Equal(["C"], graph.UsesOf("B").Keys);
            Assert.Equal(["A"], graph.UsesOf("C").Keys);
            Assert.Empty(graph.UsesOf("D"));
            Assert.Equal(["F"], graph.UsesOf("E").Keys);
            var cycle = Assert.Single(graph.Cycles());
            Assert.Equal(["A", "B", "C"], cycle);
            Assert.Contains("C -> A (C/Three.cs)", graph.Describe(cycle), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Each folder named in the numbered list of the section, with the number of its line.</summary>
    private static Dictionary<string, int> DocumentedLayers(string markdown)
    {
        var start = markdown.IndexOf("## Folders of the gateway and what they may use", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no section on the gateway's folders");
        var end = markdown.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = markdown[start..(end < 0 ? markdown.Length : end)];

        var layers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match line in LayerLine().Matches(section))
        {
            var number = int.Parse(line.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            foreach (Match name in Regex.Matches(line.Groups[2].Value, "`(\\w+)`"))
            {
                Assert.True(layers.TryAdd(name.Groups[1].Value, number), $"{name.Groups[1].Value} is listed twice");
            }
        }

        return layers;
    }

    private static void Write(string directory, string relative, string text)
    {
        var path = Path.Combine(directory, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    /// <summary>A list line: its number and the folder names before the dash that starts its description.</summary>
    [GeneratedRegex(@"^(\d+)\. ([^—\n]*) —", RegexOptions.Multiline)]
    private static partial Regex LayerLine();
}
