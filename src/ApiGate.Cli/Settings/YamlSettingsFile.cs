using System.Buffers;
using System.Globalization;
using System.Text.Unicode;
using ApiGate.Gateway.Hosting;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using Tokens = YamlDotNet.Core.Tokens;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Cli.Settings;

/// <summary>
/// <c>apigate.yaml</c> as a configuration provider: the YAML mappings flattened into the settings' keys
/// (<c>server:\n  port: 8080</c> is <c>server:port</c>; <c>server.port: 8080</c> at the top works too). A key that is not
/// a setting is refused with the known ones, so a typo does not pass silently; a comma-separated list setting may be a
/// YAML sequence (<c>[RS256, ES256]</c> or <c>- item</c> lines), any other setting that is not a single value is refused
/// naming its line; so is a setting given twice (in two
/// spellings or cases), a file whose top is not a mapping of settings and a second document, which would otherwise be
/// ignored without a word. A setting with a YAML null value (<c>port:</c> with nothing after it, <c>~</c>, <c>null</c>) is
/// refused naming its line, as an empty value from any other source is taken as given, not as no setting: nothing
/// then reads it as the text <c>~</c>, or falls back to the default without a word. A section with nothing under it
/// (<c>server:</c> with its settings commented out), null as well, sets nothing.
/// </summary>
/// <remarks>
/// Read from YamlDotNet's event parser, not its node tree: the tree is built recursively, so a file nested a few
/// thousand levels deep, or an alias inside the mapping it names (<c>a: &amp;x {b: *x}</c>), overflowed the stack and
/// killed the process. Here a mapping is entered only where a setting's key goes on (<c>server</c>, <c>tls</c>), so
/// nothing is nested deeper than the settings are, and an alias stands for a single value only.
/// </remarks>
internal sealed class YamlSettingsFile : SettingsConfigurationProvider
{
    /// <summary>The largest config file read: its settings take a few KiB.</summary>
    private const int MaxBytes = 1024 * 1024;

    private readonly string _path;

    private YamlSettingsFile(string path)
        : base(SettingSource.File) => _path = path;

    /// <summary>
    /// The config file: <paramref name="explicitPath"/> (<c>--config</c> or <c>APIGATE_CONFIG</c>), which must exist,
    /// else <c>apigate.yaml</c> in the working directory if present; null when there is none.
    /// </summary>
    public static YamlSettingsFile? Open(string? explicitPath)
    {
        var path = explicitPath ?? "apigate.yaml";
        if (File.Exists(path))
        {
            return new YamlSettingsFile(path);
        }

        if (Directory.Exists(path))
        {
            // Not "does not exist", which it does; nor, for ./apigate.yaml, skipped as if there were no config file.
            throw new ArgumentException($"config file '{path}' is a directory, not a file");
        }

        return explicitPath is null ? null : throw new ArgumentException($"config file '{explicitPath}' does not exist");
    }

    public override void Load()
    {
        Dictionary<string, (string Value, long Line)> values;
        Reader? yaml = null;
        try
        {
            var text = ReadText(ReadBytes());
            if (OpenAtEnd(text) is { } open)
            {
                // Before the settings are read: a setting or section whose value is the bracket ("port: [" on the last
                // line) was refused as "must be a single value", and an empty file after it as "did not find expected
                // node content" on a line past the end, neither naming the bracket.
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"config file '{_path}' is not valid YAML: line {open.Start.Line}: the '{(open is Tokens.FlowMappingStart ? '{' : '[')}' opened here is never closed (the file ends inside it)"));
            }

