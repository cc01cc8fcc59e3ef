using System.Collections.Concurrent;
using System.Text.Json;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Snapshots;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ApiGate.Gateway.Identity.Jwt;

/// <summary>
/// Bearer JWTs from the configured OIDC issuer (docs/keys-and-limits.md, JWT): the signature is checked against the
/// issuer's JWKS (from its discovery document, cached; fetched again for an unknown <c>kid</c>, at most once per
/// <see cref="GatewayOptions.JwtRefreshInterval"/>), then issuer, audience, expiry, not-before and the algorithm
/// allow-list. The subject is mapped to an APIGate user like a key to its owner: from memory for a subject seen in this
/// config version, else one store read (and, when allowed, one user created) shared by every concurrent request for
/// that subject, so N parallel first requests create one user.
/// </summary>
internal sealed partial class JwtAuthenticator : IDisposable
{
    /// <summary>Upper bound on cached subjects; past it the cache starts over.</summary>
    public const int MaxEntries = 100_000;

    /// <summary>Largest discovery document or JWKS read from the issuer (real ones are a few KB); a larger answer is a failed fetch.</summary>
    public const int MaxIssuerDocumentBytes = 1 << 20;

    private readonly IGatewayStore _store;
    private readonly GatewayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<JwtAuthenticator> _logger;
    private readonly HttpClient? _http;
    // Only with an issuer: a gateway without one loads the token libraries only if a client sends it a JWT (docs/performance.md).
    private readonly Validation? _validation;
    private readonly ConfigScopedCache<string, Resolved> _cache = new(MaxEntries, StringComparer.Ordinal);
    private readonly SingleFlight<(string Subject, long Version, bool WithEmail), Resolved> _resolutions = new();
    private readonly StoreLookupGuard _guard;
    // With billing on, whether a caller has a paying subscription is read with the caller (RequestIdentity.Unsubscribed).
    private readonly BillingService? _billing;

    /// <summary>Store reads made for subjects not in memory; for tests.</summary>
    public long Lookups;

