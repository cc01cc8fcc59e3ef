using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Identity.Jwt;

/// <summary>
/// The issuer's signing keys (its discovery document and JWKS), fetched by one fetch at a time and never by a request
/// itself: a request validates against the keys already here, so an issuer that is slow, down or answering garbage
/// costs requests no wait beyond <see cref="FirstKeysWait"/> and the issuer at most one fetch per interval, however
/// many tokens arrive. A failed fetch keeps the keys from before.
/// </summary>
internal sealed partial class IssuerKeys
{
    /// <summary>How long a request waits for keys when none were fetched yet (start-up), before 503 jwt_unavailable.</summary>
    public static readonly TimeSpan FirstKeysWait = TimeSpan.FromSeconds(3);

    /// <summary>How often the keys are read again without any token asking for it.</summary>
    public static readonly TimeSpan RereadInterval = TimeSpan.FromHours(12);

    /// <summary>
    /// The shortest RSA key used (RFC 7518 §3.3: RS* and PS* need 2048 bits or more); a shorter published key is left
    /// out, since whoever factors it signs tokens the gateway would accept.
    /// </summary>
    public const int MinimumRsaKeyBits = 2048;

    /// <summary>The least time between two fetches while there are no keys yet (the issuer was down at start).</summary>
    private static readonly TimeSpan RetryWithoutKeys = TimeSpan.FromSeconds(5);

    private readonly string _metadataAddress;
    private readonly IDocumentRetriever _retriever;
    private readonly TokenValidationParameters _template;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Keys? _current;
    private Task? _fetch;
    private long _lastAttemptTicks = long.MinValue;
    private long _lastKeyNotFoundTicks = long.MinValue;
    private bool _failing;

    public IssuerKeys(string metadataAddress, IDocumentRetriever retriever, TokenValidationParameters template, TimeSpan refreshInterval, TimeProvider time, ILogger logger)
    {
        _metadataAddress = metadataAddress;
        _retriever = retriever;
        _template = template;
        _refreshInterval = refreshInterval;
        _time = time;
        _logger = logger;
        _ = Refresh(keyNotFound: false); // warm up: the first token should not have to wait for the issuer
    }

    /// <summary>Fetches made (tests, diagnostics).</summary>
    public long Fetches;

