using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// Reads PEM certificates and keys from the configured files into a <see cref="TlsCertificateSet"/>. Every failure is a
/// <see cref="TlsConfigurationException"/> naming the setting and the file: unreadable, no certificate in it, no or an
/// encrypted private key, a key that does not belong to the certificate.
/// <para>
/// Directory layout (<c>APIGATE_TLS_CERT_DIR</c>), read in ordinal name order: <c>NAME.crt</c> + <c>NAME.key</c>;
/// <c>NAME.pem</c> + <c>NAME.key</c>; <c>NAME.pem</c> holding certificate and key; a subdirectory <c>NAME/</c> holding
/// <c>fullchain.pem</c> + <c>privkey.pem</c> (certbot's <c>live/</c> layout). The names a certificate serves come from
/// the certificate itself, not from NAME. The default certificate is the cert/key file pair when set, else the entry
/// named <c>default</c>, else the first entry.
/// </para>
/// </summary>
internal static class TlsCertificateLoader
{
    private const string CertbotChain = "fullchain.pem";
    private const string CertbotKey = "privkey.pem";

    private const string BinaryHint =
        "openssl pkcs12 -in FILE.pfx -nokeys -out cert.pem and openssl pkcs12 -in FILE.pfx -nocerts -nodes -out key.pem (DER: openssl x509 -inform der)";

    /// <summary>Loads every certificate; <paramref name="warnings"/> gets one line per certificate that is expired, not yet valid or expires within 14 days.</summary>
    /// <exception cref="TlsConfigurationException">A file cannot be used.</exception>
    public static TlsCertificateSet Load(TlsSources sources, DateTimeOffset now, List<string> warnings)
    {
        if (sources.CertFile.Length > 0 && sources.KeyFile.Length == 0)
        {
            throw new TlsConfigurationException(TlsSources.KeyFileKey, $"is not set; {TlsSources.CertFileKey} needs the private key that belongs to it");
        }

        if (sources.KeyFile.Length > 0 && sources.CertFile.Length == 0)
        {
            throw new TlsConfigurationException(TlsSources.CertFileKey, $"is not set; {TlsSources.KeyFileKey} is only used with it");
        }

        var all = new List<TlsCertificate>();
        TlsCertificate? fallback = null;
        if (sources.CertFile.Length > 0)
        {
            fallback = LoadPair(sources.CertFile, sources.KeyFile, TlsSources.CertFileKey, TlsSources.KeyFileKey, sources.CertFile);
            all.Add(fallback);
        }

        if (sources.CertDir.Length > 0)
        {
            foreach (var (name, certPath, keyPath) in DirectoryEntries(sources.CertDir))
            {
                var certificate = LoadPair(certPath, keyPath, TlsSources.CertDirKey, TlsSources.CertDirKey, name);
                all.Add(certificate);
                if (fallback is null && name.Equals("default", StringComparison.OrdinalIgnoreCase))
                {
                    fallback = certificate;
                }
            }

            if (all.Count == 0)
            {
                throw new TlsConfigurationException(TlsSources.CertDirKey,
                    $"'{sources.CertDir}' holds no certificate (NAME.crt + NAME.key, NAME.pem, or NAME/fullchain.pem + NAME/privkey.pem)");
            }
        }

        Warnings(all, now, warnings);
        return new TlsCertificateSet(fallback ?? all[0], all);
    }

    /// <summary>Adds one line per certificate that is expired, not yet valid or expires within 14 days at <paramref name="now"/>.</summary>
    public static void Warnings(IReadOnlyList<TlsCertificate> certificates, DateTimeOffset now, List<string> warnings)
    {
        foreach (var certificate in certificates)
        {
            if (Warning(certificate, now) is { } warning)
            {
                warnings.Add(warning);
            }
        }
    }

