using ApiGate.Gateway.Hosting;
using YamlDotNet.RepresentationModel;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Cli.Settings;

/// <summary>
/// <c>apigate.yaml</c> as a configuration provider: the YAML mappings flattened into the settings' keys
/// (<c>server:\n  port: 8080</c> is <c>server:port</c>). A key that is not a setting is refused with the known ones, so a
/// typo does not pass silently.
/// </summary>
internal sealed class YamlSettingsFile : SettingsConfigurationProvider
{
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

        return explicitPath is null ? null : throw new ArgumentException($"config file '{explicitPath}' does not exist");
    }

    public override void Load()
    {
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(_path);
            yaml.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new ArgumentException($"config file '{_path}' is not valid YAML: {ex.Message}", ex);
        }

        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (yaml.Documents.Count > 0 && yaml.Documents[0].RootNode is YamlMappingNode root)
        {
            Flatten(root, "", values);
        }

        foreach (var (key, value) in values)
        {
            var setting = GatewaySettings.Find(key)
                ?? throw new ArgumentException($"config file '{_path}': unknown setting '{key}' (known: {string.Join(", ", GatewaySettings.All.Select(s => s.Key))})");
            Data[setting.ConfigurationKey] = value;
        }
    }

    private static void Flatten(YamlMappingNode node, string prefix, Dictionary<string, string?> values)
    {
        foreach (var (keyNode, valueNode) in node.Children)
        {
            var key = prefix + ((YamlScalarNode)keyNode).Value;
            switch (valueNode)
            {
                case YamlMappingNode child:
                    Flatten(child, key + ".", values);
                    break;
                case YamlScalarNode scalar:
                    values[key] = scalar.Value ?? "";
                    break;
                default:
                    throw new ArgumentException($"config file: setting '{key}' must be a single value");
            }
        }
    }
}
