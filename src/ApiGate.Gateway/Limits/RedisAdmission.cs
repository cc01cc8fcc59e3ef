using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ApiGate.Core.Quotas;
using ApiGate.Core.RateLimiting;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Admission with the buckets and quota counters in Redis (SPEC §12), shared by every instance: one atomic script per
/// request does bucket + quota (<see cref="RedisLimitScripts.Admit"/>) on the multiplexed connection; settling a lease
/// sends a script only when the metered units differ from the admitted one, without waiting for it.
/// <para>
/// Reconciliation: the store is the record (every unit travels with its usage event); Redis is the fast path. A
/// counter missing in Redis is seeded from the store's counter inside the admission script, so concurrent instances
/// never seed it twice.
/// </para>
/// <para>
/// When a Redis call fails or times out (<see cref="GatewayOptions.RedisTimeout"/>), Redis counts as unavailable until
/// a probe answers: in <c>open</c> mode requests are admitted by per-instance buckets and counters (last known Redis
/// usage, or the store's when larger, + the units counted here), and those units are added to Redis before it counts
/// as available again; in <c>closed</c> mode they get <c>503 limits_unavailable</c>. Each change is logged once.
/// </para>
/// </summary>
internal sealed partial class RedisAdmission : IAdmission, IQuotaLedger, IAsyncDisposable
{
    /// <summary>How often an unavailable Redis is probed (and a connection loss noticed without traffic).</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How often a probe that finds no connection asks Redis itself whether it refuses the URL's credentials.</summary>
    private static readonly TimeSpan CredentialsCheckInterval = TimeSpan.FromSeconds(1);
    /// <summary>Quota counters outlive their month by this much (late settlements of the month's last requests still land).</summary>
    public static readonly TimeSpan QuotaRetention = TimeSpan.FromDays(7);

    /// <summary>
    /// How often, while Redis is unavailable, every user's stored quota units are read for the <c>open</c> fallback
    /// (<see cref="ReadStoredUsageWhenDue"/>); the first read comes with the first probe after Redis went away.
    /// </summary>
    public static readonly TimeSpan StoredUsageInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often the key names and local counters only past months need are let go (<see cref="Sweep"/>).</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long Redis must have answered <see cref="AnswersAsRedisAsync"/> while the client stays disconnected before the
    /// client is replaced by a fresh one (<see cref="ClientStuckWhileRedisAnswersAsync"/>): its own reconnect, which takes
    /// a Redis that is back within half a second, is given that long first.
    /// </summary>
    private static readonly TimeSpan ReplaceAfter = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>PING</c> in RESP: the only thing <see cref="AnswersAsRedisAsync"/> and <see cref="GreetAtStartAsync"/> send, and
    /// what <see cref="CredentialsRefusedAsync"/> sends before the password.
    /// </summary>
    private static readonly byte[] PingCommand = "*1\r\n$4\r\nPING\r\n"u8.ToArray();

    /// <summary>How long the TLS handshake of <see cref="SpeaksTlsAsync"/> may take.</summary>
    private static readonly TimeSpan TlsProbeBound = TimeSpan.FromSeconds(2);

    /// <summary>A bucket idle this much longer than it takes to refill completely expires (it would be full anyway).</summary>
    private const long BucketIdleMarginMs = 60_000;