    /// <summary>
    /// A digest of every file <see cref="Load"/> would read (names and contents, through symbolic links), so a reload
    /// happens only when something changed. Unreadable files count as their error, which also differs from any content.
    /// </summary>
    public static string Fingerprint(TlsSources sources)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string path)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(path + "\n"));
            try
            {
                hash.AppendData(File.ReadAllBytes(path));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                hash.AppendData(Encoding.UTF8.GetBytes("unreadable: " + ex.GetType().Name));
            }
        }

        if (sources.CertFile.Length > 0)
        {
            Add(sources.CertFile);
            Add(sources.KeyFile);
        }

        if (sources.CertDir.Length > 0)
        {
            try
            {
                foreach (var (_, certPath, keyPath) in DirectoryEntries(sources.CertDir))
                {
                    Add(certPath);
                    Add(keyPath);
                }
            }
            catch (TlsConfigurationException ex)
            {
                hash.AppendData(Encoding.UTF8.GetBytes(ex.Message));
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>The certificate/key pairs of a directory, by entry name in ordinal order.</summary>
    private static List<(string Name, string CertPath, string KeyPath)> DirectoryEntries(string directory)
    {
        string[] files;
        string[] subdirectories;
        try
        {
            files = Directory.GetFiles(directory);
            subdirectories = Directory.GetDirectories(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var reason = ex switch
            {
                // The runtime says "could not find a part of the path" for a file too, though the file is there.
                DirectoryNotFoundException when File.Exists(directory) =>
                    $"it is a file; name the directory that holds the certificates, or set {TlsSources.CertFileKey} and {TlsSources.KeyFileKey} to a single pair",
                DirectoryNotFoundException => "no such directory",
                UnauthorizedAccessException => "permission denied",
                _ => ex.Message,
            };
            throw new TlsConfigurationException(TlsSources.CertDirKey, $"cannot read the directory '{directory}': {reason}");
        }

        if (File.Exists(Path.Combine(directory, CertbotChain)) && File.Exists(Path.Combine(directory, CertbotKey)))
        {
            // certbot's folder of one certificate (live/NAME: cert.pem, chain.pem, fullchain.pem, privkey.pem) read as a
            // directory of NAME.pem entries failed on its cert.pem, "holds no PEM private key", which says nothing of the fix.
            throw new TlsConfigurationException(TlsSources.CertDirKey,
                $"'{directory}' is the folder of one certificate in certbot's layout ({CertbotChain} + {CertbotKey}); set {TlsSources.CertDirKey} to the "
                + $"folder that holds such folders ('{Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(directory))}'), or {TlsSources.CertFileKey} and {TlsSources.KeyFileKey} to those two files");
        }

        var entries = new List<(string Name, string CertPath, string KeyPath)>();
        foreach (var file in files)
        {
            var extension = Path.GetExtension(file);
            var name = Path.GetFileNameWithoutExtension(file);
            var key = Path.ChangeExtension(file, ".key");
            if (extension.Equals(".crt", StringComparison.OrdinalIgnoreCase))
            {
                entries.Add(File.Exists(key)
                    ? (name, file, key)
                    : throw new TlsConfigurationException(TlsSources.CertDirKey, $"'{file}' has no private key next to it ({Path.GetFileName(key)})"));
            }
            else if (extension.Equals(".pem", StringComparison.OrdinalIgnoreCase))
            {
                entries.Add((name, file, File.Exists(key) ? key : file));
            }
        }

        foreach (var subdirectory in subdirectories)
        {
            var chain = Path.Combine(subdirectory, CertbotChain);
            var key = Path.Combine(subdirectory, CertbotKey);
            if (File.Exists(chain) || File.Exists(key))
            {
                entries.Add((Path.GetFileName(subdirectory), chain, key));
            }
        }

        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return entries;
    }

    private static TlsCertificate LoadPair(string certPath, string keyPath, string certSetting, string keySetting, string source)
    {
        var certText = Read(certPath, certSetting, "certificate");
        var keyText = certPath == keyPath ? certText : Read(keyPath, keySetting, "private key");
        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPem(certText);
        }
        catch (CryptographicException ex)
        {
            throw new TlsConfigurationException(certSetting, $"'{certPath}' is not a valid PEM certificate: {ex.Message}");
        }

        if (chain.Count == 0)
        {
            throw new TlsConfigurationException(certSetting, IsBinary(certText)
                ? $"'{certPath}' is a binary file (DER, or PKCS#12 .pfx/.p12), not PEM; convert it: {BinaryHint}"
                : $"'{certPath}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        if (UnservableKey(chain[0]) is { } unservable)
        {
            // Said before the key is matched: the runtime cannot pair such a key with its certificate at all, which read as
            // "the private key does not belong to the certificate" (Ed25519, RSA-PSS), or as an unhandled exception that
            // stopped the gateway when the files were rotated to it (DSA); a key too short passed every check, and then
            // every handshake failed with a "protocol version" alert and nothing in the log.
            throw new TlsConfigurationException(certSetting, $"the certificate in '{certPath}' {unservable}");
        }

        if (!HasLabel(keyText, "PRIVATE KEY") && !HasLabel(keyText, "RSA PRIVATE KEY") && !HasLabel(keyText, "EC PRIVATE KEY"))
        {
            throw new TlsConfigurationException(keySetting, IsEncrypted(keyText)
                ? $"'{keyPath}' holds an encrypted private key; give the key unencrypted (readable by the gateway's user only)"
                : IsBinary(keyText) ? $"'{keyPath}' is a binary file (DER, or PKCS#12 .pfx/.p12), not PEM; convert it: {BinaryHint}"
                : $"'{keyPath}' holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
        }

        X509Certificate2 leaf;
        try
        {
            // The first certificate of the file is the leaf; the rest are sent as its intermediates.
            leaf = X509Certificate2.CreateFromPem(certText, keyText);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // ArgumentException: the key parsed but is not the certificate's (thrown by CopyWithPrivateKey).
            throw KeyMismatch(chain, keyText, certPath, keyPath, certSetting, keySetting);
        }

        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        try
        {
            return new TlsCertificate(source, leaf, intermediates, HostNames(leaf), keyPath);
        }
        catch (Exception ex) when (ex is CryptographicException or NotSupportedException)
        {
            throw new TlsConfigurationException(certSetting, $"the certificate in '{certPath}' cannot be served: {ex.Message}");
        }
    }

    /// <summary>
    /// Why the certificate's key cannot be served (the rest of a sentence about the certificate), or null when it can: the
    /// gateway serves RSA and ECDSA keys (as documented), of the sizes the system's TLS library accepts at its default
    /// security level (OpenSSL's level 2: RSA from 2048 bits, elliptic curves from 224).
    /// </summary>
    private static string? UnservableKey(X509Certificate2 certificate)
    {
        var oid = certificate.PublicKey.Oid;
        var type = oid.Value switch
        {
            RsaOid or EcOid => null,
            "1.2.840.10040.4.1" => "DSA",
            "1.2.840.113549.1.1.10" => "RSA-PSS",
            "1.3.101.112" => "Ed25519",
            "1.3.101.113" => "Ed448",
            _ => oid.FriendlyName is { Length: > 0 } name ? $"{name} ({oid.Value})" : $"OID {oid.Value}",
        };
        if (type is not null)
        {
            return $"has a key of type {type}, which the gateway cannot serve; use an RSA or ECDSA certificate and key";
        }

        var (algorithm, bits, minimum) = oid.Value == RsaOid
            ? ("RSA", KeySize(certificate.GetRSAPublicKey), MinRsaBits)
            : ("ECDSA", KeySize(certificate.GetECDsaPublicKey), MinEcBits);
        return bits is { } size && size < minimum
            ? $"has a {size}-bit {algorithm} key, which TLS libraries refuse as too weak (every handshake would fail); use a key of at least {minimum} bits"
            : null;
    }

    /// <summary>The public key's size in bits; null when the runtime cannot read it (the pairing with the key then says why).</summary>
    private static int? KeySize(Func<AsymmetricAlgorithm?> publicKey)
    {
        try
        {
            using var key = publicKey();
            return key?.KeySize;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";
    private const int MinRsaBits = 2048;
    private const int MinEcBits = 224;

    /// <summary>
    /// The key is not the first certificate's. When it is another one's of the file, the file is in the wrong order
    /// (intermediates first, as some CAs send them): that is what the operator must fix, not the key.
    /// </summary>
    private static TlsConfigurationException KeyMismatch(
        X509Certificate2Collection chain, string keyText, string certPath, string keyPath, string certSetting, string keySetting)
    {
        for (var i = 1; i < chain.Count; i++)
        {
            try
            {
                using var matching = X509Certificate2.CreateFromPem(chain[i].ExportCertificatePem(), keyText);
                return new TlsConfigurationException(certSetting,
                    $"'{certPath}' does not start with the server's certificate: the private key in '{keyPath}' belongs to certificate {i + 1} of {chain.Count} ({chain[i].Subject}); put that one first, then its intermediates");
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                // not this certificate's key either
            }
        }

        return new TlsConfigurationException(keySetting, $"the private key in '{keyPath}' does not belong to the certificate in '{certPath}'");
    }

    /// <summary>
    /// An encrypted key in PKCS#8 form, or in OpenSSL's traditional form (<c>openssl genrsa -aes256</c>: a
    /// <c>Proc-Type: 4,ENCRYPTED</c> header inside the block, which the PEM reader does not take for a key at all).
    /// </summary>
    private static bool IsEncrypted(string keyText) =>
        HasLabel(keyText, "ENCRYPTED PRIVATE KEY") || keyText.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal);

    /// <summary>
    /// True for a file that is not text (DER and PKCS#12 start with an ASN.1 sequence whose length bytes read as NUL or
    /// as bytes that are not UTF-8), said so rather than that no PEM block was found in it.
    /// </summary>
    private static bool IsBinary(string text) => text.Contains('\0', StringComparison.Ordinal) || text.Contains('\uFFFD', StringComparison.Ordinal);

    private static string Read(string path, string setting, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var reason = ex switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                // Reading a directory fails as access denied; said so, it sent operators changing permissions.
                UnauthorizedAccessException when Directory.Exists(path) => $"it is a directory; name the {what} file in it",
                UnauthorizedAccessException => "permission denied",
                _ => ex.Message,
            };
            throw new TlsConfigurationException(setting, $"cannot read the {what} file '{path}': {reason}");
        }
    }

    private static bool HasLabel(string text, string label)
    {
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual(label))
            {
                return true;
            }

            rest = rest[fields.Location.End..];
        }

        return false;
    }

    private static List<string> HostNames(X509Certificate2 leaf)
    {
        var names = new List<string>();
        foreach (var extension in leaf.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
            }
        }

        if (names.Count == 0 && leaf.GetNameInfo(X509NameType.DnsName, forIssuer: false) is { Length: > 0 } commonName)
        {
            names.Add(commonName);
        }

        return names;
    }

    private static string? Warning(TlsCertificate certificate, DateTimeOffset now)
    {
        var leaf = certificate.Leaf;
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        return notAfter <= now ? $"the certificate from {certificate.Source} ({leaf.Subject}) expired at {notAfter:u}; clients will refuse it"
            : notBefore > now ? $"the certificate from {certificate.Source} ({leaf.Subject}) is not valid before {notBefore:u}; clients will refuse it until then"
            : notAfter - now < TimeSpan.FromDays(14) ? $"the certificate from {certificate.Source} ({leaf.Subject}) expires at {notAfter:u}"
            : null;
    }
}
