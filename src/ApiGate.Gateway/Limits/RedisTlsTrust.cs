using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// How the gateway checks a <c>rediss://</c> server's certificate. Without <c>APIGATE_REDIS_CA_FILE</c>: the
/// operating system's trusted roots, as any TLS client. With it: the chain must end at one of the file's certificates
/// (<see cref="X509ChainTrustMode.CustomRootTrust"/>, the system roots are not consulted). Either way the host name of
/// the URL must match the certificate; validation is never switched off. The last refusal is kept so that a failed
/// start can say why (<see cref="LastFailure"/>).
/// </summary>
internal sealed class RedisTlsTrust
{
    private readonly X509Certificate2Collection? _roots;
    private string? _lastFailure;

    private RedisTlsTrust(X509Certificate2Collection? roots) => _roots = roots;

    /// <summary>Why the last certificate was refused (no secret in it), or null when none was.</summary>
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>The system roots (<paramref name="caFile"/> empty) or the certificates of a PEM file.</summary>
    /// <exception cref="InvalidOperationException">The file cannot be read or holds no certificate (see <see cref="Validate"/>).</exception>
    public static RedisTlsTrust Create(string caFile) =>
        caFile.Length == 0 ? new RedisTlsTrust(null) : new RedisTlsTrust(Load(caFile, out var problem) ?? throw new InvalidOperationException(problem));

    /// <summary>Null when <paramref name="caFile"/> is a readable PEM file with at least one certificate, else why not.</summary>
    public static string? Validate(string caFile)
    {
        Load(caFile, out var problem);
        return problem;
    }

    /// <summary>The callback given to the Redis client (<c>ConfigurationOptions.CertificateValidation</c>).</summary>
    public bool Check(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return Refuse("the server sent no certificate");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return Refuse("the certificate does not name this host");
        }

        if (_roots is null)
        {
            return errors == SslPolicyErrors.None || Refuse("the certificate was not trusted (its chain does not end at a trusted root; set APIGATE_REDIS_CA_FILE for a private CA)");
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate); // intermediates the server sent
            }
        }

        using var leaf = new X509Certificate2(certificate);
        return custom.Build(leaf) || Refuse("the certificate was not trusted (its chain does not end at a certificate of APIGATE_REDIS_CA_FILE)");
    }

    private bool Refuse(string why)
    {
        Volatile.Write(ref _lastFailure, why);
        return false;
    }

    private static X509Certificate2Collection? Load(string caFile, out string? problem)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(caFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            problem = $"cannot read CA file '{caFile}': {ex.Message.ReplaceLineEndings(" ")}";
            return null;
        }

        problem = roots.Count == 0 ? $"CA file '{caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)" : null;
        return problem is null ? roots : null;
    }
}