    private static readonly byte[] AdmitHash = System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(RedisLimitScripts.Admit));
    private static readonly byte[] AddHash = System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(RedisLimitScripts.Add));

    private readonly RedisUrl _url;
    private readonly RedisTlsTrust _trust;
    private readonly string _prefix;
    private readonly TimeSpan _timeout;
    private readonly bool _failOpen;
    private readonly QuotaSeeds _seeds;
    private readonly IRedisHandoverStore? _handover;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisAdmission> _logger;
    private readonly InProcessRateLimiter _fallbackBuckets;
    private readonly ConcurrentDictionary<string, KeyNames> _keyNames = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string UserId, DateTimeOffset Period), LocalQuota> _local = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Core.Timing.OncePer _sweep = new(SweepInterval);
    private ConnectionMultiplexer? _connection;
    private IDatabase? _database;

    /// <summary>
    /// A client still connecting, taken into use by the probe once it returns: the first one, started by the probe once
    /// Redis answers after a start without it, or a fresh one replacing a client that stayed disconnected while Redis
    /// answered. Null otherwise.
    /// </summary>
    private Task<ConnectionMultiplexer>? _connecting;

    /// <summary>
    /// Since when Redis has answered the probe while the client stayed disconnected (<see cref="ClientStuckWhileRedisAnswersAsync"/>);
    /// null while it does not answer, or the client is connected. Only the probe reads and writes it.
    /// </summary>
    private DateTimeOffset? _answeringSince;
    private Task? _probe;
    private Task? _storedRead;
    private Task? _takeOver;
    private DateTimeOffset _storedReadDue;
    private int _storedReadNow;
    private string? _dataSet;
    private int _available;
    private int _pendingUnits;
    private long _outages;

    /// <summary>1 once the probe logged that Redis refuses the gateway (<see cref="LogRefused"/>), until Redis is taken back.</summary>
    private int _refusalLogged;

    /// <summary>When the probe may next ask Redis itself whether it refuses the URL's credentials (<see cref="CredentialsRefusedAsync"/>).</summary>
    private DateTimeOffset _credentialsCheckDue;
    private long _fallbackAdmissions;
    private long _seedFailureLoggedAt;
    private long _brokenCounterLoggedAt;
    private int _disposed;

    /// <param name="handover">
    /// Where units counted here and not yet in Redis go at a stop when Redis does not answer, and where units other
    /// instances left that way are taken from (<see cref="HandOverAsync"/>); null: such units are lost for Redis (logged).
    /// </param>
    public RedisAdmission(GatewayOptions options, QuotaSeeds seeds, TimeProvider timeProvider, ILogger<RedisAdmission> logger, IRedisHandoverStore? handover = null)
    {
        _url = RedisUrl.Parse(options.RedisUrl);
        _trust = RedisTlsTrust.Create(options.RedisCaFile);
        _prefix = options.RedisPrefix;
        _timeout = options.RedisTimeout;
        _failOpen = options.LimitsOnRedisFailure != "closed";
        _seeds = seeds;
        _handover = handover;
        _time = timeProvider;
        _logger = logger;
        _fallbackBuckets = new InProcessRateLimiter(timeProvider);
    }

    /// <summary>True while Redis answers; false while the fallback (open) or 503 (closed) applies.</summary>
    public bool Available => Volatile.Read(ref _available) != 0;

    /// <summary>True in <c>open</c> mode (<see cref="GatewayOptions.LimitsOnRedisFailure"/>).</summary>
    public bool FailsOpen => _failOpen;

    /// <summary>How many times Redis became unavailable since start.</summary>
    public long Outages => Interlocked.Read(ref _outages);

    /// <summary>Requests admitted by the per-instance fallback since start.</summary>
    public long FallbackAdmissions => Interlocked.Read(ref _fallbackAdmissions);

    /// <summary>Where Redis is, as messages name it (host:port, never the password).</summary>
    public string Endpoint => _url.ToString();

    /// <summary>
    /// Connects and checks that Redis answers (and accepts the password). A Redis that is not running yet — nothing
    /// listens on its port, its <c>unix://</c> socket file does not exist, or (<c>redis://</c>, <c>unix://</c>) what
    /// takes the connection does not answer a <c>PING</c> as Redis (<see cref="GreetAtStartAsync"/>) — does not stop the start: the gateway
    /// starts with Redis unavailable, as if it had been lost while serving (open: per-instance limits; closed: 503
    /// limits_unavailable), logged once, and the probe takes Redis into use once it answers. Every other failure (a
    /// wrong password, TLS that does not match the URL, an untrusted certificate, a user that may not run scripts, a
    /// host that does not answer) will not heal by waiting and stops the start, in both modes.
    /// </summary>
    /// <exception cref="InvalidOperationException">Redis refused the gateway or cannot be reached; the message names the setting and the host.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        // The client's connection log is the one place that says why a first connection failed (it holds no password).
        // Not disposed: when Redis is not running yet, the client goes on connecting (and writing to it) after this returns.
        var log = new StringWriter(CultureInfo.InvariantCulture);

        // The client's first bytes on a connection carry the password (AUTH): in plain text, Redis must answer a PING
        // there first. (With TLS the client sends it only to a server whose certificate it trusts.)
        if (!_url.Tls && await GreetAtStartAsync(cancellationToken) is { } notRedis)
        {
            if (notRedis.NotRunning)
            {
                StartUnavailable(notRedis.Error);
                return;
            }

            throw notRedis.Error;
        }

        // Beside the client's own connect, one plain connect to the same address, given the same bound: a refusal (nothing
        // listens there), or a socket file that is missing or not to be opened, is then known at once. The client learns
        // it as fast, but when the failure comes before it starts waiting for the server, it waits for the whole bound anyway.
        using var probing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        probing.CancelAfter(ConnectBound);
        var refusal = RefusalAsync(probing.Token);
        var connecting = ConnectionMultiplexer.ConnectAsync(_url.ToOptions(_timeout, _trust), log);
        if (await Task.WhenAny(connecting, refusal) == refusal && await refusal is { } atOnce)
        {
            DisposeOnceConnected(connecting);
            if (atOnce.NotRunning)
            {
                StartUnavailable(atOnce.Error);
                return;
            }

            throw atOnce.Error;
        }

        ConnectionMultiplexer connection;
        try
        {
            connection = await connecting;
        }
        catch
        {
            await probing.CancelAsync(); // the probe's connect is not left waiting for the system's own timeout
            throw;
        }

        if (connection.IsConnected)
        {
            await probing.CancelAsync();
        }

        try
        {
            if (!connection.IsConnected && await refusal is { } refused)
            {
                if (refused.NotRunning)
                {
                    await connection.DisposeAsync();
                    StartUnavailable(refused.Error);
                    return;
                }

                throw refused.Error;
            }

            if (!connection.IsConnected && _trust.LastFailure is { } untrusted)
            {
                throw new InvalidOperationException($"redis.url (APIGATE_REDIS_URL): TLS to Redis at {_url} failed: {untrusted}");
            }

            if (!connection.IsConnected && _url.Tls && log.ToString().Contains("Configuring TLS", StringComparison.Ordinal))
            {
                // Connected, and then no TLS handshake: a server without TLS waits for a command and never answers one.
                throw new InvalidOperationException(
                    $"redis.url (APIGATE_REDIS_URL): TLS to Redis at {_url} failed: the server took the connection but did not complete a TLS handshake within {Format(ConnectBound.TotalMilliseconds)} (a server without TLS needs a redis:// URL)");
            }

            if (!connection.IsConnected && IsAuthenticationFailure(log.ToString()))
            {
                throw new InvalidOperationException(
                    $"redis.url (APIGATE_REDIS_URL): Redis at {_url} refused the user and password in the URL (a wrong password, or none given to a server that requires one): write it as redis://[user]:password@host:port/db");
            }

            if (!connection.IsConnected && !_url.Tls && _url.SocketPath is null && await SpeaksTlsAsync(cancellationToken))
            {
                // A TLS-only server closes a plain connection on its first bytes: the client retried until its bound
                // and only knows that it never connected.
                throw ExpectsTls();
            }

            if (!connection.IsConnected)
            {
                throw NoConnection();
            }

            var database = connection.GetDatabase();
            await database.PingAsync().WaitAsync(cancellationToken);
            _connection = connection;
            _database = database;
            await IsSameDataSetAsync();
            await CheckScriptsRunAsync();
        }
        catch (Exception ex) when (ex is RedisException or RedisCommandException or TimeoutException)
        {
            // RedisCommandException is not a RedisException: the client raises it for a database number past the
            // server's 'databases' setting (redis://host/99 on a default server).
            await connection.DisposeAsync();
            throw new InvalidOperationException($"redis.url (APIGATE_REDIS_URL): Redis at {_url} refused the gateway: {FirstLine(ex.Message)}", ex);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        // What the fallback starts from if Redis fails before this instance has seen a user's counter: the store's
        // (when it answers in time; else the fallback learns each user's total from Redis's replies).
        var period = QuotaPeriod.StartOf(_time.GetUtcNow());
        try
        {
            foreach (var (userId, used) in await _seeds.GetAllAsync(period, cancellationToken))
            {
                Local(userId, period).Observe(used);
            }
        }
        catch (QuotaSeedUnavailableException)
        {
            // Not needed to start: the totals come with Redis's replies, and a fallback before them starts from zero.
        }

        Volatile.Write(ref _available, 1);
        LogConnected(_url.ToString(), _failOpen ? "open" : "closed");
        TakeHandedOverUnits(); // what instances that stopped during an outage left for this data set; the probe adds it
        _probe = ProbeAsync(_stopping.Token);
    }

    /// <summary>How long the first connection may take: the timeout, and at least <see cref="RedisUrl.MinConnectTimeout"/>.</summary>
    private TimeSpan ConnectBound => _timeout > RedisUrl.MinConnectTimeout ? _timeout : RedisUrl.MinConnectTimeout;

    /// <summary>
    /// What a failed plain connect to Redis's address says: a missing or unopenable socket file, or nothing listening on
    /// the port (Redis not running yet); null for any other failure, which the client's own connect then reports.
    /// </summary>
    private Refusal? ConnectRefusal(SocketException ex) =>
        _url.SocketPath is { } socketPath ? SocketFileRefusal(socketPath, ex.SocketErrorCode)
        : ex.SocketErrorCode == SocketError.ConnectionRefused
            ? Refused("the connection was refused (nothing listens on that port; is Redis running there?)", notRunning: true)
            : null;

    private Refusal Refused(string why, bool notRunning = false) =>
        new(new InvalidOperationException($"redis.url (APIGATE_REDIS_URL): cannot reach Redis at {_url}: {why}"), notRunning);

    private InvalidOperationException NoConnection() =>
        new($"redis.url (APIGATE_REDIS_URL): cannot reach Redis at {_url} (no connection within {Format(ConnectBound.TotalMilliseconds)}{(_url.Tls || _url.SocketPath is not null ? "" : "; a server that accepts only TLS needs a rediss:// URL")})");

    private InvalidOperationException ExpectsTls() =>
        new($"redis.url (APIGATE_REDIS_URL): Redis at {_url} expects TLS (it answered with a TLS handshake), but a redis:// URL speaks plain text to it: use a rediss:// URL");

    /// <summary>
    /// Before the client connects to a plain-text address (<c>redis://</c>, <c>unix://</c>): whether Redis itself
    /// answers there. The client sends the password first thing on a connection, so it connects only to an address
    /// where a <c>PING</c>, sent without it, got Redis's reply (<c>+PONG</c>, or an error such as <c>-NOAUTH</c>). Null
    /// when Redis answered, or when the address cannot be asked (the client's own connect then decides). Else why not:
    /// to start without Redis (<see cref="Refusal.NotRunning"/>) when nothing listens, the socket file is missing, or
    /// what took the connection closed it or gave no reply as Redis within the timeout (another service on that port,
    /// a container runtime's port proxy published before Redis listens); to stop the start when the connection was
    /// not even made within the connect bound, or the server speaks only TLS.
    /// </summary>
    private async Task<Refusal?> GreetAtStartAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(ConnectBound);
        var (socket, endpoint) = PlainSocket();
        using (socket)
        {
            try
            {
                await socket.ConnectAsync(endpoint, bounded.Token);
            }
            catch (SocketException ex)
            {
                return ConnectRefusal(ex);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new Refusal(NoConnection(), NotRunning: false);
            }

            // A reply slower than the timeout is an outage like any other call's; a long timeout (up to 60 s) does not
            // hold the start that long on something that never answers.
            var replyBound = _timeout < ProbeInterval ? ProbeInterval : _timeout > TlsProbeBound ? TlsProbeBound : _timeout;
            bounded.CancelAfter(replyBound);
            var read = 0;
            var reply = new byte[1];
            try
            {
                await using var network = new NetworkStream(socket, ownsSocket: false);
                await network.WriteAsync(PingCommand, bounded.Token);
                read = await network.ReadAsync(reply, bounded.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // Reset: closed without a reply.
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Refused(
                    $"something took the connection but gave no reply to a PING within {Format(replyBound.TotalMilliseconds)} (not Redis, or a port proxy with no Redis behind it yet); the password was not sent to it",
                    notRunning: true);
            }

            if (read == 1 && reply[0] is (byte)'+' or (byte)'-')
            {
                return null;
            }

            if (read == 0 && _url.SocketPath is null && await SpeaksTlsAsync(cancellationToken))
            {
                return new Refusal(ExpectsTls(), NotRunning: false); // a TLS-only server closes a plain connection on its first bytes
            }

            return Refused(
                read == 0
                    ? "something took the connection and closed it without replying to a PING (not Redis, or a port proxy with no Redis behind it yet)"
                    : "something that is not Redis took the connection (its reply to a PING is not Redis's); the password was not sent to it",
                notRunning: true);
        }
    }

    /// <summary>
    /// Starts with Redis unavailable (<see cref="ConnectAsync"/>: not running yet, or not answering as Redis), exactly
    /// as after losing it while serving: logged once, the fallback of the mode applies, and the probe takes Redis into
    /// use once it answers: no client is connected until then. The probe asks on each tick whether Redis answers a
    /// <c>PING</c> there (<see cref="AnswersAsRedisAsync"/>; a port that only accepts connections does not count) and,
    /// once it does, connects the client (<see cref="ProbeAsync"/>), which takes a running Redis at once and sends the
    /// password to it, not to whatever held the address before.
    /// </summary>
    private void StartUnavailable(InvalidOperationException why)
    {
        Interlocked.Increment(ref _outages);
        Volatile.Write(ref _storedReadNow, 1); // the first probe reads the store's usage for the fallback
        LogUnavailableAtStart(_url.ToString(), _failOpen ? "serving with per-instance limits (open)" : "answering 503 limits_unavailable (closed)",
            why.Message);
        _probe = ProbeAsync(_stopping.Token);
    }

    /// <summary>
    /// Whether the server at the URL's address answers a TLS handshake (it sends a certificate), asked once a
    /// <c>redis://</c> connection failed, so that a server that accepts only TLS is named as such instead of looking
    /// unreachable. The certificate is only looked at, never accepted: the handshake is given up and nothing is sent.
    /// Bounded by <see cref="TlsProbeBound"/>; false when it is not answered in time or fails otherwise.
    /// </summary>
    private async Task<bool> SpeaksTlsAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TlsProbeBound);
        var presented = false;
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(_url.Host, _url.Port, bounded.Token);
            await using var tls = new System.Net.Security.SslStream(client.GetStream());
            await tls.AuthenticateAsClientAsync(
                new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = _url.Host,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        presented = certificate is not null;
                        return false;
                    },
                },
                bounded.Token);
        }
        catch (Exception ex) when (ex is SocketException or IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            // Refused by the callback (a TLS server), or not TLS at all, or no answer in time.
        }

        return presented;
    }

    /// <summary>
    /// What a plain connect to Redis's address says at once, as the error to stop the start with: the connection was
    /// refused (every address of the host refused it), or for a <c>unix://</c> URL the socket file does not exist, is a
    /// directory, or may not be opened by the gateway's user. Null when it connects, fails otherwise, or is not answered
    /// before <paramref name="cancellationToken"/>: then the client's own connect decides.
    /// </summary>
    private async Task<Refusal?> RefusalAsync(CancellationToken cancellationToken)
    {
        var (socket, endpoint) = PlainSocket();
        using (socket)
        {
            try
            {
                await socket.ConnectAsync(endpoint, cancellationToken);
                return null;
            }
            catch (SocketException ex)
            {
                return ConnectRefusal(ex);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Whether Redis itself answers at its address now, within <see cref="ProbeInterval"/> (<see cref="TlsProbeBound"/>
    /// with TLS): a connection (TLS for a <c>rediss://</c> URL, the certificate checked as the client checks it) on which
    /// a <c>PING</c> gets a reply: <c>+PONG</c>, or an error such as <c>-NOAUTH</c> from a Redis that wants the password
    /// first, Redis all the same. Only the <c>PING</c> is sent, no <c>AUTH</c>: the password goes nowhere the client does
    /// not send it. Something else that accepts connections there (a container runtime's port proxy published before
    /// Redis listens, a hung service) says nothing, or closes: false, as when nothing listens.
    /// </summary>
    private async Task<bool> AnswersAsRedisAsync(CancellationToken stoppingToken)
    {
        // (Only while Redis is unavailable, at most every 250 ms: the reply buffer is not worth pooling.)
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        bounded.CancelAfter(_url.Tls ? TlsProbeBound : ProbeInterval);
        var (socket, endpoint) = PlainSocket();
        using (socket)
        {
            try
            {
                await socket.ConnectAsync(endpoint, bounded.Token);
                await using var network = new NetworkStream(socket, ownsSocket: false);
                await using var tls = _url.Tls ? new System.Net.Security.SslStream(network, leaveInnerStreamOpen: true, _trust.Check) : null;
                if (tls is not null)
                {
                    await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = _url.Host }, bounded.Token);
                }

                var stream = (Stream?)tls ?? network;
                await stream.WriteAsync(PingCommand, bounded.Token);
                var reply = new byte[1];
                return await stream.ReadAsync(reply, bounded.Token) == 1 && reply[0] is (byte)'+' or (byte)'-';
            }
            catch (Exception ex) when (ex is SocketException or IOException or System.Security.Authentication.AuthenticationException)
            {
                return false; // refused, the socket file still missing, closed without a reply, or a certificate not trusted
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                return false; // no reply in time
            }
        }
    }

    /// <summary>
    /// Whether the client, disconnected, should be replaced by a fresh one: Redis has answered
    /// <see cref="AnswersAsRedisAsync"/> for <see cref="ReplaceAfter"/> and the client still has no connection. Its own
    /// reconnect can sit on a connection that something else accepted while Redis was away (a port proxy published
    /// before Redis listens again, with nothing behind it yet) until the connect bound, up to 60 s; a fresh client
    /// connects to the Redis now answering at once. Not while Redis refuses the credentials (<see cref="LogRefusalOnceAsync"/>
    /// logged it): a fresh client would be refused too, and the client's own reconnect takes Redis once they are fixed.
    /// </summary>
    private async Task<bool> ClientStuckWhileRedisAnswersAsync(CancellationToken stoppingToken)
    {
        if (Volatile.Read(ref _refusalLogged) != 0 || !await AnswersAsRedisAsync(stoppingToken))
        {
            _answeringSince = null;
            return false;
        }

        var now = _time.GetUtcNow();
        _answeringSince ??= now;
        return now - _answeringSince.Value >= ReplaceAfter;
    }

    /// <summary>A socket of the URL's kind (TCP, or a Unix domain socket) and the address to connect it to.</summary>
    private (Socket Socket, EndPoint EndPoint) PlainSocket() => _url.SocketPath is { } path
        ? (new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified), new UnixDomainSocketEndPoint(path))
        : (new Socket(SocketType.Stream, ProtocolType.Tcp), new DnsEndPoint(_url.Host, _url.Port));

    /// <summary>Why a connect to a Unix domain socket at <paramref name="path"/> failed at once, or null to let the client's connect decide.</summary>
    private Refusal? SocketFileRefusal(string path, SocketError error)
    {
        // A file that is not a socket refuses as a socket nobody listens on does (ECONNREFUSED); a missing one says ENOENT.
        // Denied first: a file in a folder the gateway's user may not search does not seem to exist either.
        if (error == SocketError.AccessDenied)
        {
            return Refused($"the gateway's user may not open the socket file {path} (permission denied: see Redis's unixsocketperm and the folder's permissions)");
        }

        if (Directory.Exists(path))
        {
            return Refused($"{path} is a directory, not a socket (set the path of Redis's unixsocket)");
        }

        if (!File.Exists(path))
        {
            return Refused($"the socket file {path} does not exist (is Redis running, with unixsocket set to that path?)", notRunning: true);
        }

        return error == SocketError.ConnectionRefused
            ? Refused($"the connection was refused (nothing listens on that socket, or {path} is not a socket; is Redis running there?)")
            : null;
    }

    /// <summary>
    /// A connect given up on after a refusal: the client returns only at its bound, or once it gave up itself; then its
    /// connection (reconnecting in the background meanwhile) is closed; a connect that failed instead has its error
    /// observed (the refusal already said why).
    /// </summary>
    private static void DisposeOnceConnected(Task<ConnectionMultiplexer> connecting) =>
        _ = connecting.ContinueWith(
            static done =>
            {
                if (done.IsCompletedSuccessfully)
                {
                    done.Result.Dispose();
                }
                else
                {
                    _ = done.Exception;
                }
            },
            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    /// <summary>
    /// At a graceful stop, once the last requests have settled: the units this instance counted on its own during an
    /// outage and has not added to Redis yet are added there if Redis answers, else handed to the store for the next
    /// instance that reaches the same data set (<see cref="TakeHandedOverUnits"/>). Dropped, they were missing from the
    /// shared counters for the rest of the month (the store holds them, but never seeds a counter that exists), and
    /// every instance admitted that much more. Logged either way; lost for Redis only when the store refuses them too.
    /// </summary>
    public async Task HandOverAsync(CancellationToken cancellationToken)
    {
        // No probe may add (or a take hand) units while they are counted here.
        await StopBackgroundWorkAsync();
        if (Available && Volatile.Read(ref _pendingUnits) != 0)
        {
            try
            {
                await FlushPendingAsync();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Gone again: what could not be sent is still pending and handed over below.
            }
        }

        var left = new List<QuotaUsage>();
        foreach (var ((userId, period), local) in _local)
        {
            var units = Interlocked.Exchange(ref local.Pending, 0);
            if (units != 0)
            {
                left.Add(new QuotaUsage(userId, period, units, 0));
            }
        }

        if (left.Count == 0 || _dataSet is not { } dataSet)
        {
            return;
        }

        var total = left.Sum(u => u.Used);
        if (_handover is null)
        {
            LogHandOverFailed(_url.ToString(), total, left.Count, "no store to hand them to");
            return;
        }

        try
        {
            await _handover.HandOverRedisUnitsAsync(dataSet, left, cancellationToken);
            LogHandedOver(_url.ToString(), total, left.Count);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            LogHandOverFailed(_url.ToString(), total, left.Count, FirstLine(ex.Message));
        }
    }

    /// <summary>
    /// Every admission runs a script: a server that runs none for this user (an ACL without <c>@scripting</c>, a service
    /// with scripting turned off) is refused at start, once, instead of being taken for an outage by every request, and
    /// an unavailable one is not taken back until it runs them.
    /// Adding 0 changes nothing; a key of another type there (WRONGTYPE) shows that the script ran too.
    /// </summary>
    private async Task CheckScriptsRunAsync()
    {
        try
        {
            await EvaluateAsync(RedisLimitScripts.Add, AddHash, [_prefix + "probe"], [0]);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal))
        {
        }
    }

    /// <summary>
    /// Asks Redis, on a connection of its own, whether it takes the URL's user and password: the client, reconnecting by
    /// itself, only reports that it has no connection. What Redis said when it refuses them (<c>WRONGPASS</c>,
    /// <c>NOAUTH</c>); null when it takes them or cannot be asked (nothing listens, no answer within <see cref="TlsProbeBound"/>,
    /// or what answers is not Redis). A <c>PING</c> goes first, and the password only once Redis replied to it
    /// (<c>+PONG</c>, or <c>-NOAUTH</c> from a Redis that wants it): something else that took the address (another
    /// service, a port proxy with no Redis behind it) is never sent the password.
    /// </summary>
    internal async Task<string?> CredentialsRefusedAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TlsProbeBound);
        try
        {
            using var socket = _url.SocketPath is null
                ? new Socket(SocketType.Stream, ProtocolType.Tcp)
                : new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(_url.SocketPath is { } path ? new UnixDomainSocketEndPoint(path) : new DnsEndPoint(_url.Host, _url.Port), bounded.Token);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (_url.Tls)
            {
                var tls = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: false, _trust.Check);
                stream = tls;
                await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = _url.Host }, bounded.Token);
            }

            await using (stream)
            {
                using var reader = new StreamReader(stream, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: false, 1024, leaveOpen: true);
                await stream.WriteAsync(PingCommand, bounded.Token);
                var pong = await reader.ReadLineAsync(bounded.Token);
                if (pong is null || !(pong.StartsWith('+') || pong.StartsWith('-')))
                {
                    return null; // closed, or not Redis: the password is not sent
                }

                if (_url.Password is not { } password)
                {
                    return pong.StartsWith('-') && IsAuthenticationFailure(pong) ? pong[1..] : null;
                }

                var auth = new System.Text.StringBuilder();
                AppendCommand(auth, _url.User is { } user ? ["AUTH", user, password] : ["AUTH", password]);
                await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(auth.ToString()), bounded.Token);
                var line = await reader.ReadLineAsync(bounded.Token);
                if (line is not null && line.StartsWith('-') && IsAuthenticationFailure(line))
                {
                    return line[1..];
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            // Not to be asked now: the probe goes on, and asks again later.
        }

        return null;
    }

    /// <summary>One command in RESP, as the client sends it.</summary>
    private static void AppendCommand(System.Text.StringBuilder request, string[] args)
    {
        request.Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            request.Append('$').Append(System.Text.Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }
    }

    /// <summary>
    /// What Redis said when it answered but refused the gateway (the password: <c>WRONGPASS</c>, <c>NOAUTH</c>; the
    /// user's permissions: <c>NOPERM</c>), from a failed call or its causes; null for any other failure (an outage).
    /// </summary>
    private static string? RefusalOf(Exception? ex)
    {
        for (Exception? cause = ex; cause is not null; cause = cause.InnerException)
        {
            if (cause is RedisServerException server && (server.Message.StartsWith("WRONGPASS", StringComparison.Ordinal)
                || server.Message.StartsWith("NOAUTH", StringComparison.Ordinal) || server.Message.StartsWith("NOPERM", StringComparison.Ordinal)))
            {
                return FirstLine(server.Message);
            }

            if (cause is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure } refused)
            {
                return FirstLine(refused.Message);
            }
        }

        return null;
    }

    /// <summary>Whether the client's connection log says the server refused the credentials (AUTH, or a command without them).</summary>
    private static bool IsAuthenticationFailure(string log) =>
        log.Contains("AuthenticationFailure", StringComparison.Ordinal) || log.Contains("WRONGPASS", StringComparison.Ordinal)
        || log.Contains("NOAUTH", StringComparison.Ordinal) || log.Contains("invalid password", StringComparison.OrdinalIgnoreCase);

    public ValueTask<AdmissionResult> AdmitAsync(RequestIdentity caller, bool rateLimited, CancellationToken cancellationToken) =>
        Available ? AdmitInRedisAsync(caller, rateLimited, cancellationToken) : ValueTask.FromResult(Fallback(caller, rateLimited));

    public void Settle(string userId, QuotaDecision admitted, long units)
    {
        var delta = units - 1;
        if (delta != 0)
        {
            Add(userId, admitted.ResetAt.AddMonths(-1), delta);
        }
    }

    public void Refund(string userId, DateTimeOffset periodReset, long units = 1) => Add(userId, periodReset.AddMonths(-1), -units);

    /// <summary>Units counted here and not yet in Redis (tests, diagnostics).</summary>
    public long PendingUnits(string userId) =>
        _local.TryGetValue((userId, QuotaPeriod.StartOf(_time.GetUtcNow())), out var local) ? Interlocked.Read(ref local.Pending) : 0;

    /// <summary>The user's units in the store at its last read for the fallback, or null before one (tests, diagnostics).</summary>
    public long? StoredUnits(string userId) =>
        _local.TryGetValue((userId, QuotaPeriod.StartOf(_time.GetUtcNow())), out var local) ? Volatile.Read(ref local.Stored)?.Used : null;

    /// <summary>The Redis key of a user's quota counter for the period starting at <paramref name="period"/>.</summary>
    public string QuotaKey(string userId, DateTimeOffset period) =>
        $"{_prefix}{{{userId}}}:q:{period.ToString("yyyy-MM", CultureInfo.InvariantCulture)}";

    /// <summary>The Redis key of an API key's token bucket (hash-tagged by its owner).</summary>
    public string BucketKey(string userId, string keyId) => $"{_prefix}{{{userId}}}:rl:{keyId}";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return; // registered as itself and as IAdmission: the container disposes it twice
        }

        await StopBackgroundWorkAsync();
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_connecting is not null)
        {
            DisposeOnceConnected(_connecting); // not taken into use yet: the client still connecting is closed when it returns
        }

        _stopping.Dispose();
    }

    /// <summary>Ends the probe and the store reads it started (cancelled with it; bounded: a database that hangs does not hold the stop).</summary>
    private async Task StopBackgroundWorkAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync();
        }

        if (_probe is not null)
        {
            await _probe.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        foreach (var work in (Task?[])[_storedRead, _takeOver])
        {
            if (work is not null)
            {
                await work.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async ValueTask<AdmissionResult> AdmitInRedisAsync(RequestIdentity caller, bool rateLimited, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var period = QuotaPeriod.StartOf(now);
        var keys = KeysFor(caller, period);
        var plan = caller.Plan;
        var bucket = plan.Bucket;
        var limit = plan.Definition.RequestsPerMonth;
        var args = new RedisValue[]
        {
            now.ToUnixTimeMilliseconds(),
            bucket.TokensPerSecond,
            rateLimited ? bucket.Capacity : 0,
            rateLimited && bucket.TokensPerSecond > 0 ? (long)Math.Ceiling(bucket.Capacity / bucket.TokensPerSecond * 1000) + BucketIdleMarginMs : BucketIdleMarginMs,
            limit,
            caller.AllowsOverage ? 1 : 0,
            -1,
            period.AddMonths(1).Add(QuotaRetention).ToUnixTimeSeconds(),
        };

        RedisResult[] reply;
        try
        {
            reply = (RedisResult[])(await EvaluateAsync(RedisLimitScripts.Admit, AdmitHash, keys.Keys, args))!;
            var first = (long)reply[0];
            if (first is RedisLimitScripts.NeedsSeed or RedisLimitScripts.BrokenCounterNeedsSeed)
            {
                if (first == RedisLimitScripts.BrokenCounterNeedsSeed && OncePerSecond(ref _brokenCounterLoggedAt))
                {
                    LogBrokenCounter(keys.Keys[1].ToString());
                }

                args[6] = await SeedAsync(caller.User.Id, period, cancellationToken);
                reply = (RedisResult[])(await EvaluateAsync(RedisLimitScripts.Admit, AdmitHash, keys.Keys, args))!;
            }
        }
        catch (RedisServerException ex) when (IsAboutTheKeys(ex))
        {
            // Redis is up and answered, with an error about this user's keys (a key of another type written by
            // something else, say): not an outage — this request is decided locally, every other user's still in Redis.
            LogScriptRefused(caller.User.Id, FirstLine(ex.Message));
            return Fallback(caller, rateLimited, evenWhenClosed: true);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // A script that was sent but not answered may still run (a stalled server runs what it was sent once it
            // resumes): its unit is left to Redis. Only one that never left this process is counted here. Never twice.
            var sent = !NeverSent(ex);
            MarkUnavailable(ex);
            if (sent && !_failOpen)
            {
                // Closed mode refuses this request (503), but the unit its script may still take in Redis would be
                // charged to the user for nothing: it is given back once Redis answers again (with the units counted
                // here meanwhile). Should the script not have run after all, the user is one unit short, never over.
                AddPending(caller.User.Id, period, -1);
            }

            return Fallback(caller, rateLimited, countLocally: !sent);
        }

        var status = (long)reply[0];
        var tokens = double.Parse((string)reply[1]!, CultureInfo.InvariantCulture);
        var used = (long)reply[2];
        RateLimitDecision? rate = rateLimited ? Decision(tokens >= 0 ? tokens : 0, bucket, status != RedisLimitScripts.RateLimited, now) : null;
        if (status == RedisLimitScripts.RateLimited)
        {
            return new AdmissionResult(AdmissionVerdict.RateLimited, rate, null, null);
        }

        if (status == RedisLimitScripts.QuotaLeftToTheInstance)
        {
            // The store could not seed the missing counter: the bucket was shared in Redis, the quota is decided here.
            return Fallback(caller, rateLimited, evenWhenClosed: true, decided: rate);
        }

        Local(caller.User.Id, period).Observe(used);
        var reset = period.AddMonths(1);
        if (status == RedisLimitScripts.QuotaExceeded)
        {
            return new AdmissionResult(AdmissionVerdict.QuotaExceeded, rate, new QuotaDecision(false, false, limit, used, reset), null);
        }

        var quota = new QuotaDecision(true, (long)reply[3] == 1, limit, used, reset);
        return new AdmissionResult(AdmissionVerdict.Admitted, rate, quota, new QuotaLease(this, caller.User.Id, quota));
    }

    /// <summary>
    /// The seed of a missing quota counter from the store, or <see cref="RedisLimitScripts.Unseedable"/> when the store
    /// cannot give it in time (<see cref="QuotaSeeds"/> bounds the wait): Redis then decides the bucket only and this
    /// instance the quota; a later request asks again. Logged at most once a second.
    /// </summary>
    private async Task<long> SeedAsync(string userId, DateTimeOffset period, CancellationToken cancellationToken)
    {
        try
        {
            return await _seeds.GetAsync(userId, period, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (OncePerSecond(ref _seedFailureLoggedAt))
            {
                LogSeedFailed(userId, ex.Message);
            }

            return RedisLimitScripts.Unseedable;
        }
    }

    /// <summary>True at most once a second per <paramref name="loggedAt"/> (a timestamp field), for logs a request may repeat.</summary>
    private bool OncePerSecond(ref long loggedAt)
    {
        var at = _time.GetTimestamp();
        var last = Interlocked.Read(ref loggedAt);
        return (last == 0 || _time.GetElapsedTime(last, at) >= TimeSpan.FromSeconds(1)) && Interlocked.CompareExchange(ref loggedAt, at, last) == last;
    }

    /// <summary>
    /// The per-instance decision while Redis is unavailable (open mode): a local bucket per key and, per user, the last
    /// usage Redis reported plus the units counted here since — or, when larger, the usage the store last reported (every
    /// instance's, <see cref="ReadStoredUsageWhenDue"/>) plus the units counted here after it was read. With
    /// <paramref name="decided"/> the bucket was decided in Redis already (a counter the store could not seed) and only
    /// the quota is decided here.
    /// </summary>
    private AdmissionResult Fallback(RequestIdentity caller, bool rateLimited, bool evenWhenClosed = false, bool countLocally = true, RateLimitDecision? decided = null)
    {
        if (!_failOpen && !evenWhenClosed)
        {
            return AdmissionResult.LimitsUnavailable;
        }

        Interlocked.Increment(ref _fallbackAdmissions);
        var plan = caller.Plan;
        RateLimitDecision? rate = decided;
        if (rateLimited && decided is null)
        {
            var taken = _fallbackBuckets.TryTake(caller.Key.Id, plan.Bucket);
            rate = taken;
            if (!taken.Allowed)
            {
                return new AdmissionResult(AdmissionVerdict.RateLimited, rate, null, null);
            }
        }

        var period = QuotaPeriod.StartOf(_time.GetUtcNow());
        var reset = period.AddMonths(1);
        var limit = plan.Definition.RequestsPerMonth;
        var local = Local(caller.User.Id, period);
        while (true)
        {
            var pending = Interlocked.Read(ref local.Pending);
            var counted = pending + Interlocked.Read(ref local.Unseeded);
            var used = Interlocked.Read(ref local.Known) + counted;
            if (Volatile.Read(ref local.Stored) is { } stored)
            {
                // Both are lower bounds of the user's usage; the store's also holds what other instances admitted.
                used = Math.Max(used, stored.Used + counted - stored.CountedBefore);
            }

            var over = limit > 0 && used + 1 > limit;
            if (over && !caller.AllowsOverage)
            {
                return new AdmissionResult(AdmissionVerdict.QuotaExceeded, rate, new QuotaDecision(false, false, limit, used, reset), null);
            }

            if (!countLocally || Interlocked.CompareExchange(ref local.Pending, pending + 1, pending) == pending)
            {
                Volatile.Write(ref _pendingUnits, 1);
                var quota = new QuotaDecision(true, over, limit, used + 1, reset);
                return new AdmissionResult(AdmissionVerdict.Admitted, rate, quota, new QuotaLease(this, caller.User.Id, quota));
            }
        }
    }

    private void Add(string userId, DateTimeOffset period, long delta)
    {
        if (Available)
        {
            _ = AddInRedisAsync(userId, period, delta); // the result is not needed; a failure keeps the units locally
        }
        else
        {
            AddPending(userId, period, delta);
        }
    }

    private async Task AddInRedisAsync(string userId, DateTimeOffset period, long delta)
    {
        try
        {
            await EvaluateAsync(RedisLimitScripts.Add, AddHash, [QuotaKey(userId, period)], [delta]);
        }
        catch (RedisServerException ex) when (IsAboutTheKeys(ex))
        {
            Refused(userId, period, delta, ex); // answered with an error: Redis is up, these units cannot be added
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            if (NeverSent(ex))
            {
                AddPending(userId, period, delta); // else sent: Redis adds it when it gets to it
            }

            MarkUnavailable(ex);
        }
    }

    /// <summary>
    /// Units Redis refused to add to a user's counter (a key of another type there): logged, and counted here like units
    /// Redis has no counter for, so the user's requests, decided here while the key is broken, stay within the quota.
    /// They stop counting here once Redis reports the user's total again (the key gone, seeded from the store, which holds them).
    /// </summary>
    private void Refused(string userId, DateTimeOffset period, long units, RedisServerException ex)
    {
        Interlocked.Add(ref Local(userId, period).Unseeded, units);
        LogAddRefused(userId, units, FirstLine(ex.Message));
    }

    private void AddPending(string userId, DateTimeOffset period, long delta)
    {
        Interlocked.Add(ref Local(userId, period).Pending, delta);
        Volatile.Write(ref _pendingUnits, 1);
    }

    private LocalQuota Local(string userId, DateTimeOffset period) => _local.GetOrAdd((userId, period), static _ => new LocalQuota());

    private KeyNames KeysFor(RequestIdentity caller, DateTimeOffset period)
    {
        if (_keyNames.TryGetValue(caller.Key.Id, out var names) && names.Period == period && string.Equals(names.UserId, caller.User.Id, StringComparison.Ordinal))
        {
            return names;
        }

        names = new KeyNames(caller.User.Id, period, [BucketKey(caller.User.Id, caller.Key.Id), QuotaKey(caller.User.Id, period)]);
        _keyNames[caller.Key.Id] = names;
        return names;
    }

    /// <summary>Key names and local quota counters held now; for tests and diagnostics.</summary>
    internal int HeldEntries => _keyNames.Count + _local.Count;

    /// <summary>
    /// Lets go of what only past months needed, so memory holds this month's keys and users rather than every one ever
    /// seen: key names built for an earlier month (a request of this month builds its own), and local counters of
    /// months whose Redis counters have expired (<see cref="QuotaRetention"/> after the month) with nothing pending.
    /// </summary>
    internal void Sweep()
    {
        var now = _time.GetUtcNow();
        var period = QuotaPeriod.StartOf(now);
        foreach (var entry in _keyNames)
        {
            if (entry.Value.Period < period)
            {
                _keyNames.TryRemove(entry);
            }
        }

        foreach (var entry in _local)
        {
            if (entry.Key.Period.AddMonths(1).Add(QuotaRetention) <= now && Interlocked.Read(ref entry.Value.Pending) == 0)
            {
                _local.TryRemove(entry);
            }
        }
    }

    /// <summary>The same decision <see cref="TokenBucket.TryTake"/> reports, from the tokens the script left.</summary>
    private static RateLimitDecision Decision(double tokens, TokenBucketPolicy policy, bool allowed, DateTimeOffset now)
    {
        var retryAfter = TimeSpan.Zero;
        if (!allowed)
        {
            var seconds = policy.TokensPerSecond > 0 ? Math.Ceiling((1 - tokens) / policy.TokensPerSecond) : 60;
            retryAfter = TimeSpan.FromSeconds(Math.Max(1, seconds));
        }

        var untilFull = policy.TokensPerSecond > 0 ? (policy.Capacity - tokens) / policy.TokensPerSecond : 0;
        return new RateLimitDecision(allowed, (long)policy.Capacity, (long)Math.Floor(tokens), retryAfter, TokenBucket.FullAt(now, untilFull));
    }

    private void MarkUnavailable(Exception? cause)
    {
        if (Interlocked.CompareExchange(ref _available, 0, 1) == 1)
        {
            Interlocked.Increment(ref _outages);
            Volatile.Write(ref _storedReadNow, 1); // the next probe reads the store's usage for the fallback
            LogUnavailable(_url.ToString(), _failOpen ? "serving with per-instance limits (open)" : "answering 503 limits_unavailable (closed)",
                cause is null ? "connection lost" : FirstLine(cause.Message));
        }
    }

    /// <summary>Probes an unavailable Redis; once it answers, adds the units counted here, then uses it again.</summary>
    private async Task ProbeAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ProbeInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (_sweep.Due(_time.GetUtcNow()))
                {
                    Sweep();
                    if (Available)
                    {
                        TakeHandedOverUnits(); // left by an instance that stopped while Redis was unavailable only to it
                    }
                }

                try
                {
                    if (!Available)
                    {
                        ReadStoredUsageWhenDue();
                        if (_connection is null && _connecting is null)
                        {
                            // No client yet (Redis was not running, or something else held its address, at start): it
                            // is connected once Redis itself answers there, so its handshake, with the password, goes
                            // to Redis alone; it connects to a running Redis at once, and is taken on the next tick.
                            if (await AnswersAsRedisAsync(stoppingToken))
                            {
                                _connecting = ConnectionMultiplexer.ConnectAsync(_url.ToOptions(_timeout, _trust));
                            }

                            continue;
                        }

                        if (_connecting is { } connecting)
                        {
                            // The first client, or one replacing a client that stayed disconnected: it returns its
                            // connection at once when Redis answers, else at its connect bound.
                            if (!connecting.IsCompleted)
                            {
                                // Redis answered, and the client has not connected yet: a Redis that refuses the password
                                // keeps it trying until its bound, so Redis itself is asked meanwhile.
                                await LogRefusalOnceAsync(null, stoppingToken);
                                continue;
                            }

                            if (!connecting.IsCompletedSuccessfully)
                            {
                                _ = connecting.Exception; // observed; a client of its own is started instead
                                _connecting = ConnectionMultiplexer.ConnectAsync(_url.ToOptions(_timeout, _trust));
                                continue;
                            }

                            _connecting = null;
                            _connection = connecting.Result;
                            _database = _connection.GetDatabase();
                        }
                        else if (!_connection!.IsConnected && await ClientStuckWhileRedisAnswersAsync(stoppingToken))
                        {
                            // The old client is closed at once (its connections with it); the fresh one is taken once
                            // it returns. Requests do not touch either: Redis is unavailable until the probe takes it.
                            var stuck = _connection;
                            _answeringSince = null;
                            _connecting = ConnectionMultiplexer.ConnectAsync(_url.ToOptions(_timeout, _trust));
                            LogClientReplaced(_url.ToString(), Format(ReplaceAfter.TotalMilliseconds));
                            await stuck.DisposeAsync();
                            continue;
                        }


                        // A write, not only a PING: a Redis that answers but takes no writes (maxmemory reached under
                        // noeviction, a read-only replica) would be taken back only to fail the next admission again.
                        await _database!.StringSetAsync(_prefix + "probe", "1", ProbeInterval + ProbeInterval);
                        // And a script: one that refuses scripts (an ACL changed meanwhile) would fail every admission again.
                        await CheckScriptsRunAsync();
                        var added = await FlushPendingAsync();
                        _seeds.Forget(); // counters missing from Redis now are seeded from the store as it is now
                        Volatile.Write(ref _available, 1);
                        Volatile.Write(ref _refusalLogged, 0);
                        _answeringSince = null;
                        LogRecovered(_url.ToString(), added);
                        TakeHandedOverUnits(); // left by instances stopped during the outage; added at the next tick
                    }
                    else if (!_connection!.IsConnected)
                    {
                        MarkUnavailable(null);
                    }
                    else if (Volatile.Read(ref _pendingUnits) != 0)
                    {
                        await FlushPendingAsync(); // units counted locally while the state changed back
                    }
                    else
                    {
                        // Keeps the data set this instance counts in current, so a loss is told apart from one that
                        // happened while this instance was connected (and had nothing pending).
                        await IsSameDataSetAsync();
                    }
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    MarkUnavailable(ex); // still down (or down again): try on the next tick
                    await LogRefusalOnceAsync(ex, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>
    /// Answering, but refusing the gateway: waiting alone will not heal it, so the operator is told, once; the probe
    /// goes on, so fixing the password or the ACL on Redis's side takes it back. What Redis said comes with
    /// <paramref name="failure"/>, or, when the client only knows that it has no connection (or none was made yet:
    /// null), from asking Redis itself at most every <see cref="CredentialsCheckInterval"/>.
    /// </summary>
    private async Task LogRefusalOnceAsync(Exception? failure, CancellationToken stoppingToken)
    {
        var said = RefusalOf(failure);
        if (said is null && (failure is null or RedisConnectionException) && Volatile.Read(ref _refusalLogged) == 0 && _time.GetUtcNow() >= _credentialsCheckDue)
        {
            _credentialsCheckDue = _time.GetUtcNow() + CredentialsCheckInterval;
            said = await CredentialsRefusedAsync(stoppingToken);
        }

        if (said is not null && Interlocked.Exchange(ref _refusalLogged, 1) == 0)
        {
            LogRefused(_url.ToString(), _failOpen ? "serving with per-instance limits (open)" : "answering 503 limits_unavailable (closed)", FirstLine(said));
        }
    }

    /// <summary>
    /// While Redis is unavailable, reads every user's stored quota units for this month — at once after it went away,
    /// then every <see cref="StoredUsageInterval"/>, one read at a time, in the background — for the <c>open</c> fallback.
    /// Without it the fallback knew a user only by the totals Redis reported to this instance: a user who had spent
    /// the quota through other instances started afresh here. The store holds every instance's units (their usage
    /// events, written in batches), so during a long outage the instances also see one another's admissions, a batch
    /// late. A store that does not answer either leaves the fallback with what it knew.
    /// </summary>
    private void ReadStoredUsageWhenDue()
    {
        var now = _time.GetUtcNow();
        if (_storedRead is { IsCompleted: false } || (now < _storedReadDue && Volatile.Read(ref _storedReadNow) == 0))
        {
            return;
        }

        Volatile.Write(ref _storedReadNow, 0);
        _storedReadDue = now + StoredUsageInterval;
        _storedRead = ReadStoredUsageAsync(QuotaPeriod.StartOf(now));
    }

    private async Task ReadStoredUsageAsync(DateTimeOffset period)
    {
        // The units counted here before the read may be in what it returns or not yet (a batch not written); those
        // counted after it cannot be: they are added to what the store says.
        foreach (var ((_, localPeriod), local) in _local)
        {
            if (localPeriod == period)
            {
                local.CountedAtRead = Interlocked.Read(ref local.Pending) + Interlocked.Read(ref local.Unseeded);
            }
        }

        IReadOnlyDictionary<string, long> stored;
        try
        {
            stored = await _seeds.ReadAsync(period, _stopping.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
        {
            return; // the store does not answer either: the fallback goes on from what it knows; tried again when due
        }

        foreach (var (userId, used) in stored)
        {
            var local = Local(userId, period);
            if (Volatile.Read(ref local.Stored) is not { } known || known.Used != used || known.CountedBefore != local.CountedAtRead)
            {
                Volatile.Write(ref local.Stored, new StoredUsage(used, local.CountedAtRead)); // most users' are unchanged between reads
            }
        }
    }

    /// <summary>
    /// Takes, in the background, the units that instances stopped during an outage handed to the store
    /// (<see cref="HandOverAsync"/>) for the data set this instance counts in, and makes them its own pending units, which
    /// the probe adds to Redis as it adds those counted here — only while Redis still holds that data set (one that lost
    /// its data is seeded from the store, which holds the units). One take at a time; a store that does not answer keeps
    /// them for a later one (at the next recovery, start or sweep).
    /// </summary>
    private void TakeHandedOverUnits()
    {
        if (_handover is not null && _dataSet is { } dataSet && _takeOver is not { IsCompleted: false } && !_stopping.IsCancellationRequested)
        {
            _takeOver = TakeHandedOverUnitsAsync(_handover, dataSet);
        }
    }

    private async Task TakeHandedOverUnitsAsync(IRedisHandoverStore handover, string dataSet)
    {
        IReadOnlyList<QuotaUsage> taken;
        try
        {
            // Periods whose Redis counters have expired (QuotaRetention after the month) have nothing to add them to: a
            // period before the one QuotaRetention ago ended more than QuotaRetention ago.
            var expiredBefore = QuotaPeriod.StartOf(_time.GetUtcNow() - QuotaRetention);
            taken = await handover.TakeRedisUnitsAsync(dataSet, expiredBefore, _stopping.Token);
        }
        catch (Exception)
        {
            return; // the store does not answer (or this instance stops): they stay there for a later take
        }

        long units = 0;
        foreach (var u in taken)
        {
            AddPending(u.UserId, u.PeriodStart, u.Used);
            units += u.Used;
        }

        if (taken.Count > 0)
        {
            LogTakenOver(_url.ToString(), units, taken.Count);
        }
    }

    /// <summary>
    /// Whether Redis still holds the data set this instance last counted in. Every data set is named by a random id
    /// under <c>{prefix}data-set</c>, written by the first instance that finds none: a Redis that lost its data
    /// (restarted without persistence, flushed) has none, or the one another instance wrote since. Remembers the id.
    /// </summary>
    private async Task<bool> IsSameDataSetAsync()
    {
        var key = _prefix + "data-set";
        string? current;
        try
        {
            current = (string?)await _database!.StringGetAsync(key);
        }
        catch (RedisServerException ex) when (IsAboutTheKeys(ex))
        {
            // Something else wrote a key of another type there. Not an outage (taken for one, it never ended: every probe
            // read it again): the key is replaced by a new data set, as if Redis had lost its data, which never counts a
            // unit twice. Logged by the instance whose name was written.
            var name = Guid.NewGuid().ToString("N");
            current = await ReplaceBrokenDataSetAsync(_database!, key, name);
            if (string.Equals(current, name, StringComparison.Ordinal))
            {
                LogDataSetReplaced(key, FirstLine(ex.Message));
            }
        }

        if (current is null)
        {
            await _database!.StringSetAsync(key, Guid.NewGuid().ToString("N"), when: When.NotExists);
            current = (string?)await _database.StringGetAsync(key);
        }

        var same = _dataSet is not null && string.Equals(current, _dataSet, StringComparison.Ordinal);
        _dataSet = current;
        return same;
    }

    /// <summary>The data-set name at <paramref name="key"/> after replacing a key of another type there with <paramref name="name"/>.</summary>
    internal static async Task<string?> ReplaceBrokenDataSetAsync(IDatabase database, string key, string name) =>
        (string?)await database.ScriptEvaluateAsync(RedisLimitScripts.ReplaceBrokenDataSet, [key], [name]);

    /// <summary>
    /// Adds every locally counted unit to its Redis counter; what cannot be sent stays pending. Returns the units added.
    /// If Redis lost its data meanwhile, nothing is added: the store holds those units (with their usage events) and
    /// seeds the new counters, so a counter another instance already seeded again would count them twice.
    /// </summary>
    private async Task<long> FlushPendingAsync()
    {
        Volatile.Write(ref _pendingUnits, 0);
        // Units counted before Redis first answered (it was not running at start) belong to whatever data set it holds.
        var first = _dataSet is null;
        if (!await IsSameDataSetAsync() && !first)
        {
            long dropped = 0;
            foreach (var (_, local) in _local)
            {
                var units = Interlocked.Exchange(ref local.Pending, 0);
                Interlocked.Add(ref local.Unseeded, units); // still counted here until the store seeds the counter again
                dropped += units;
            }

            LogDataSetLost(_url.ToString(), dropped);
            return 0;
        }

        long added = 0;
        foreach (var ((userId, period), local) in _local)
        {
            var units = Interlocked.Exchange(ref local.Pending, 0);
            if (units == 0)
            {
                continue;
            }

            try
            {
                var total = await EvaluateAsync(RedisLimitScripts.Add, AddHash, [QuotaKey(userId, period)], [units]);
                if (!total.IsNull)
                {
                    local.Observe((long)total);
                    added += units;
                }
                else
                {
                    // No counter to add them to (Redis lost it, or the store could not seed it yet): the store holds these
                    // units and seeds the counter with them; until it does, they still count in the decisions made here.
                    Interlocked.Add(ref local.Unseeded, units);
                }
            }
            catch (RedisServerException ex) when (IsAboutTheKeys(ex))
            {
                // An error about this counter's key will not go away by sending again: the units are not sent again (so
                // one broken key cannot keep the shared limits from coming back for everyone), but they still count here.
                Refused(userId, period, units, ex);
            }
            catch (Exception ex) when (NeverSent(ex)) // else sent: Redis adds it when it gets to it
            {
                Interlocked.Add(ref local.Pending, units);
                Volatile.Write(ref _pendingUnits, 1);
                throw;
            }
        }

        return added;
    }

    /// <summary>
    /// Runs a script by its SHA1 (EVALSHA: the script's text is neither hashed nor sent per request); a server that
    /// does not know it yet (first use, restarted, SCRIPT FLUSH) gets the text once (EVAL, which also caches it).
    /// </summary>
    private async Task<RedisResult> EvaluateAsync(string script, byte[] hash, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await _database!.ScriptEvaluateAsync(hash, keys, args);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await _database!.ScriptEvaluateAsync(script, keys, args);
        }
    }

    /// <summary>True when the command failed before it was written to Redis (so Redis cannot have applied it).</summary>
    private static bool NeverSent(Exception ex) => ex switch
    {
        RedisConnectionException c => c.CommandStatus is CommandStatus.WaitingToBeSent or CommandStatus.WaitingInBacklog,
        RedisTimeoutException t => t.Commandstatus is CommandStatus.WaitingToBeSent or CommandStatus.WaitingInBacklog,
        RedisServerException => true, // answered with an error: nothing was applied
        _ => false,
    };

    /// <summary>
    /// An error reply about the keys or the script's arithmetic (WRONGTYPE, ERR …: a key of another type, an overflow),
    /// which sending again will not cure; unlike the server-wide ones (LOADING, READONLY, OOM, BUSY, …), which are an
    /// outage like any other.
    /// </summary>
    private static bool IsAboutTheKeys(RedisServerException ex) =>
        ex.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal) || ex.Message.StartsWith("ERR", StringComparison.Ordinal);

    private static string Format(double milliseconds) => milliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Limits are shared through Redis at {Endpoint}; on Redis failure: {Mode}")]
    private partial void LogConnected(string endpoint, string mode);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Error, Message = "Redis at {Endpoint} is unavailable; {Behaviour} until it answers again: {Reason}")]
    private partial void LogUnavailable(string endpoint, string behaviour, string reason);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Error, Message = "Redis at {Endpoint} is unavailable at start; {Behaviour} until it answers: {Reason}")]
    private partial void LogUnavailableAtStart(string endpoint, string behaviour, string reason);

    [LoggerMessage(EventId = 4213, Level = LogLevel.Error,
        Message = "Redis at {Endpoint} answers but refuses the gateway (check the user and password in APIGATE_REDIS_URL, and that the user may run scripts); {Behaviour} until it accepts it: {Reason}")]
    private partial void LogRefused(string endpoint, string behaviour, string reason);

    [LoggerMessage(EventId = 4214, Level = LogLevel.Warning,
        Message = "Redis at {Endpoint} has answered for {Duration} while the client stayed disconnected (its reconnect waits on a connection that did not answer); connecting a fresh client")]
    private partial void LogClientReplaced(string endpoint, string duration);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Warning, Message = "Redis at {Endpoint} answers again; shared limits resumed, {Units} locally counted quota units added")]
    private partial void LogRecovered(string endpoint, long units);

    [LoggerMessage(EventId = 4207, Level = LogLevel.Warning,
        Message = "Redis at {Endpoint} lost its data while this instance could not reach it (restarted without persistence, or flushed): {Units} locally counted quota units are not added; its counters are seeded again from the store, which holds them")]
    private partial void LogDataSetLost(string endpoint, long units);

    [LoggerMessage(EventId = 4208, Level = LogLevel.Error, Message = "Redis key {Key} does not hold the name of the data set (something else wrote it); it is replaced: {Reason}")]
    private partial void LogDataSetReplaced(string key, string reason);

    [LoggerMessage(EventId = 4209, Level = LogLevel.Warning,
        Message = "Redis quota counter {Key} did not hold a whole number (something else wrote it); it is set again from the store's count (logged at most once a second)")]
    private partial void LogBrokenCounter(string key);

    [LoggerMessage(EventId = 4210, Level = LogLevel.Warning,
        Message = "Stopping while Redis at {Endpoint} does not take them: {Units} quota units of {Counters} user counters, counted here during the outage, were handed to the store; the next instance that reaches Redis adds them")]
    private partial void LogHandedOver(string endpoint, long units, int counters);

    [LoggerMessage(EventId = 4211, Level = LogLevel.Error,
        Message = "Stopping while Redis at {Endpoint} does not take them: {Units} quota units of {Counters} user counters, counted here during the outage, could not be handed to the store either and are missing from the shared counters until the month ends (the store still holds them): {Reason}")]
    private partial void LogHandOverFailed(string endpoint, long units, int counters, string reason);

    [LoggerMessage(EventId = 4212, Level = LogLevel.Information,
        Message = "Took {Units} quota units of {Counters} user counters that instances stopped during a Redis outage handed to the store; adding them to Redis at {Endpoint}")]
    private partial void LogTakenOver(string endpoint, long units, int counters);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Error, Message = "Redis refused the admission script for user {UserId} (the request was decided locally; Redis stays in use for everyone else): {Reason}")]
    private partial void LogScriptRefused(string userId, string reason);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Error, Message = "Redis refused to add {Units} quota units for user {UserId}; they are not counted there, only by this instance: {Reason}")]
    private partial void LogAddRefused(string userId, long units, string reason);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Warning,
        Message = "Could not load the stored quota counter to seed Redis for user {UserId} ({Reason}); requests whose counter is missing take their rate-limit token in Redis and their quota unit locally until the store answers (logged at most once a second)")]
    private partial void LogSeedFailed(string userId, string reason);

    /// <summary>
    /// Why a plain connect failed at once (or found no Redis), and whether Redis is merely not running (or not answering
    /// as Redis) yet: the start goes on without it.
    /// </summary>
    private sealed record Refusal(InvalidOperationException Error, bool NotRunning);

    /// <summary>A user's units in the store, and the units this instance had counted when they were read.</summary>
    private sealed record StoredUsage(long Used, long CountedBefore);

    /// <summary>The Redis keys of one API key for one month, built once (not per request).</summary>
    private sealed record KeyNames(string UserId, DateTimeOffset Period, RedisKey[] Keys);

    /// <summary>A user's usage as this instance knows it: the last total Redis reported, and units not yet in Redis.</summary>
    private sealed class LocalQuota
    {
        public long Known;
        public long Pending;

        /// <summary>
        /// Units counted here that Redis has no counter for (it lost its data, or the store could not seed the counter
        /// yet), or refused to add to the one it has (a key of another type). They are never added to Redis — the store holds them with their usage events and seeds the counter with
        /// them — but until a counter exists again they count in the decisions made here: dropped, a user whose counter
        /// cannot be seeded (the store is down too) was admitted without bound.
        /// </summary>
        public long Unseeded;

        /// <summary>The user's units in the store at its last read while Redis was unavailable (<see cref="ReadStoredUsageAsync"/>).</summary>
        public StoredUsage? Stored;

        /// <summary><see cref="Pending"/> + <see cref="Unseeded"/> when the store's last read was sent (written by it alone).</summary>
        public long CountedAtRead;

        /// <summary>
        /// Takes a total Redis reported. A counter exists again, seeded from the store, which holds the unseeded units:
        /// they stop counting here.
        /// </summary>
        public void Observe(long used)
        {
            if (Volatile.Read(ref Unseeded) != 0)
            {
                Interlocked.Exchange(ref Unseeded, 0);
            }

            // Replies arrive out of order under concurrency; the counter only grows within a month (but releases), so keep the largest.
            var known = Interlocked.Read(ref Known);
            while (used > known)
            {
                var seen = Interlocked.CompareExchange(ref Known, used, known);
                if (seen == known)
                {
                    return;
                }

                known = seen;
            }
        }
    }
}
