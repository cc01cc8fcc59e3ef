namespace ApiGate.Gateway.Tls;

/// <summary>A certificate or key that cannot be used; <see cref="Setting"/> is the dotted key of the setting to fix.</summary>
internal sealed class TlsConfigurationException(string setting, string message) : Exception(message)
{
    /// <summary>The dotted key (<c>tls.key_file</c>).</summary>
    public string Setting { get; } = setting;
}
