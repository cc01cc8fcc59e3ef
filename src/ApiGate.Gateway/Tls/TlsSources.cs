using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// Where the certificates come from: a certificate + key pair (<c>APIGATE_TLS_CERT_FILE</c>,
/// <c>APIGATE_TLS_KEY_FILE</c>), a directory of them for SNI (<c>APIGATE_TLS_CERT_DIR</c>), or both (the pair is then
/// the default certificate). Empty strings mean not set.
/// </summary>
internal sealed record TlsSources(string CertFile, string KeyFile, string CertDir)
{
    public const string CertFileKey = "tls.cert_file";
    public const string KeyFileKey = "tls.key_file";
    public const string CertDirKey = "tls.cert_dir";

    /// <summary>True when TLS is on (a certificate file or directory is set).</summary>
    public bool Enabled => CertFile.Length > 0 || CertDir.Length > 0;

    /// <summary>The sources of <paramref name="options"/>, or null when TLS is off.</summary>
    public static TlsSources? From(GatewayOptions options)
    {
        var sources = new TlsSources(options.TlsCertFile, options.TlsKeyFile, options.TlsCertDir);
        return sources.Enabled || sources.KeyFile.Length > 0 ? sources : null;
    }
}