    /// <summary>
    /// The validation parameters with the current keys; when there are none yet, waits up to <see cref="FirstKeysWait"/>
    /// for the fetch under way (starting one if none ran within the retry interval). Null: still no keys.
    /// </summary>
    public async ValueTask<TokenValidationParameters?> GetAsync()
    {
        if (Volatile.Read(ref _current) is { } keys)
        {
            if (_time.GetUtcNow() - keys.FetchedAt > RereadInterval)
            {
                _ = Refresh(keyNotFound: false); // in the background; this request uses the keys it has
            }

            return keys.Parameters;
        }

        if (Refresh(keyNotFound: false) is { } fetch)
        {
            await fetch.WaitAsync(FirstKeysWait, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        return Volatile.Read(ref _current)?.Parameters;
    }

    /// <summary>Whether the issuer published <paramref name="keyId"/> as an RSA key shorter than <see cref="MinimumRsaKeyBits"/>, left out of the keys used.</summary>
    public bool IsShortKey(string keyId) => Volatile.Read(ref _current) is { } keys && keys.ShortKeyIds.Contains(keyId);

    /// <summary>A token named a key the cached set does not have (the issuer may have rotated): fetch again, at most once per refresh interval.</summary>
    public void KeyNotFound() => _ = Refresh(keyNotFound: true);

    /// <summary>
    /// Starts a fetch unless one is running or none is due; returns the running fetch, if any. Due: with no keys yet,
    /// <see cref="RetryWithoutKeys"/> after the last attempt; for an unknown <c>kid</c>, the refresh interval after the
    /// last fetch an unknown <c>kid</c> caused; and every <see cref="RereadInterval"/>.
    /// </summary>
    private Task? Refresh(bool keyNotFound)
    {
        lock (_gate)
        {
            if (_fetch is { IsCompleted: false } running)
            {
                return running;
            }

            var now = _time.GetTimestamp();
            bool due;
            if (_current is not { } keys)
            {
                due = _lastAttemptTicks == long.MinValue || _time.GetElapsedTime(_lastAttemptTicks, now) >= RetryWithoutKeys;
            }
            else if (keyNotFound)
            {
                due = _lastKeyNotFoundTicks == long.MinValue || _time.GetElapsedTime(_lastKeyNotFoundTicks, now) >= _refreshInterval;
                if (due)
                {
                    _lastKeyNotFoundTicks = now;
                }
            }
            else
            {
                due = _time.GetUtcNow() - keys.FetchedAt > RereadInterval && _time.GetElapsedTime(_lastAttemptTicks, now) >= RetryWithoutKeys;
            }

            if (!due)
            {
                return null;
            }

            _lastAttemptTicks = now;
            _fetch = FetchAsync();
            return _fetch;
        }
    }

    private async Task FetchAsync()
    {
        await Task.Yield(); // never on the caller's stack, which may hold the gate
        Interlocked.Increment(ref Fetches);
        try
        {
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(_metadataAddress, _retriever, CancellationToken.None);
            var signingKeys = new List<SecurityKey>(configuration.SigningKeys.Count);
            var shortKeyIds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var key in configuration.SigningKeys)
            {
                if (RsaKeyBits(key) is { } bits and < MinimumRsaKeyBits)
                {
                    LogShortKey(key.KeyId ?? "(none)", bits, MinimumRsaKeyBits);
                    if (key.KeyId is not null)
                    {
                        shortKeyIds.Add(key.KeyId);
                    }

                    continue;
                }

                signingKeys.Add(key);
            }

            if (signingKeys.Count == 0)
            {
                throw new InvalidOperationException(configuration.SigningKeys.Count == 0
                    ? "the issuer's JWKS has no signing keys"
                    : $"the issuer's JWKS has no signing key the gateway uses (RSA keys shorter than {MinimumRsaKeyBits} bits are left out)");
            }

            var parameters = _template.Clone();
            parameters.ConfigurationManager = null;
            parameters.IssuerSigningKeys = signingKeys;
            Volatile.Write(ref _current, new Keys(parameters, shortKeyIds, _time.GetUtcNow()));
            if (_failing)
            {
                _failing = false;
                LogRecovered(signingKeys.Count);
            }
        }
        catch (Exception ex)
        {
            if (!_failing)
            {
                _failing = true;
                LogFailed(Volatile.Read(ref _current) is null ? "JWT routes answer 503 jwt_unavailable until it does" : "the keys fetched before stay in use", ex.Message);
            }
        }
    }

    /// <summary>The size of an RSA key in bits; null for other key types.</summary>
    private static int? RsaKeyBits(SecurityKey key) => key switch
    {
        RsaSecurityKey or JsonWebKey { Kty: JsonWebAlgorithmsKeyTypes.RSA } => key.KeySize,
        X509SecurityKey { PublicKey: System.Security.Cryptography.RSA rsa } => rsa.KeySize,
        _ => null,
    };

    [LoggerMessage(EventId = 2406, Level = LogLevel.Warning, Message = "The JWT issuer publishes the RSA key '{KeyId}' of {Bits} bits; keys shorter than {Minimum} bits are not used, so tokens signed with it are refused")]
    private partial void LogShortKey(string keyId, int bits, int minimum);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Warning, Message = "Cannot read the JWT issuer's signing keys; {Consequence}: {Reason}")]
    private partial void LogFailed(string consequence, string reason);

    [LoggerMessage(EventId = 2404, Level = LogLevel.Information, Message = "The JWT issuer's signing keys are readable again ({Count} key(s))")]
    private partial void LogRecovered(int count);

    private sealed record Keys(TokenValidationParameters Parameters, IReadOnlySet<string> ShortKeyIds, DateTimeOffset FetchedAt);
}
