using ApiGate.Core.Usage;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// Settings of a running gateway, resolved from flags &gt; environment (<c>APIGATE_*</c>) &gt; <c>apigate.yaml</c> &gt; these
/// defaults. Each option with a setting is listed once in <see cref="GatewaySettings.All"/> (its key, variable and how it
/// is shown); <see cref="GatewayOptionsValidator"/> checks the values before the server starts.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary><c>APIGATE_SERVER_HOST</c>; default 0.0.0.0 (all interfaces).</summary>
    public string Host { get; set; } = "0.0.0.0";

    /// <summary><c>APIGATE_SERVER_PORT</c>; default 8080. 0 picks a free port.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>
    /// <c>APIGATE_SERVER_H2C_PORT</c>: a second port on <see cref="Host"/> that speaks cleartext HTTP/2 with prior
    /// knowledge only (h2c), for gRPC and other HTTP/2 clients without TLS; it serves exactly what the main port serves.
    /// Unset (default): none. The main port speaks HTTP/1.1 and cannot take prior-knowledge HTTP/2 (docs/forwarding.md).
    /// 0 picks a free port.
    /// </summary>
    public int? H2cPort { get; set; }

    /// <summary>
    /// <c>APIGATE_SERVER_MAX_CONNECTIONS</c>: the most connections each listener (main, h2c, admin, redirect) keeps
    /// open at once, those still in their TLS handshake and idle keep-alive ones included; default 100,000, 1 to
    /// 1,000,000. A connection over the limit is accepted and closed at once, without a byte, until one closes. Upgraded
    /// connections (WebSockets over HTTP/1.1) count towards it too, and at most this many are open across all listeners.
    /// </summary>
    public int MaxConnections { get; set; } = DefaultMaxConnections;

    /// <summary>The default of <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 100_000;

    /// <summary>
    /// <c>APIGATE_SERVER_INLINE_SCHEDULING</c>: run the request pipeline on Kestrel's socket I/O threads instead of the
    /// thread pool. Default false: on the thread pool a request does not wait behind the others of its I/O thread, which
    /// measured ~30 % lower p99 latency for ~5 % more CPU per request (docs/performance.md). Either way the gateway turns
    /// on inline socket completions (the upstream side's continuations run on the I/O threads; nothing on that path
    /// blocks) unless <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> is set explicitly.
    /// </summary>
    public bool InlineScheduling { get; set; }

    /// <summary>
    /// <c>APIGATE_SERVER_SHUTDOWN_TIMEOUT</c>: how long a graceful stop (SIGTERM, Ctrl+C) lets requests in flight finish
    /// before their connections are closed; default 30 s, at most 1 h. Open SSE streams and WebSockets do not wait for
    /// it: the stop ends them when it begins (docs/forwarding.md). Set it below the orchestrator's grace period (e.g.
    /// Kubernetes' <c>terminationGracePeriodSeconds</c>) so usage is written before a forced kill.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>APIGATE_SERVER_STOP_DELAY</c>: how long a graceful stop keeps accepting and serving requests, with
    /// <c>/health/ready</c> answering <c>503 stopping</c>, before it closes the port and drains — time for a load
    /// balancer to take the instance out of rotation, so no request meets a closed port. Default 0 (off), at most 10 min.
    /// </summary>
    public TimeSpan StopDelay { get; set; }

    /// <summary><c>APIGATE_DATABASE_DRIVER</c>: <c>sqlite</c> (default) or <c>postgres</c> (several instances on one database, docs/scaling.md).</summary>
    public string DatabaseDriver { get; set; } = "sqlite";

    /// <summary><c>APIGATE_DATABASE_DSN</c>; default <c>apigate.db</c>.</summary>
    public string DatabaseDsn { get; set; } = "apigate.db";

    /// <summary><c>APIGATE_UPSTREAM_URL</c>: where requests that match no route go. Empty = 404 route_not_found.</summary>
    public string UpstreamUrl { get; set; } = "";

    /// <summary><c>APIGATE_UPSTREAM_TIMEOUT</c>; default 30 s. An upstream's own timeout_ms overrides it.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>APIGATE_LOG_LEVEL</c>: trace, debug, info, warn, error; default info.</summary>
    public string LogLevel { get; set; } = "info";

    /// <summary><c>APIGATE_LOG_FORMAT</c>: json (default) or console.</summary>
    public string LogFormat { get; set; } = "json";

    /// <summary><c>APIGATE_SECRET_KEY</c>: encrypts stored secrets (upstream credentials, webhook signing secrets, the forms key) at rest when set.</summary>
    public string SecretKey { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_SECRET_KEY_PREVIOUS</c>: while the key is rotated, the old key, which stored secrets are still read
    /// with (never written with); requires <see cref="SecretKey"/>. Never shown or logged.
    /// </summary>
    public string SecretKeyPrevious { get; set; } = "";

    /// <summary><c>APIGATE_AUTH_KEY_PREFIX</c>; default <c>ak_</c>.</summary>
    public string AuthKeyPrefix { get; set; } = "ak_";

    /// <summary><c>APIGATE_AUTH_ALLOW_QUERY_KEY</c>: also accept the key in the <c>api_key</c> query parameter; default false
    /// (query strings end up in access logs and browser history).</summary>
    public bool AuthAllowQueryKey { get; set; }

    /// <summary>
    /// <c>APIGATE_SERVER_ALLOW_UNDERSCORE_HEADERS</c>: forward client headers whose names contain '_'; default false (they
    /// are dropped, since CGI-style backends read <c>X_User_ID</c> as <c>X-User-ID</c>). Even when allowed, a header that
    /// names a gateway-set or credential header once '_' is read as '-' is always dropped.
    /// </summary>
    public bool AllowUnderscoreHeaders { get; set; }

    /// <summary><c>APIGATE_SERVER_ALLOW_TRACE</c>: forward TRACE and TRACK requests; default false (405 method_not_allowed).</summary>
    public bool AllowTrace { get; set; }

    /// <summary>
    /// <c>APIGATE_JWT_ISSUER</c>: the OIDC issuer whose JWTs routes with <c>auth_scheme</c> <c>jwt</c> or
    /// <c>key_or_jwt</c> accept (its discovery document is <c>{issuer}/.well-known/openid-configuration</c>); empty
    /// (default): JWTs are not accepted.
    /// </summary>
    public string JwtIssuer { get; set; } = "";

    /// <summary><c>APIGATE_JWT_AUDIENCE</c>: the <c>aud</c> a token must carry; required with an issuer.</summary>
    public string JwtAudience { get; set; } = "";

    /// <summary><c>APIGATE_JWT_ALGORITHMS</c>: the signing algorithms accepted (comma-separated); default <c>RS256,ES256</c>.</summary>
    public string JwtAlgorithms { get; set; } = "RS256,ES256";

    /// <summary><c>APIGATE_JWT_USER_CLAIM</c>: the claim that identifies the caller; default <c>sub</c>.</summary>
    public string JwtUserClaim { get; set; } = "sub";

    /// <summary><c>APIGATE_JWT_EMAIL_CLAIM</c>: the claim a user created on first sight takes its email from; default <c>email</c>.</summary>
    public string JwtEmailClaim { get; set; } = "email";

    /// <summary><c>APIGATE_JWT_UNKNOWN_USER</c>: <c>create</c> (default: a new user on the default plan) or <c>refuse</c> (403).</summary>
    public string JwtUnknownUser { get; set; } = "create";

    /// <summary><c>APIGATE_JWT_CLOCK_SKEW</c>: tolerance on <c>exp</c> and <c>nbf</c>; default 60 s.</summary>
    public TimeSpan JwtClockSkew { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// <c>APIGATE_JWT_REFRESH_INTERVAL</c>: the least time between two fetches of the issuer's keys caused by tokens
    /// with an unknown <c>kid</c>; default 5 min (at least 1 s).
    /// </summary>
    public TimeSpan JwtRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary><c>APIGATE_RATELIMIT_ENABLED</c>; default true.</summary>
    public bool RateLimitEnabled { get; set; } = true;

    /// <summary><c>APIGATE_RATELIMIT_BURST</c>; default 5.</summary>
    public int RateLimitBurst { get; set; } = 5;

    /// <summary><c>APIGATE_METRICS_ENABLED</c>; default true.</summary>
    public bool MetricsEnabled { get; set; } = true;

    /// <summary><c>APIGATE_ACCESS_LOG</c>: one access-log line per request (category <c>ApiGate.Access</c>); default true.</summary>
    public bool AccessLog { get; set; } = true;

    /// <summary>Also write every log line, formatted as on stdout, to this writer (embedding and tests; no setting). Written from a
    /// background thread every 20 ms; complete once the server is disposed.</summary>
    public TextWriter? LogWriter { get; set; }

    /// <summary>
    /// <c>APIGATE_REDIS_URL</c>: <c>redis://[[user]:password@]host[:port][/db]</c> or <c>rediss://…</c> (TLS). When set,
    /// token buckets and monthly quota counters live in Redis, so several instances enforce one limit
    /// (docs/scaling.md). Empty (default): in-process limits. Unreachable at start: the gateway does not start.
    /// </summary>
    public string RedisUrl { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_REDIS_CA_FILE</c>: a PEM file with the certificate(s) of a private CA that a <c>rediss://</c> server's
    /// certificate must chain to (instead of the system's trusted roots); the host name is checked either way. Empty
    /// (default): the system's trusted roots. Only with a <c>rediss://</c> URL.
    /// </summary>
    public string RedisCaFile { get; set; } = "";

    /// <summary><c>APIGATE_REDIS_PREFIX</c>: prefix of every Redis key the gateway writes; default <c>apigate:</c>.</summary>
    public string RedisPrefix { get; set; } = "apigate:";

    /// <summary>
    /// <c>APIGATE_REDIS_TIMEOUT</c>: how long one Redis call may take before Redis counts as unavailable; default
    /// 500ms. Bounds the wait of the requests in flight when Redis stops answering.
    /// </summary>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// <c>APIGATE_LIMITS_ON_REDIS_FAILURE</c>: <c>open</c> (default: per-instance fallback buckets and counters, the
    /// local units added to Redis when it is back) or <c>closed</c> (<c>503 limits_unavailable</c> until it is back).
    /// </summary>
    public string LimitsOnRedisFailure { get; set; } = "open";

    /// <summary><c>APIGATE_TRANSFORM_ENV_ALLOW</c>: comma-separated environment variable names readable as <c>${env.NAME}</c>.</summary>
    public string TransformEnvAllow { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_TRANSFORM_MAX_BODY_BYTES</c>: the largest JSON body a body transform buffers; default 1 MiB. A larger
    /// request gets <c>413 request_too_large</c>; a larger response passes through untransformed.
    /// </summary>
    public long TransformMaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// <c>APIGATE_TRANSFORM_MAX_BUFFERED_BYTES</c>: bodies that body transforms and metering expressions hold in memory
    /// at once, request and response bodies, all requests together; default 256 MiB. A transformed body that does not
    /// fit (its <c>Content-Length</c>, or its buffer as it grows when chunked) gets <c>503 gateway_busy</c> (a response
    /// whose transform only renames passes through untouched); a metering capture that does not fit reads as <c>null</c>.
    /// </summary>
    public long TransformMaxBufferedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary><c>APIGATE_USAGE_QUEUE_CAPACITY</c>: usage events waiting to be written; past it events are dropped (counted). Default 10,000.</summary>
    public int UsageQueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// <c>APIGATE_USAGE_RAW_EVENTS</c>: which requests get a raw row for <c>usage recent</c> — <c>callers</c> (default:
    /// requests with a known caller; public routes' requests are in the rollups only), <c>all</c> (also <c>true</c>) or
    /// <c>none</c> (also <c>false</c>: rollups and quota only, both exact). See <see cref="RawUsageEvents"/>.
    /// </summary>
    public string UsageRawEvents { get; set; } = "callers";

    /// <summary><see cref="UsageRawEvents"/> as its mode (<see cref="RawUsageEvents.Callers"/> until validated).</summary>
    public RawUsageEvents UsageRawEventsMode => RawUsageEventsRule.TryParse(UsageRawEvents, out var mode) ? mode : RawUsageEvents.Callers;

    /// <summary><c>APIGATE_USAGE_RETENTION</c>: how long raw usage events are kept; default 7 days.</summary>
    public TimeSpan UsageRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary><c>APIGATE_USAGE_ROLLUP_RETENTION</c>: how long per-minute rollups are kept; default 30 days.</summary>
    public TimeSpan UsageRollupRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary><c>APIGATE_USAGE_HOURLY_RETENTION</c>: how long hourly rollups are kept; default 400 days. Daily rollups are kept.</summary>
    public TimeSpan UsageHourlyRetention { get; set; } = TimeSpan.FromDays(400);

    /// <summary><c>APIGATE_USAGE_COMPACT_AFTER</c>: minute rollups older than this are compacted into hours, hours into days; default 1 h.</summary>
    public TimeSpan UsageCompactAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary><c>APIGATE_USAGE_EXPORT</c>: also write raw events as JSON lines to this file (rotated by size) or to <c>stdout</c>; empty: off.</summary>
    public string UsageExport { get; set; } = "";

    /// <summary><c>APIGATE_USAGE_EXPORT_MAX_BYTES</c>: the export file's size before it is rotated; default 100 MiB.</summary>
    public long UsageExportMaxBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>
    /// <c>APIGATE_DATABASE_BUSY_TIMEOUT</c>: how long one store write of the running gateway waits for SQLite's database lock (held by another process, a
    /// CLI or a backup) before the attempt counts as busy (<c>apigate_store_busy_total</c>) and is tried again; default
    /// 2 s. Background writes retry until the lock is released; admin API writes fail with the reason instead of
    /// holding a request thread longer. CLI verbs wait 30 s.
    /// </summary>
    public TimeSpan StoreBusyTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary><c>APIGATE_CONFIG_POLL_INTERVAL</c>: how often the store is checked for config changes; default 250 ms, at least 100 ms.</summary>
    public TimeSpan ConfigPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// <c>APIGATE_ADMIN_BASE_PATH</c>: where the admin REST API is served; default <c>/admin</c>. Requests under it never
    /// reach the routes.
    /// </summary>
    public string AdminBasePath { get; set; } = "/admin";

    /// <summary>
    /// <c>APIGATE_ADMIN_LISTEN</c>: <c>HOST:PORT</c> of a second listener that alone serves the admin API and
    /// <c>/metrics</c> (e.g. <c>127.0.0.1:9091</c>, <c>[::1]:9091</c>; port 0 picks a free one), so management stays
    /// off the public port. Empty (default): both are served on the main port; when that port serves plain HTTP on an
    /// address other than loopback, that is warned about at start (event 7033, <see cref="Admin.AdminListener.MainPortClearTextRemedy"/>).
    /// </summary>
    public string AdminListen { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_ADMIN_UI_ENABLED</c>: serve the admin web console at <c>/ui</c> on the admin listener (on the main port
    /// when there is no admin listener); default true. Login needs an admin token.
    /// </summary>
    public bool AdminUiEnabled { get; set; } = true;

    /// <summary>
    /// <c>APIGATE_ADMIN_UI_SESSION_IDLE</c>: an admin UI session ends after this long without a request; default 8 hours.
    /// </summary>
    public TimeSpan AdminUiSessionIdle { get; set; } = TimeSpan.FromHours(8);

    /// <summary>
    /// <c>APIGATE_ADMIN_UI_BASE_URL</c>: the console's public address as operators reach it (e.g.
    /// <c>https://gateway-admin.example.com</c>) through a proxy that rewrites the <c>Host</c> header; a form post whose
    /// <c>Origin</c> names it is taken as the console's own when the browser sends no <c>Sec-Fetch-Site</c>. Scheme,
    /// host and port only (no path, query, fragment or user info: the console is always at <c>/ui</c>). Empty
    /// (default): only the <c>Host</c> the gateway received.
    /// </summary>
    public string AdminUiBaseUrl { get; set; } = "";

    /// <summary><c>APIGATE_PORTAL_ENABLED</c>: serve the customer portal at <c>/portal</c> on the public listener (docs/portal.md); default false.</summary>
    public bool PortalEnabled { get; set; }

    /// <summary><c>APIGATE_PORTAL_APP_NAME</c>: the product name the portal and its emails show; default <c>APIGate</c>.</summary>
    public string PortalAppName { get; set; } = "APIGate";

    /// <summary>
    /// <c>APIGATE_PORTAL_BASE_URL</c>: the portal's public address as customers reach it (e.g.
    /// <c>https://developers.example.com</c>), used for the links in emails. Scheme, host and port only (no path,
    /// query, fragment or user info: the portal is always at <c>/portal</c>). Empty: the address of the request that
    /// triggered the email, when that is a loopback address.
    /// </summary>
    public string PortalBaseUrl { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_PORTAL_REQUIRE_VERIFICATION</c>: a new account must follow the emailed link before it can log in;
    /// default true. Without SMTP (<c>APIGATE_SMTP_URL</c>) sign-up is refused unless this is false.
    /// </summary>
    public bool PortalRequireVerification { get; set; } = true;

    /// <summary>
    /// <c>APIGATE_PORTAL_PLAN_CHANGE</c>: what a customer may change to on the plan page when no billing provider is
    /// configured: <c>free</c> (default: visible plans priced 0, with no overage price) or <c>none</c>.
    /// </summary>
    public string PortalPlanChange { get; set; } = "free";

    /// <summary><c>APIGATE_SMTP_URL</c>: <c>smtp://user:pass@host:port</c> (STARTTLS when the server offers it) or <c>smtps://…</c> (TLS from the start); empty: no email.</summary>
    public string SmtpUrl { get; set; } = "";

    /// <summary><c>APIGATE_SMTP_FROM</c>: the sender of portal emails, e.g. <c>API &lt;no-reply@example.com&gt;</c>.</summary>
    public string SmtpFrom { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_SMTP_TIMEOUT</c>: how long the SMTP server may take to answer each step of sending (connect, greeting,
    /// each command); past it the attempt ends with a logged error; default 30 s (100 ms to 5 min).
    /// </summary>
    public TimeSpan SmtpTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary><c>APIGATE_WEBHOOK_TIMEOUT</c>: how long one webhook delivery attempt may take (connect to response headers); default 10 s.</summary>
    public TimeSpan WebhookTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <c>APIGATE_WEBHOOK_MAX_AGE</c>: how long a webhook delivery is retried (exponential back-off from
    /// <see cref="WebhookRetryBase"/>) before it is marked failed; default 24 h.
    /// </summary>
    public TimeSpan WebhookMaxAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary><c>APIGATE_WEBHOOK_RETRY_BASE</c>: the wait after a webhook delivery's first failed attempt, doubled after each further one (at most 1 h; each wait spread by up to a fifth at random), or longer when the endpoint's <c>Retry-After</c> asks (at most 1 h); default 5 s.</summary>
    public TimeSpan WebhookRetryBase { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>APIGATE_WEBHOOK_POLL_INTERVAL</c>: how often the delivery worker looks for events recorded by other processes (CLI, other instances); default 1 s.</summary>
    public TimeSpan WebhookPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>APIGATE_WEBHOOK_RETENTION</c>: how long finished webhook deliveries (delivered or failed, with their attempts)
    /// and the events no delivery refers to any more are kept; default 30 days, at least <see cref="WebhookMaxAge"/>.
    /// Pending deliveries are kept however old.
    /// </summary>
    public TimeSpan WebhookRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// <c>APIGATE_WEBHOOK_USAGE_THRESHOLD</c>: the share of a user's quota whose crossing sends <c>usage.threshold</c>
    /// (once per user and quota period); between 0 and 1 exclusive, default 0.8.
    /// </summary>
    public double WebhookUsageThreshold { get; set; } = 0.8;
    /// <summary><c>APIGATE_BILLING_PROVIDER</c>: <c>none</c> (default: no billing) or <c>stripe</c> (docs/billing.md).</summary>
    public string BillingProvider { get; set; } = "none";

    /// <summary><c>APIGATE_STRIPE_SECRET_KEY</c>: the Stripe secret (or restricted) API key; required with <c>stripe</c>. Never logged or shown.</summary>
    public string StripeSecretKey { get; set; } = "";

    /// <summary><c>APIGATE_STRIPE_WEBHOOK_SECRET</c>: the signing secret (<c>whsec_…</c>) of the Stripe webhook endpoint; required with <c>stripe</c>.</summary>
    public string StripeWebhookSecret { get; set; } = "";

    /// <summary><c>APIGATE_STRIPE_API_BASE</c>: the Stripe API's base URL; empty (default) for Stripe's own. For tests and proxies.</summary>
    public string StripeApiBase { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_BILLING_PAYMENT_FAILED</c>: what <c>invoice.payment_failed</c> does: <c>suspend</c> (default: the user's keys
    /// stop working until a paid subscription event), <c>default-plan</c> (moved to the default plan) or <c>none</c>.
    /// </summary>
    public string BillingPaymentFailed { get; set; } = "suspend";
    /// <c>APIGATE_TRUSTED_PROXIES</c>: comma-separated CIDRs and addresses (IPv4, IPv6) of proxies in front of the
    /// gateway. From a peer in them the client address is the right-most address of <c>X-Forwarded-For</c> (else
    /// <c>Forwarded</c>, else <c>X-Real-IP</c>) that is not itself trusted; from any other peer those headers are ignored
    /// and the peer is the client. Empty (default): no proxy is trusted. See docs/routing.md.
    /// </summary>
    public string TrustedProxies { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_TLS_CERT_FILE</c>: a PEM certificate (leaf first, then intermediates) the main listener serves over TLS,
    /// with <see cref="TlsKeyFile"/>. Empty (default): plain HTTP unless <see cref="TlsCertDir"/> is set. See docs/tls.md.
    /// </summary>
    public string TlsCertFile { get; set; } = "";

    /// <summary><c>APIGATE_TLS_KEY_FILE</c>: the unencrypted PEM private key of <see cref="TlsCertFile"/>.</summary>
    public string TlsKeyFile { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_TLS_CERT_DIR</c>: a directory of certificates chosen by the client's server name (SNI):
    /// <c>NAME.crt</c> + <c>NAME.key</c>, <c>NAME.pem</c>, or certbot's <c>NAME/fullchain.pem</c> + <c>NAME/privkey.pem</c>.
    /// Empty (default): none. See docs/tls.md.
    /// </summary>
    public string TlsCertDir { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_TLS_REDIRECT_LISTEN</c>: <c>HOST:PORT</c> of a plain-HTTP listener that answers every request with a
    /// 308 redirect to https on the main port (e.g. <c>0.0.0.0:80</c>). Empty (default): none. Needs TLS.
    /// </summary>
    public string TlsRedirectListen { get; set; } = "";

    /// <summary>
    /// <c>APIGATE_TLS_REDIRECT_PORT</c>: the port the redirects of <see cref="TlsRedirectListen"/> name (1-65535; 443 is
    /// left out of the URL), for a main port that clients reach on another number (a container publishing 443 for an
    /// internal 8443). Null (default): the main listener's own port. Needs <see cref="TlsRedirectListen"/>.
    /// </summary>
    public int? TlsRedirectPort { get; set; }

    /// <summary>
    /// <c>APIGATE_TLS_RELOAD_INTERVAL</c>: how often the certificate files are checked for changes in addition to
    /// file-system notifications; default 1 minute.
    /// </summary>
    public TimeSpan TlsReloadInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// <c>APIGATE_ADMIN_TLS</c>: when TLS is on, the admin listener (<see cref="AdminListen"/>) serves TLS too, with the
    /// same certificates; default true. False keeps it plain HTTP (e.g. on 127.0.0.1 for a local scraper); on an address
    /// other than loopback that is warned about at start (event 7032, <see cref="Admin.AdminListener.ClearTextRemedy"/>).
    /// </summary>
    public bool AdminTls { get; set; } = true;
}
