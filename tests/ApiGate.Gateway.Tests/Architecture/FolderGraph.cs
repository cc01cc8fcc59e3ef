using System.Text.RegularExpressions;

namespace ApiGate.Gateway.Tests.Architecture;

/// <summary>
/// Which folders of one project use which others, read from the sources: a folder uses another when one of its files
/// names that folder's namespace (<c>using ApiGate.Gateway.Errors;</c>, a fully qualified name) or one of that folder's
/// types qualified by the folder's name (<c>Errors.GatewayError</c>, which compiles without a using inside the project's
/// namespace). Comments are ignored. A <c>_Imports.razor</c> at the project's root counts for every folder with Razor
/// files, since its usings apply to them.
/// </summary>
internal sealed partial class FolderGraph
{
    private readonly Dictionary<string, Dictionary<string, string>> _uses = new(StringComparer.Ordinal);

    private FolderGraph(IEnumerable<string> folders)
    {
        foreach (var folder in folders)
        {
            _uses[folder] = new Dictionary<string, string>(StringComparer.Ordinal);
        }
    }

    /// <summary>The project's top-level folders.</summary>
    public IReadOnlyCollection<string> Folders => _uses.Keys;

    /// <summary>
    /// Reads the project in <paramref name="directory"/> whose folders are namespaces under
    /// <paramref name="rootNamespace"/>.
    /// </summary>
    public static FolderGraph Read(string directory, string rootNamespace)
    {
        var folders = Directory.GetDirectories(directory)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => name is not ("bin" or "obj") && !name.StartsWith('.'))
            .Where(name => SourcesOf(Path.Combine(directory, name)).Any())
            .ToList();
        var graph = new FolderGraph(folders);

        var sources = folders.ToDictionary(f => f, f => SourcesOf(Path.Combine(directory, f)).Select(p => (Path: p, Text: WithoutComments(File.ReadAllText(p)))).ToList());
        // What a folder's name can qualify: its types, and the namespaces of its subfolders (Identity.Jwt).
        var types = sources.ToDictionary(s => s.Key, s => s.Value
            .SelectMany(file => TypeDeclaration().Matches(file.Text).Select(m => m.Groups[1].Value)
                .Concat(Regex.Matches(file.Text, $@"\bnamespace\s+{Regex.Escape(rootNamespace)}\.{Regex.Escape(s.Key)}\.(\w+)").Select(m => m.Groups[1].Value)))
            .ToHashSet(StringComparer.Ordinal));
        var rootImports = Path.Combine(directory, "_Imports.razor");
        var shared = File.Exists(rootImports) ? WithoutComments(File.ReadAllText(rootImports)) : null;

        foreach (var (folder, files) in sources)
        {
            var texts = files.Select(f => (f.Path, f.Text)).ToList();
            if (shared is not null && files.Any(f => f.Path.EndsWith(".razor", StringComparison.Ordinal)))
            {
                texts.Add((rootImports, shared));
            }

            foreach (var (path, text) in texts)
            {
                foreach (var other in folders)
                {
                    if (other == folder || graph._uses[folder].ContainsKey(other))
                    {
                        continue;
                    }

                    if (Names(text, rootNamespace, other, types[other]))
                    {
                        graph._uses[folder][other] = Path.GetRelativePath(directory, path);
                    }
                }
            }
        }

        return graph;
    }

    /// <summary>The folders <paramref name="folder"/> uses, each with one file that shows it.</summary>
    public IReadOnlyDictionary<string, string> UsesOf(string folder) => _uses[folder];

    /// <summary>Every set of two or more folders that use each other, directly or through others (strongly connected components).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var cycles = new List<IReadOnlyList<string>>();

        void Visit(string folder)
        {
            index[folder] = low[folder] = index.Count;
            stack.Push(folder);
            onStack.Add(folder);
            foreach (var used in _uses[folder].Keys)
            {
                if (!index.ContainsKey(used))
                {
                    Visit(used);
                    low[folder] = Math.Min(low[folder], low[used]);
                }
                else if (onStack.Contains(used))
                {
                    low[folder] = Math.Min(low[folder], index[used]);
                }
            }

            if (low[folder] == index[folder])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != folder);

                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    cycles.Add(component);
                }
            }
        }

        foreach (var folder in _uses.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(folder))
            {
                Visit(folder);
            }
        }

        return cycles;
    }

    /// <summary>A cycle for people: each use inside it with the file that shows it.</summary>
    public string Describe(IReadOnlyList<string> cycle) => string.Join("; ",
        cycle.SelectMany(folder => _uses[folder].Where(use => cycle.Contains(use.Key)).Select(use => $"{folder} -> {use.Key} ({use.Value})")));

    private static IEnumerable<string> SourcesOf(string folder) =>
        Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
            .Where(p => p.EndsWith(".cs", StringComparison.Ordinal) || p.EndsWith(".razor", StringComparison.Ordinal))
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static bool Names(string text, string rootNamespace, string folder, HashSet<string> folderTypes)
    {
        if (Regex.IsMatch(text, $@"\b{Regex.Escape(rootNamespace)}\.{Regex.Escape(folder)}\b"))
        {
            return true;
        }

        foreach (Match match in Regex.Matches(text, $@"(?<![\w.]){Regex.Escape(folder)}\.(\w+)"))
        {
            if (folderTypes.Contains(match.Groups[1].Value))
            {
                return true;
            }
        }

        return false;
    }

    private static string WithoutComments(string text) => LineComment().Replace(BlockComment().Replace(text, " "), "");

    [GeneratedRegex(@"/\*.*?\*/|@\*.*?\*@", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"(?<!:)//.*$", RegexOptions.Multiline)]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+(\w+)")]
    private static partial Regex TypeDeclaration();
}
