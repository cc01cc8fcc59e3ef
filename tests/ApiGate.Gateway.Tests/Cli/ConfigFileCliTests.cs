using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// <c>apigate.yaml</c> as an operator gets it wrong: a file that is not a mapping, a setting twice, a second document,
/// aliases and nesting that used to overflow the stack (the process died, with no message and exit code 134).
/// </summary>
public sealed class ConfigFileCliTests : CliTestBase
{
    [Fact]
    public async Task ConfigShow_AliasInsideTheMappingItNames_RefusedAsAnUnknownSettingWithoutOverflowingTheStack()
    {
        // Arrange: 'x' is the mapping 'server' itself; flattening it followed the alias for ever.
        var file = await WriteAsync("server: &a\n  port: 1\n  x: *a\n");

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: config file '{file}': unknown setting 'server.x' (known: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigShow_MappingsNestedTwentyThousandDeep_RefusedAtTheFirstKeyThatIsNoSetting()
    {
        // Arrange: YamlDotNet's node tree is built recursively; this depth overflowed the stack while loading.
        const int depth = 20_000;
        var file = await WriteAsync("a: " + string.Concat(Enumerable.Repeat("{a: ", depth)) + "1" + new string('}', depth) + "\n");

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: config file '{file}': unknown setting 'a' (known: ", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("server.port: 1\nserver:\n  port: 2\n", 1, 3)] // the flat spelling and the nested one
    [InlineData("server:\n  port: 1\nSERVER:\n  PORT: 2\n", 2, 4)] // keys are matched in any case
    [InlineData("server:\n  port: 1\n  PORT: 2\n", 2, 3)]
    public async Task ConfigShow_SettingGivenTwice_RefusedNamingBothLines(string yaml, int first, int second)
    {
        // Arrange: the last one used to win without a word.
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}': setting 'server.port' is given twice (lines {first} and {second}); keep one\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("server.port=9000\n", "line 1: the file must be a mapping of settings, e.g. 'server:' with 'port: 8080' indented under it")] // an .env habit: one scalar
    [InlineData("- server.port: 9000\n", "line 1: the file must be a mapping of settings, e.g. 'server:' with 'port: 8080' indented under it")] // a list
    [InlineData("server:\n  port: 9001\n---\nratelimit:\n  burst: 9\n", "line 3: a second YAML document (after ---) would be ignored; put every setting in one")]
    [InlineData("? [a, b]\n: 1\n", "line 1: a key must be a name such as server or port")] // cast to a scalar before: InvalidCastException, unhandled
    public async Task ConfigShow_FileNotReadAsSettings_OneLineNamingFileAndLineInsteadOfIgnoredOrAStackTrace(string yaml, string problem)
    {
        // Arrange
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}': {problem}\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConfigShow_CommentsOnlyAndAliasedValue_AreReadAsBefore()
    {
        // Arrange: an empty document is no settings; an alias to a single value is that value.
        var empty = await WriteAsync("# nothing set yet\n---\n", "empty.yaml");
        var aliased = await WriteAsync("server:\n  port: &p 9002\n  h2c_port: 9003\nratelimit:\n  burst: *p\nlog: {level: debug}\n", "aliased.yaml");

        // Act
        var fromEmpty = await RunAsync("config", "show", "--json", "--config", empty);
        var fromAliased = await RunAsync("config", "show", "--json", "--config", aliased);

        // Assert
        Assert.Equal(0, fromEmpty.ExitCode);
        Assert.Equal("default", Setting(fromEmpty, "server.port").Source);
        Assert.Equal(0, fromAliased.ExitCode);
        Assert.Equal(("9002", "file"), Setting(fromAliased, "server.port"));
        Assert.Equal(("9002", "file"), Setting(fromAliased, "ratelimit.burst"));
        Assert.Equal(("debug", "file"), Setting(fromAliased, "log.level"));
    }

    [Theory]
    [InlineData("server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - ::1\n", "server.trusted_proxies", "10.0.0.0/8,::1")]
    [InlineData("jwt:\n  issuer: https://login.example.com\n  audience: orders-api\n  algorithms: [RS256, ES256]\n", "jwt.algorithms", "RS256,ES256")]
    [InlineData("transform.env_allow:\n- REGION\n- &z ZONE\n- *z\n", "transform.env_allow", "REGION,ZONE,ZONE")]
    [InlineData("transform:\n  env_allow: []\n", "transform.env_allow", "")]
    public async Task ConfigShow_CommaSeparatedSettingAsAYamlList_ReadAsTheSameList(string yaml, string key, string expected)
    {
        // Arrange
        var file = await WriteAsync(yaml);

        // Act
        var shown = await RunAsync("config", "show", "--json", "--config", file);
        var validate = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Equal((expected, "file"), Setting(shown, key));
        Assert.True(validate.ExitCode == 0, validate.Error);
    }

    [Theory]
    [InlineData("server:\n  port: 1\n  host:\n    name: localhost\n", "line 3: setting 'server.host' must be a single value")]
    [InlineData("server:\n  port:\n    - 8080\n", "line 2: setting 'server.port' must be a single value")]
    [InlineData("jwt:\n  algorithms: {RS256: yes}\n", "line 2: setting 'jwt.algorithms' must be a value or a list of values (- item lines, or [a, b])")]
    [InlineData("server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - [::1]\n", "line 4: setting 'server.trusted_proxies' must be a list of single values")]
    public async Task ConfigShow_SettingThatIsNotAValue_RefusedNamingTheLine(string yaml, string problem)
    {
        // Arrange
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "show", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}': {problem}\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("server:\n  port: ~\n", 2, "server.port")] // a whole number
    [InlineData("server:\n  port: null\n", 2, "server.port")]
    [InlineData("server:\n  host: 127.0.0.1\n  port:\n", 3, "server.port")] // nothing after the colon
    [InlineData("upstream:\n  timeout: NULL\n", 2, "upstream.timeout")] // a duration
    [InlineData("metrics.enabled: ~\n", 1, "metrics.enabled")] // true/false
    [InlineData("tls:\n  cert_file: !!null\n", 2, "tls.cert_file")] // text, tagged null
    [InlineData("jwt:\n  issuer:\n  audience: orders-api\n", 2, "jwt.issuer")] // text
    [InlineData("ratelimit:\n  burst: &none ~\n", 2, "ratelimit.burst")] // anchored
    [InlineData("log:\n  level: &none ~\n", 2, "log.level")]
    public async Task ServeAndConfigValidate_SettingWithAYamlNullValue_BothRefuseNamingTheFileLineAndSetting(string yaml, int line, string key)
    {
        // Arrange: ('~' was read as the text "~": "'~' is not a whole number", or a certificate file named ~)
        var file = await WriteAsync(yaml);
        var database = Path.Combine(TestDirectory, "never.db");
        Environment["APIGATE_DATABASE_DSN"] = database;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        // and a value serve refuses once every value parses: a file read without a word stops serve there, not serving
        Environment["APIGATE_SERVER_SHUTDOWN_TIMEOUT"] = "500ms";

        // Act
        var validate = await RunAsync("config", "validate", "--config", file);
        var serve = await RunAsync("serve", "--port", "0", "--config", file);

        // Assert
        var expected = $"error: config file '{file}': line {line}: setting '{key}' has no value: give one or remove the line\n";
        Assert.Equal(2, validate.ExitCode);
        Assert.Equal(expected, validate.Error.ReplaceLineEndings("\n"));
        Assert.Equal(2, serve.ExitCode);
        Assert.Equal(expected, serve.Error.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(database));
    }

    [Theory]
    [InlineData("jwt:\n  algorithms: [RS256, ~]\n", 2, "jwt.algorithms")]
    [InlineData("server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    -\n", 4, "server.trusted_proxies")]
    public async Task ConfigValidate_ListSettingWithANullItem_RefusedNamingTheLine(string yaml, int line, string key)
    {
        // Arrange
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}': line {line}: setting '{key}' has an item with no value: give one or remove it\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("server:\n  # port: 9090\ndatabase:\n  busy_timeout: 5s\n")] // its settings commented out
    [InlineData("server: ~\ndatabase:\n  busy_timeout: 5s\n")]
    public async Task ConfigShow_SectionWithNothingUnderIt_SetsNothingAndTheRestIsRead(string yaml)
    {
        // Arrange: YAML reads such a section as null, as it does a setting with no value; it was refused as an unknown setting
        var file = await WriteAsync(yaml);

        // Act
        var shown = await RunAsync("config", "show", "--json", "--config", file);

        // Assert
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Equal(("8080", "default"), Setting(shown, "server.port"));
        Assert.Equal(("5s", "file"), Setting(shown, "database.busy_timeout"));
    }

    [Theory]
    [InlineData("server: 8080\n", 1, "server", "host")] // the port meant, the section's name written
    [InlineData("log:\n  level: info\ndatabase: /var/lib/apigate.db\n", 3, "database", "driver")]
    [InlineData("server:\n  - 8080\n", 1, "server", "host")] // a list in place of the section
    public async Task ConfigValidate_SectionGivenAValue_RefusedNamingTheLineAndWhereItsSettingsGo(string yaml, int line, string section, string example)
    {
        // Arrange: it was refused as an unknown setting, with every known key and no line
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"error: config file '{file}': line {line}: '{section}' is a section, not a setting: put its settings under it, e.g. '{section}:' with '{example}: …' indented under it\n",
            result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("server: &m\n  port: 8080\nupstream: *m\n", 3, "upstream", "m")] // a section given a mapping's alias
    [InlineData("transform:\n  env_allow: &l [HOME]\njwt:\n  algorithms: *l\n", 4, "jwt.algorithms", "l")] // a list setting given a list's
    public async Task ConfigValidate_AliasToAMappingOrAList_RefusedNamingTheLineAndTheAlias(string yaml, int line, string key, string alias)
    {
        // Arrange: the alias was taken for no value at all: a section was said to be given a value, a list setting to be
        // given neither a value nor a list
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"error: config file '{file}': line {line}: '{key}' is given the alias *{alias}, which names no single value (an alias to a mapping or a list is not read): write out what it stands for\n",
            result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConfigShow_QuotedEmptyAndQuotedTilde_AreThatText()
    {
        // Arrange: only an unquoted ~, null or nothing is YAML's null
        var file = await WriteAsync("portal:\n  app_name: \"~\"\njwt:\n  issuer: ''\n");

        // Act
        var shown = await RunAsync("config", "show", "--json", "--config", file);

        // Assert
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Equal(("~", "file"), Setting(shown, "portal.app_name"));
        Assert.Equal(("", "file"), Setting(shown, "jwt.issuer"));
    }

    [Fact]
    public async Task ConfigValidate_FileSavedAsLatin1_RefusedNamingTheLineAndTheByteInsteadOfReadAsReplacementCharacters()
    {
        // Arrange: 'é' in Latin-1 is the single byte 0xE9, which used to be read as U+FFFD ('Caf�')
        var file = Path.Combine(TestDirectory, "latin1.yaml");
        await File.WriteAllBytesAsync(file, System.Text.Encoding.Latin1.GetBytes("server:\n  host: 127.0.0.1\nportal:\n  app_name: Café\n"));

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}': line 4: byte 0xE9 is not UTF-8 text; save the file as UTF-8\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("utf-8-bom")]
    [InlineData("utf-16")]
    public async Task ConfigShow_FileInUtf8WithAByteOrderMarkOrInUtf16_IsRead(string encoding)
    {
        // Arrange
        var file = Path.Combine(TestDirectory, encoding + ".yaml");
        var text = "portal:\n  app_name: Café\n";
        await File.WriteAllTextAsync(file, text, encoding == "utf-16" ? System.Text.Encoding.Unicode : new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));

        // Act
        var shown = await RunAsync("config", "show", "--json", "--config", file);

        // Assert
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Equal(("Café", "file"), Setting(shown, "portal.app_name"));
    }

    [Theory]
    [InlineData("jwt:\n  algorithms: [RS256, ES256\nserver:\n  port: 1\n", "line 2: the '[' opened here is not closed")]
    [InlineData("server: {port: 1\nx: 2\n", "line 1: the '{' opened here is not closed")]
    [InlineData("jwt:\n  algorithms: [RS256\nserver:\n  port: 1\n", "line 2: the '[' opened here is not closed")]
    [InlineData("server: {port\nx: 2\n", "line 1: the '{' opened here is not closed")]
    [InlineData("server:\n  port: 1\n  host: \"abc\n", "line 3: While scanning a quoted scalar, found unexpected end of stream.")]
    public async Task ConfigValidate_FileThatIsNotValidYaml_RefusedNamingTheFileAndTheLine(string yaml, string problem)
    {
        // Arrange: a bracket left open used to end in "error: Operation is not valid due to the current state of the
        // object." (exit 1), also when only one item or key came before the next line, and other syntax errors named no line
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}' is not valid YAML: {problem}\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    // A setting's value is the bracket, empty, on the last line: was "setting 'server.port' must be a single value"
    [InlineData("server:\n  port: [\n", "line 2: the '[' opened here is never closed (the file ends inside it)")]
    [InlineData("server:\n  port: {\n", "line 2: the '{' opened here is never closed (the file ends inside it)")]
    [InlineData("server: {port: 1, host: [\n", "line 1: the '[' opened here is never closed (the file ends inside it)")]
    // A list or section left open after an item, or with nothing in it: was "did not find expected node content" on a line past the end
    [InlineData("server:\n  port: 8080\njwt:\n  algorithms: [\n", "line 4: the '[' opened here is never closed (the file ends inside it)")]
    [InlineData("jwt:\n  algorithms: [RS256,", "line 2: the '[' opened here is never closed (the file ends inside it)")]
    [InlineData("server: {port: 1,\n", "line 1: the '{' opened here is never closed (the file ends inside it)")]
    [InlineData("server: {\n", "line 1: the '{' opened here is never closed (the file ends inside it)")]
    // Not a setting, or not a mapping: the bracket, the file's first problem, is named before the key or the top
    [InlineData("routes: [\n", "line 1: the '[' opened here is never closed (the file ends inside it)")]
    [InlineData("x: {a: 1,\n", "line 1: the '{' opened here is never closed (the file ends inside it)")]
    [InlineData("[\n", "line 1: the '[' opened here is never closed (the file ends inside it)")]
    [InlineData("{\n", "line 1: the '{' opened here is never closed (the file ends inside it)")]
    public async Task ConfigValidate_FileEndingInsideAnOpenBracket_RefusedNamingTheLineTheBracketOpened(string yaml, string problem)
    {
        // Arrange
        var file = await WriteAsync(yaml);

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}' is not valid YAML: {problem}\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConfigShow_BracketsInQuotedValuesAndComments_NotTakenForOpenOnes()
    {
        // Arrange: a quoted '[' or '{' is text, and one after '#' is a comment; neither opens anything
        var file = await WriteAsync("portal:\n  app_name: \"Gate [beta {\" # [ {\njwt:\n  algorithms: [RS256, ES256] # {\n");

        // Act
        var shown = await RunAsync("config", "show", "--json", "--config", file);

        // Assert
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Equal(("Gate [beta {", "file"), Setting(shown, "portal.app_name"));
        Assert.Equal(("RS256,ES256", "file"), Setting(shown, "jwt.algorithms"));
    }

    [Fact]
    public async Task ConfigValidate_NumberWithANulEscape_RefusedAsNotAWholeNumberRatherThanReadWithoutIt()
    {
        // Arrange: YAML's "\0" is a NUL, which long.TryParse took for the end of the text: the port was 8080
        var file = await WriteAsync("server:\n  port: \"8080\\0\"\n");

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: server.port (from the config file): '8080\\x00' is not a whole number\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConfigValidate_FileLargerThanOneMebibyteOrEndless_RefusedWithoutReadingItAll(bool device)
    {
        // Arrange: a file just over 1 MiB of comments, or a device that never ends (read whole, it ran out of memory)
        var file = device ? "/dev/zero" : Path.Combine(TestDirectory, "huge.yaml");
        if (!device)
        {
            await File.WriteAllTextAsync(file, "server:\n  port: 9000\n" + new string('#', 1024 * 1024) + "\n");
        }

        // Act
        var result = await RunAsync("config", "validate", "--config", file);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{file}' is larger than 1 MiB, more than any file of settings: check the path\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConfigValidate_ConfigPathIsADirectory_RefusedSayingSoRatherThanThatItDoesNotExist()
    {
        // Arrange
        var directory = Path.Combine(TestDirectory, "conf.d");
        Directory.CreateDirectory(directory);

        // Act
        var result = await RunAsync("config", "validate", "--config", directory);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: config file '{directory}' is a directory, not a file\n", result.Error.ReplaceLineEndings("\n"));
    }

    private async Task<string> WriteAsync(string yaml, string name = "apigate.yaml")
    {
        var file = Path.Combine(TestDirectory, name);
        await File.WriteAllTextAsync(file, yaml);
        return file;
    }

    private static (string Value, string Source) Setting(CliResult result, string key) =>
        ConfigShow.Setting(JsonDocument.Parse(result.Output).RootElement, key);
}