    public JwtAuthenticator(
        IGatewayStore store, GatewayOptions options, StoreLookupGuard guard, TimeProvider timeProvider, ILogger<JwtAuthenticator> logger, BillingService? billing = null)
    {
        _store = store;
        _billing = billing;
        _guard = guard;
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        if (options.JwtIssuer.Length == 0)
        {
            return;
        }

        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = TimeSpan.FromSeconds(10), MaxResponseContentBufferSize = MaxIssuerDocumentBytes };
        _validation = CreateValidation(options, _http, timeProvider, logger);
    }

    /// <summary>The issuer's keys and the token handler; a method of its own so that only a configured issuer loads their libraries.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static Validation CreateValidation(GatewayOptions options, HttpClient http, TimeProvider timeProvider, ILogger<JwtAuthenticator> logger)
    {
        var issuer = new Uri(options.JwtIssuer);
        if (issuer.Scheme == Uri.UriSchemeHttp && !issuer.IsLoopback)
        {
            LogPlainHttpIssuer(logger, issuer.Authority);
        }

        var template = new TokenValidationParameters
        {
            ValidIssuer = options.JwtIssuer,
            ValidAudience = options.JwtAudience,
            // RFC 7519 §2: aud values are compared as case-sensitive strings with no transformation; "orders-api/" is
            // another audience than "orders-api", as it is another issuer.
            IgnoreTrailingSlashWhenValidatingAudience = false,
            ValidAlgorithms = JwtSettings.Algorithms(options),
            ClockSkew = options.JwtClockSkew,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            // A token's kid names the key that signed it (RFC 7515 §4.1.4): only that key (and any published without a kid)
            // is tried, so a flood of made-up kids costs no verification against every published key; a token without a
            // kid (optional) is checked against each. A kid not published fails as "key not found", which reads the
            // issuer's keys again (it may have rotated).
            TryAllIssuerSigningKeys = false,
            IssuerSigningKeyResolver = KeysNamed,
        };
        var keys = new IssuerKeys(
            options.JwtIssuer.TrimEnd('/') + "/.well-known/openid-configuration",
            new HttpDocumentRetriever(http) { RequireHttps = issuer.Scheme == Uri.UriSchemeHttps },
            template, options.JwtRefreshInterval, timeProvider, logger);
        return new Validation(keys, new JsonWebTokenHandler { MapInboundClaims = false });
    }

    private static IEnumerable<SecurityKey> KeysNamed(string token, SecurityToken securityToken, string kid, TokenValidationParameters parameters)
    {
        var keys = parameters.IssuerSigningKeys ?? [];
        return string.IsNullOrEmpty(kid) ? keys : keys.Where(key => string.IsNullOrEmpty(key.KeyId) || string.Equals(key.KeyId, kid, StringComparison.Ordinal));
    }

    /// <summary>Whether an issuer is configured (else no JWT is accepted).</summary>
    public bool Enabled => _validation is not null;

    /// <summary>Fetches of the issuer's keys so far (tests, diagnostics).</summary>
    public long KeyFetches => _validation is null ? 0 : Interlocked.Read(ref _validation.Keys.Fetches);

    /// <summary>Validates <paramref name="token"/> and resolves its caller for <paramref name="snapshot"/>.</summary>
    public async ValueTask<(RequestIdentity? Identity, GatewayError? Error)> AuthenticateAsync(string token, ConfigSnapshot snapshot)
    {
        if (_validation is not var (keys, handler))
        {
            return (null, Errors.Invalid("this gateway accepts no JWTs (APIGATE_JWT_ISSUER is not set)"));
        }

        if (await keys.GetAsync() is not { } parameters)
        {
            return (null, Errors.Unavailable); // the issuer's keys were never read: nothing to check the token against
        }

        // RFC 7519 §4 and RFC 7515 §4: a member named twice in the payload or header is refused, since the token library
        // and this gateway could each act on another of its values. Read before validating, so that such a token is
        // checked for its signature only (an unsigned or forged one keeps its signature refusal), whatever the values say.
        var sent = TokenJson.Read(token);
        var checkedParameters = parameters;
        if (sent.Duplicate is not null)
        {
            checkedParameters = parameters.Clone();
            checkedParameters.ValidateLifetime = false;
            checkedParameters.RequireExpirationTime = false;
            checkedParameters.ValidateIssuer = false;
            checkedParameters.ValidateAudience = false;
        }

        TokenValidationResult result;
        try
        {
            result = await handler.ValidateTokenAsync(token, checkedParameters);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenException)
        {
            return (null, Errors.Invalid("the token is malformed"));
        }

        if (!result.IsValid)
        {
            var read = Read(handler, token);
            if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
            {
                if (read?.Kid is { } kid && keys.IsShortKey(kid))
                {
                    // Published, but too short to trust (IssuerKeys.MinimumRsaKeyBits): reading the keys again would not help.
                    return (null, Errors.Invalid($"the token is signed with an RSA key shorter than {IssuerKeys.MinimumRsaKeyBits} bits"));
                }

                keys.KeyNotFound(); // the issuer may have rotated its keys: read them again, in the background
                if (read is { Kid: null or "" })
                {
                    // Every published key was tried (kid is optional): none verifies it, which is not a key unpublished.
                    return (null, Errors.Invalid("the token names no key (kid) and none of the issuer's keys verifies its signature"));
                }
            }

            if (result.Exception is SecurityTokenExpiredException or SecurityTokenNotYetValidException && NoValidInstant(read))
            {
                return (null, Refusal(new SecurityTokenInvalidLifetimeException()));
            }

            return (null, AlgorithmNotAccepted(read, parameters) ? Refusal(new SecurityTokenInvalidAlgorithmException()) : Refusal(result.Exception));
        }

        if (sent.Duplicate is { } duplicate)
        {
            var named = duplicate.Name is { } name ? $"'{name}' " : "";
            return (null, Errors.Invalid(duplicate.InHeader
                ? $"the token's header has the parameter {named}more than once"
                : $"the token has the claim {named}more than once"));
        }

        if (NoValidInstant(result.SecurityToken as JsonWebToken))
        {
            // The validator refuses only an nbf after exp: one equal to it passes within the clock skew, though RFC 7519
            // §4.1.4–4.1.5 leaves no instant at which such a token may be accepted.
            return (null, Refusal(new SecurityTokenInvalidLifetimeException()));
        }

        if (result.SecurityToken is JsonWebToken { } parsed && parsed.TryGetHeaderValue<object>("crit", out _))
        {
            // RFC 7515 §4.1.11: a token that names header extensions as critical must be refused by whoever does not
            // implement them, and this gateway implements none.
            return (null, Errors.Invalid("the token names critical header extensions (crit) this gateway does not implement"));
        }

        if (!result.Claims.TryGetValue(_options.JwtUserClaim, out var subjectValue) || subjectValue?.ToString() is not { Length: > 0 } subject)
        {
            return (null, Errors.Invalid($"the token has no '{_options.JwtUserClaim}' claim"));
        }

        if (_options.JwtUserClaim == "sub" && sent.SubjectNotAString)
        {
            // RFC 7519 §4.1.2: sub is a StringOrURI. The token library reads a number there as its text (other types it
            // refuses as malformed), which would be linked as the subject "12345" as if the issuer had written that.
            return (null, Errors.Invalid("the token's 'sub' claim is not a string"));
        }

        // What the store can link (as for an operator's link through the admin API): a subject no user can be linked to is
        // refused before the store is asked. A NUL made every lookup a 503 on PostgreSQL, whose text cannot hold one.
        if (subject.Length > TextFields.MaxNameLength)
        {
            return (null, Errors.Invalid($"the token's '{_options.JwtUserClaim}' claim is longer than {TextFields.MaxNameLength} characters"));
        }

        if (TextFields.Check(_options.JwtUserClaim, subject) is not null)
        {
            return (null, Errors.Invalid($"the token's '{_options.JwtUserClaim}' claim holds a control character"));
        }

        var email = result.Claims.TryGetValue(_options.JwtEmailClaim, out var emailValue) ? emailValue?.ToString() : null;
        if (result.Claims.TryGetValue("email_verified", out var verified) && !IsTrue(verified))
        {
            if (string.Equals(_options.JwtUserClaim, _options.JwtEmailClaim, StringComparison.Ordinal))
            {
                // The address identifies the caller (APIGATE_JWT_USER_CLAIM=email): unproven, it would let anyone who typed
                // someone else's address at the issuer act as the user that address is linked to.
                return (null, Errors.UnknownUser with
                {
                    Detail = $"The token's '{_options.JwtEmailClaim}' claim identifies the caller, and the issuer marks it unverified (email_verified).",
                });
            }

            email = null; // the issuer says nobody proved the address: no user is created with it
        }
        if (!_cache.TryGet(snapshot.IdentityVersion, subject, out var resolved) || !resolved.Answers(email))
        {
            if (!_guard.MayAsk())
            {
                return (null, Errors.Unavailable); // the database did not answer a moment ago (StoreLookupGuard)
            }

            var resolution = _resolutions.Run(
                (subject, snapshot.IdentityVersion, WithEmail: !string.IsNullOrWhiteSpace(email)), (Self: this, Email: email),
                static (key, state) => state.Self.ResolveOnceAsync(key.Version, key.Subject, state.Email));
            if (await _guard.WaitAsync(resolution, CancellationToken.None) is not { } found)
            {
                return (null, Errors.Unavailable);
            }

            resolved = found;
        }

        return Decide(resolved, snapshot);
    }

    private static (RequestIdentity?, GatewayError?) Decide(Resolved resolved, ConfigSnapshot snapshot)
    {
        if (resolved.User is not { } user)
        {
            return (null, resolved.Error);
        }

        if (user.Status != UserStatus.Active)
        {
            return (null, Errors.Suspended);
        }

        if (!snapshot.Plans.TryGetValue(user.PlanId, out var plan))
        {
            return (null, Errors.Suspended with { Detail = "The account's plan no longer exists." });
        }

        return (new RequestIdentity(resolved.Credential!, user, plan, resolved.Unsubscribed), null);
    }

    /// <summary>
    /// The cache once more before the store: a request that missed the cache just before another one for the same subject
    /// finished (cached its result, then left the table of runs) finds the result here instead of looking it up again.
    /// </summary>
    private async Task<Resolved> ResolveOnceAsync(long version, string subject, string? email)
    {
        if (_cache.TryGet(version, subject, out var cached) && cached.Answers(email))
        {
            return cached;
        }

        var resolved = await ResolveAsync(subject, email);
        if (resolved.Cacheable)
        {
            // Under the version the lookup began in (kept only while no newer one has started), and before the run leaves
            // its table: a request arriving in between finds one or the other.
            _cache.Set(version, subject, resolved);
        }

        return resolved;
    }

    /// <summary>
    /// The user linked to <paramref name="subject"/>; created on the default plan first when allowed. A store that does
    /// not answer throws (<see cref="StoreUnavailableException"/>), which <see cref="StoreLookupGuard"/> turns into 503.
    /// </summary>
    private async Task<Resolved> ResolveAsync(string subject, string? email)
    {
        Interlocked.Increment(ref Lookups);
        var issuer = _options.JwtIssuer;
        if (await _store.FindOwnerByIdentityAsync(issuer, subject, CancellationToken.None) is { } linked)
        {
            return For(linked);
        }

        if (_options.JwtUnknownUser != "create")
        {
            return new Resolved(null, null, Errors.UnknownUser, Cacheable: true);
        }

        if (string.IsNullOrWhiteSpace(email))
        {
            return new Resolved(null, null, Errors.UnknownUser with
            {
                Detail = $"No APIGate user is linked to this token's subject, and the token has no verified '{_options.JwtEmailClaim}' claim to create one with.",
            }, Cacheable: true, WantsEmail: true);
        }

        var now = _timeProvider.GetUtcNow();
        var created = await new UserService(_store, _timeProvider).CreateAsync(new UserChanges { Email = email }, CancellationToken.None);
        if (!created.Ok)
        {
            // Another instance may have created and linked it a moment ago; otherwise the email belongs to someone else.
            if (await _store.FindOwnerByIdentityAsync(issuer, subject, CancellationToken.None) is { } raced)
            {
                return For(raced);
            }

            // The reason (e.g. the email belongs to another user) is for the operator only: told to the caller it
            // would say which addresses have accounts.
            LogUserNotCreated(subject, issuer, created.Error!.Message);
            return new Resolved(null, null, Errors.UnknownUser with
            {
                Detail = "No APIGate user is linked to this token's subject, and none can be created for it; the gateway's log says why.",
            }, Cacheable: true); // until the configuration changes (the other user deleted or changed): not a store round trip per request
        }

        try
        {
            await _store.LinkIdentityAsync(new UserIdentity { Issuer = issuer, Subject = subject, UserId = created.Value!.Id, CreatedAt = now },
                configuration: false, CancellationToken.None);
        }
        catch (StoreConflictException)
        {
            // Linked by another instance first: theirs stands, ours goes.
            await _store.DeleteUserAsync(created.Value!.Id, readAt: null, CancellationToken.None);
            return await _store.FindOwnerByIdentityAsync(issuer, subject, CancellationToken.None) is { } other
                ? For(other)
                : new Resolved(null, null, Errors.Unavailable, Cacheable: false);
        }

        LogUserCreated(created.Value!.Id);
        return For(new CredentialOwner(created.Value!, Paying: false)); // just created: no billing customer yet
    }

    /// <summary>A linked user, with whether they have no paying subscription while billing is on.</summary>
    private Resolved For(CredentialOwner owner) => Resolved.For(owner.User, _billing is not null && _billing.IsUnsubscribed(owner));

    /// <summary>A boolean claim's value: JSON true, or the text "true" some issuers send.</summary>
    private static bool IsTrue(object? value) => value switch
    {
        bool b => b,
        string s => string.Equals(s, "true", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <summary>
    /// Whether the token's <c>alg</c> is not one of <c>APIGATE_JWT_ALGORITHMS</c>. Asked only for a refused token: the
    /// token library reports that case as a signature that does not verify (no key is tried for an algorithm it may not
    /// use), which would send the operator looking at the keys.
    /// </summary>
    private static bool AlgorithmNotAccepted(JsonWebToken? sent, TokenValidationParameters parameters) =>
        sent is { Alg: var alg } && parameters.ValidAlgorithms?.Contains(alg, StringComparer.Ordinal) == false;

    /// <summary>Whether the token has an nbf at or after its exp: not valid at any instant (RFC 7519: from nbf, before exp).</summary>
    private static bool NoValidInstant(JsonWebToken? token) =>
        token is not null && token.TryGetPayloadValue<long>("nbf", out var notBefore) && token.TryGetPayloadValue<long>("exp", out var expires)
        && notBefore >= expires;

    /// <summary>The token's header and claims as sent, or null when not readable (the refusal already says why). Read only for a refused token.</summary>
    private static JsonWebToken? Read(JsonWebTokenHandler handler, string token)
    {
        try
        {
            return handler.ReadJsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static GatewayError Refusal(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => Errors.Invalid("the token has expired"),
        SecurityTokenNotYetValidException => Errors.Invalid("the token is not valid yet (nbf)"),
        // nbf at or after exp: no instant at which the token could be valid, which the issuer has to fix.
        SecurityTokenInvalidLifetimeException => Errors.Invalid("the token's lifetime is not valid (nbf is not before exp)"),
        SecurityTokenInvalidAudienceException => Errors.Invalid("the token's audience is not accepted"),
        SecurityTokenInvalidIssuerException => Errors.Invalid("the token's issuer is not accepted"),
        SecurityTokenInvalidAlgorithmException => Errors.Invalid("the token's signing algorithm is not accepted"),
        SecurityTokenSignatureKeyNotFoundException => Errors.Invalid("the token is signed with a key the issuer does not publish"),
        SecurityTokenInvalidSignatureException => Errors.Invalid("the token's signature is not valid"),
        SecurityTokenNoExpirationException => Errors.Invalid("the token has no expiry"),
        SecurityTokenMalformedException or ArgumentException => Errors.Invalid("the token is malformed"),
        SecurityTokenException => Errors.Invalid("the token is not valid"),
        _ => Errors.Unavailable,
    };

    public void Dispose() => _http?.Dispose();

    [LoggerMessage(EventId = 2401, Level = LogLevel.Information, Message = "Created user {UserId} for a JWT subject seen for the first time")]
    private partial void LogUserCreated(string userId);

    // The subject is what the operator needs to link it (apigate users link-identity USER --subject S); it is the
    // issuer's identifier for the caller, not a credential.
    [LoggerMessage(EventId = 2402, Level = LogLevel.Warning, Message = "No user created for the new JWT subject '{Subject}' of {Issuer}: {Reason}; if that user is the subject's, link them: apigate users link-identity USER --subject SUBJECT")]
    private partial void LogUserNotCreated(string subject, string issuer, string reason);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Warning, Message = "APIGATE_JWT_ISSUER is plain http to {Authority}, which is not this machine: the issuer's signing keys are fetched unencrypted, so anyone on the way can replace them and sign tokens; use https")]
    private static partial void LogPlainHttpIssuer(ILogger logger, string authority);

    /// <summary>What checks tokens from the configured issuer.</summary>
    private sealed record Validation(IssuerKeys Keys, JsonWebTokenHandler Handler);

    /// <summary>
    /// A subject's outcome for one config version. <paramref name="WantsEmail"/>: refused only because the token that
    /// asked carried no verified email — remembered for tokens like it, while the subject's next token that does carry one
    /// (the address proved since, or a token issued with the email scope) is resolved again and may create the user.
    /// </summary>
    private sealed record Resolved(UserDefinition? User, ApiKeyDefinition? Credential, GatewayError? Error, bool Cacheable, bool WantsEmail = false, bool Unsubscribed = false)
    {
        /// <summary>Whether this outcome holds for a token of the subject carrying <paramref name="email"/> (null: none, or not verified).</summary>
        public bool Answers(string? email) => !WantsEmail || string.IsNullOrWhiteSpace(email);

        /// <summary>
        /// A linked user, with the credential record JWT callers carry where key callers carry their key: id
        /// <c>jwt_{user id}</c>, so rate limits, usage and <c>X-Key-ID</c> work per user.
        /// </summary>
        public static Resolved For(UserDefinition user, bool unsubscribed) =>
            new(user, new ApiKeyDefinition { Id = "jwt_" + user.Id, UserId = user.Id, Prefix = "jwt", Name = "JWT bearer token" }, null, Cacheable: true,
                Unsubscribed: unsubscribed);
    }

    /// <summary>The JWT errors (RFC 6750 challenges on the 401s).</summary>
    public static class Errors
    {
        public static GatewayError Invalid(string reason) => new(401, "invalid_token", "Unauthorized", "The bearer token was refused: " + reason + ".")
        {
            WwwAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{reason}\"",
        };

        public static readonly GatewayError Missing = new(401, "missing_token", "Unauthorized", "A bearer token is required: send it as Authorization: Bearer TOKEN.")
        {
            WwwAuthenticate = "Bearer",
        };

        public static readonly GatewayError UnknownUser = new(403, "unknown_user", "Forbidden", "No APIGate user is linked to this token's subject.");

        public static readonly GatewayError Suspended = ApiKeyAuthenticator.Errors.Suspended with { Detail = "The account this token maps to is not active." };

        public static readonly GatewayError Unavailable = new(503, "jwt_unavailable", "Service Unavailable", "The token cannot be checked now (the issuer's keys or the gateway's database do not answer). Retry later.");
    }
}
