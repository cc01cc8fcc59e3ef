using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ApiGate.Gateway.Tls;

/// <summary>
/// The certificates the TLS listeners serve. Handshakes read <see cref="Current"/>, an immutable
/// <see cref="TlsCertificateSet"/>; <see cref="TryReload"/> builds a new set from the files and swaps it in whole, or
/// keeps the current one when the files cannot be used (a rotation half done: new certificate, old key). Open
/// connections keep the certificate they were accepted with; new handshakes get the new one.
/// </summary>
internal sealed class TlsCertificates
{
    /// <summary>TLS 1.2 and 1.3; older versions are refused in the handshake.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    // Offered last, so it is only chosen by a client that offers nothing newer: curl --http1.0 and other HTTP/1.0
    // clients name it in ALPN, and a server that does not list it must refuse their handshake (no_application_protocol).
    // The connection is served by the HTTP/1.x parser either way.
    private static readonly SslApplicationProtocol Http10 = new("http/1.0");

    private readonly TlsSources _sources;
    private readonly TimeProvider _time;
    private readonly Lock _reloading = new();
    private TlsCertificateSet _current;
    private string _fingerprint;

    /// <summary>Loads the certificates; <paramref name="warnings"/> gets expiry warnings.</summary>
    /// <exception cref="TlsConfigurationException">A file cannot be used.</exception>
    public TlsCertificates(TlsSources sources, TimeProvider time, List<string> warnings)
    {
        _sources = sources;
        _time = time;
        _fingerprint = TlsCertificateLoader.Fingerprint(sources);
        _current = TlsCertificateLoader.Load(sources, time.GetUtcNow(), warnings);
    }

    public TlsSources Sources => _sources;

    /// <summary>The set new handshakes are served from.</summary>
    public TlsCertificateSet Current => Volatile.Read(ref _current);

    /// <summary>
    /// Reloads when the files differ from the last attempt. Returns <see cref="TlsReload.Unchanged"/>,
    /// <see cref="TlsReload.Reloaded"/> (new set in place) or <see cref="TlsReload.Refused"/> (the current set stays;
    /// <paramref name="problem"/> says why, naming the setting). A refused state is not retried until a file changes again.
    /// </summary>
    public TlsReload TryReload(List<string> warnings, out string? problem)
    {
        problem = null;
        lock (_reloading)
        {
            var fingerprint = TlsCertificateLoader.Fingerprint(_sources);
            if (fingerprint == _fingerprint)
            {
                return TlsReload.Unchanged;
            }

            _fingerprint = fingerprint;
            try
            {
                Volatile.Write(ref _current, TlsCertificateLoader.Load(_sources, _time.GetUtcNow(), warnings));
                return TlsReload.Reloaded;
            }
            catch (TlsConfigurationException ex)
            {
                problem = $"{ex.Setting}: {ex.Message}";
                return TlsReload.Refused;
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="listen"/> a TLS listener serving these certificates; plain HTTP sent to it is answered
    /// <c>400</c> (<see cref="PlainHttpRefusal"/>).
    /// </summary>
    public void Serve(ListenOptions listen)
    {
        PlainHttpRefusal.Use(listen); // before the handshake
        listen.UseHttps(HandshakeOptions(listen.Protocols));
    }

    /// <summary>
    /// The per-connection TLS set-up for a listener speaking <paramref name="protocols"/> (ALPN offers h2 only when
    /// HTTP/2 is on, then http/1.1 and http/1.0).
    /// </summary>
    private TlsHandshakeCallbackOptions HandshakeOptions(HttpProtocols protocols)
    {
        List<SslApplicationProtocol> alpn = protocols.HasFlag(HttpProtocols.Http2)
            ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11, Http10]
            : [SslApplicationProtocol.Http11, Http10];
        return new TlsHandshakeCallbackOptions
        {
            OnConnection = context => ValueTask.FromResult(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = Current.Select(context.ClientHelloInfo.ServerName, _time.GetUtcNow()).Context,
                EnabledSslProtocols = Protocols,
                ApplicationProtocols = alpn,
                ClientCertificateRequired = false,
            }),
        };
    }
}

/// <summary>What <see cref="TlsCertificates.TryReload"/> did.</summary>
internal enum TlsReload
{
    Unchanged,
    Reloaded,
    Refused,
}