            using var reader = new StringReader(text);
            yaml = new Reader(this, new Parser(reader));
            values = yaml.ReadStream();
        }
        catch (YamlException ex)
        {
            throw new ArgumentException($"config file '{_path}' is not valid YAML: line {ex.Start.Line}: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex) when (yaml?.OpenFlow is { } open)
        {
            // YamlDotNet's scanner fails so, not with a YamlException, on a [ or { left open before the next key:
            // the message was "Operation is not valid due to the current state of the object", naming neither file nor line.
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"config file '{_path}' is not valid YAML: line {open.Start.Line}: the '{(open is MappingStart ? '{' : '[')}' opened here is not closed"), ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"config file '{_path}' cannot be read: {ex.Message}", ex);
        }

        foreach (var (key, (value, _)) in values)
        {
            Data[GatewaySettings.Find(key)!.ConfigurationKey] = value;
        }
    }

    /// <summary>
    /// The innermost <c>[</c> or <c>{</c> still open where <paramref name="text"/> ends, or null: none is, or the text
    /// has another syntax error before its end, which the parser reports with its line. Read from the scanner's tokens,
    /// so a bracket inside a quoted value or a comment is not one.
    /// </summary>
    private static Tokens.Token? OpenAtEnd(string text)
    {
        var scanner = new Scanner(new StringReader(text), skipComments: true);
        var open = new Stack<Tokens.Token>();
        try
        {
            while (scanner.MoveNext())
            {
                switch (scanner.Current)
                {
                    case Tokens.FlowSequenceStart or Tokens.FlowMappingStart:
                        open.Push(scanner.Current);
                        break;
                    case Tokens.FlowSequenceEnd or Tokens.FlowMappingEnd when open.Count > 0:
                        open.Pop();
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException)
        {
            return null;
        }

        return open.Count > 0 ? open.Peek() : null;
    }

    private ArgumentException Problem(string problem) => new($"config file '{_path}': {problem}");

    /// <summary>
    /// The file's bytes, at most <see cref="MaxBytes"/>: read in a bounded loop, as a device (<c>--config /dev/zero</c>)
    /// has no length and never ends.
    /// </summary>
    private byte[] ReadBytes()
    {
        using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[MaxBytes + 1];
        var length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return length > MaxBytes
            ? throw new ArgumentException($"config file '{_path}' is larger than 1 MiB, more than any file of settings: check the path")
            : buffer[..length];
    }

    /// <summary>
    /// The file's text: UTF-8 (a byte order mark in front is skipped), or UTF-16/32 when such a mark says so. Bytes that
    /// are not UTF-8 are refused naming their line rather than read as U+FFFD: a Latin-1 <c>é</c> in a name would print
    /// as <c>�</c>, and two secrets that differ only in such a letter would be the same key.
    /// </summary>
    private string ReadText(byte[] bytes)
    {
        if (bytes is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] or [0, 0, 0xFE, 0xFF, ..])
        {
            using var reader = new StreamReader(new MemoryStream(bytes), detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }

        var utf8 = bytes.AsSpan(bytes is [0xEF, 0xBB, 0xBF, ..] ? 3 : 0);
        var text = new char[utf8.Length];
        if (Utf8.ToUtf16(utf8, text, out var read, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            var line = utf8[..read].Count((byte)'\n') + 1;
            throw Problem($"line {line}: byte 0x{utf8[read]:X2} is not UTF-8 text; save the file as UTF-8");
        }

        return new string(text, 0, written);
    }

    private ArgumentException Unknown(string key) =>
        Problem($"unknown setting '{key}' (known: {string.Join(", ", GatewaySettings.All.Select(s => s.Key))})");

    /// <summary>Whether <paramref name="key"/> is a section that settings' keys go on under (<c>server</c>, <c>usage</c>).</summary>
    private static bool IsSection(string key) => FirstSettingUnder(key) is not null;

    /// <summary>The key of the first setting under the section <paramref name="key"/>, or null when it is not a section.</summary>
    private static string? FirstSettingUnder(string key) =>
        GatewaySettings.All.FirstOrDefault(s => s.Key.Length > key.Length + 1 && s.Key[key.Length] == '.' && s.Key.StartsWith(key, StringComparison.OrdinalIgnoreCase))?.Key;

    private static long LineOf(ParsingEvent parsingEvent) => parsingEvent.Start.Line;

    /// <summary>
    /// Whether YAML reads the scalar as null (the core schema): nothing at all, <c>~</c> or <c>null</c> unquoted, or a
    /// value tagged <c>!!null</c>. A quoted <c>""</c> or <c>"~"</c> is that text.
    /// </summary>
    private static bool IsNull(Scalar scalar) =>
        scalar.Tag.IsEmpty
            ? scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null" or "Null" or "NULL"
            : scalar.Tag.Value == "tag:yaml.org,2002:null";

    /// <summary>One pass over the parser's events, collecting each setting once.</summary>
    private sealed class Reader(YamlSettingsFile file, IParser parser)
    {
        private readonly Dictionary<string, (string Value, long Line)> _values = new(StringComparer.OrdinalIgnoreCase);
        /// <summary>The refusal of a list item that is YAML's null.</summary>
        private const string NullItem = "has an item with no value: give one or remove it";

        /// <summary>Single values by anchor; null for a YAML null, which an alias to it stands for as well.</summary>
        private readonly Dictionary<string, string?> _anchoredValues = new(StringComparer.Ordinal);

        /// <summary>The flow collections (<c>{…}</c>, <c>[…]</c>) being read, innermost on top.</summary>
        private readonly Stack<ParsingEvent> _flows = new();

        /// <summary>The innermost flow collection being read when reading stopped, or null.</summary>
        public ParsingEvent? OpenFlow => _flows.Count == 0 ? null : _flows.Peek();

        public Dictionary<string, (string Value, long Line)> ReadStream()
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                return _values; // an empty file, or comments only
            }

            parser.Consume<DocumentStart>();
            var top = parser.Current!;
            if (top is MappingStart)
            {
                ReadMapping("");
            }
            else if (top is Scalar { Value.Length: 0, Style: ScalarStyle.Plain })
            {
                parser.MoveNext(); // "---" and nothing else
            }
            else
            {
                // A scalar ("server.port=8080"), a list: nothing of it would be read.
                throw file.Problem($"line {LineOf(top)}: the file must be a mapping of settings, e.g. 'server:' with 'port: 8080' indented under it");
            }

            parser.Consume<DocumentEnd>();
            if (!parser.Accept<StreamEnd>(out _))
            {
                throw file.Problem($"line {LineOf(parser.Current!)}: a second YAML document (after ---) would be ignored; put every setting in one");
            }

            return _values;
        }

        private void ReadMapping(string prefix)
        {
            var start = EnterFlow<MappingStart>(s => s.Style == MappingStyle.Flow);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (!parser.TryConsume<Scalar>(out var keyEvent))
                {
                    throw file.Problem($"line {LineOf(parser.Current!)}: a key must be a name such as server or port");
                }

                var key = prefix + keyEvent.Value;
                if (parser.TryConsume<Scalar>(out var value))
                {
                    Add(key, Anchored(value), LineOf(keyEvent));
                }
                else if (parser.TryConsume<AnchorAlias>(out var alias))
                {
                    // Only single values are kept by anchor: an alias to a mapping or a list would otherwise be taken for
                    // no value at all (a section "given a value", a setting "given a mapping").
                    Add(key, _anchoredValues.TryGetValue(alias.Value.Value, out var aliased) ? aliased : throw NotASingleValue(key, alias, LineOf(keyEvent)), LineOf(keyEvent));
                }
                else if (GatewaySettings.Find(key) is { CommaList: true } && parser.Accept<SequenceStart>(out _))
                {
                    Add(key, ReadList(key), LineOf(keyEvent));
                }
                else if (GatewaySettings.Find(key) is { } setting)
                {
                    var expected = setting.CommaList ? "a value or a list of values (- item lines, or [a, b])" : "a single value";
                    throw Refused(key, LineOf(keyEvent), "must be " + expected);
                }
                else if (IsSection(key) && parser.Accept<MappingStart>(out _))
                {
                    ReadMapping(key + ".");
                }
                else if (IsSection(key))
                {
                    throw NotASetting(key, LineOf(keyEvent));
                }
                else
                {
                    throw file.Unknown(key);
                }
            }

            LeaveFlow(start.Style == MappingStyle.Flow);
        }

        /// <summary>
        /// Consumes the start of a collection, counting a flow one as open before the parser moves past it: the scanner
        /// fails on the very next token when the bracket is left open after one item (<c>[RS256</c> and then a key).
        /// </summary>
        private T EnterFlow<T>(Func<T, bool> isFlow) where T : ParsingEvent
        {
            if (parser.Accept<T>(out var start) && isFlow(start))
            {
                _flows.Push(start);
            }

            return parser.Consume<T>();
        }

        private void LeaveFlow(bool flow)
        {
            if (flow)
            {
                _flows.Pop();
            }
        }

        /// <summary>A list setting given as a YAML sequence of single values: the same list as its comma-separated text.</summary>
        private string ReadList(string key)
        {
            var start = EnterFlow<SequenceStart>(s => s.Style == SequenceStyle.Flow);
            var items = new List<string>();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                var line = LineOf(parser.Current ?? start);
                if (parser.TryConsume<Scalar>(out var item))
                {
                    items.Add(Anchored(item) ?? throw Refused(key, line, NullItem));
                }
                else if (parser.TryConsume<AnchorAlias>(out var alias) && _anchoredValues.TryGetValue(alias.Value.Value, out var aliased))
                {
                    items.Add(aliased ?? throw Refused(key, line, NullItem));
                }
                else
                {
                    throw Refused(key, line, "must be a list of single values");
                }
            }

            LeaveFlow(start.Style == SequenceStyle.Flow);
            return string.Join(",", items);
        }

        /// <summary>The scalar's value, null for a YAML null; kept under its anchor, if it has one, for the aliases to it.</summary>
        private string? Anchored(Scalar scalar)
        {
            var value = IsNull(scalar) ? null : scalar.Value;
            if (!scalar.Anchor.IsEmpty)
            {
                _anchoredValues[scalar.Anchor.Value] = value;
            }

            return value;
        }

        /// <summary>
        /// A section (<c>server</c>) given a value or a list of its own at <paramref name="line"/>, as if it were a
        /// setting: the message shows where its settings go, with one of its own keys.
        /// </summary>
        private ArgumentException NotASetting(string key, long line)
        {
            var example = FirstSettingUnder(key)!;
            return file.Problem(string.Create(CultureInfo.InvariantCulture,
                $"line {line}: '{key}' is a section, not a setting: put its settings under it, e.g. '{key}:' with '{example[(key.Length + 1)..].Split('.')[0]}: …' indented under it"));
        }

        /// <summary>
        /// <paramref name="key"/> given an alias (<c>*name</c>) at <paramref name="line"/> to what is not a single value;
        /// a key that is neither a setting nor a section is refused as unknown first.
        /// </summary>
        private ArgumentException NotASingleValue(string key, AnchorAlias alias, long line) =>
            GatewaySettings.Find(key) is null && !IsSection(key) ? file.Unknown(key) : file.Problem(string.Create(CultureInfo.InvariantCulture,
                $"line {line}: '{key}' is given the alias *{alias.Value.Value}, which names no single value (an alias to a mapping or a list is not read): write out what it stands for"));

        /// <summary>A problem of the setting <paramref name="key"/> at <paramref name="line"/>.</summary>
        private ArgumentException Refused(string key, long line, string problem) =>
            file.Problem(string.Create(CultureInfo.InvariantCulture, $"line {line}: setting '{GatewaySettings.Find(key)!.Key}' {problem}"));

        private void Add(string key, string? value, long line)
        {
            if (GatewaySettings.Find(key) is not { } setting)
            {
                if (IsSection(key) && value is null)
                {
                    return; // a section with nothing under it (its settings commented out), also a YAML null: as if left out
                }

                throw IsSection(key) ? NotASetting(key, line) : file.Unknown(key);
            }

            if (value is null)
            {
                throw Refused(key, line, "has no value: give one or remove the line");
            }

            if (_values.TryGetValue(setting.Key, out var first))
            {
                throw file.Problem(string.Create(CultureInfo.InvariantCulture,
                    $"setting '{setting.Key}' is given twice (lines {first.Line} and {line}); keep one"));
            }

            _values[setting.Key] = (value, line);
        }
    }
}
