using System.Globalization;
using StackExchange.Redis;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// <c>APIGATE_REDIS_URL</c> parsed once at start: <c>redis://[[user]:password@]host[:port][/db]</c>, <c>rediss://</c>
/// for TLS, or <c>unix://[[user]:password@]/path/to/redis.sock[?db=N]</c> for a Redis on the same host listening on a
/// Unix domain socket. A user info without a colon is the password (Redis before ACLs has no user names). The password
/// is never part of a message: problems and <see cref="ToString"/> name the host and port (or the socket's path) only.
/// </summary>
internal sealed class RedisUrl
{
    private RedisUrl(string host, int port, bool tls, string? user, string? password, int database, string? socketPath = null)
    {
        Host = host;
        Port = port;
        Tls = tls;
        User = user;
        Password = password;
        Database = database;
        SocketPath = socketPath;
    }

    /// <summary>The host name or address; for a Unix domain socket, its path.</summary>
    public string Host { get; }

    /// <summary>The Unix domain socket's path for a <c>unix://</c> URL, else null.</summary>
    public string? SocketPath { get; }

    public int Port { get; }

    public bool Tls { get; }

    public string? User { get; }

    public string? Password { get; }

    public int Database { get; }

    /// <summary>What messages name: <c>host:port</c> (or <c>unix:PATH</c>), never the user info.</summary>
    public override string ToString() =>
        SocketPath is not null ? $"unix:{SocketPath}" : Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>Null when <paramref name="text"/> is a usable Redis URL, else why not (without the password).</summary>
    public static string? Validate(string text) => TryParse(text, out _, out var problem) ? null : problem;

    /// <summary>Parses a URL that <see cref="Validate"/> accepted.</summary>
    public static RedisUrl Parse(string text) =>
        TryParse(text, out var url, out var problem) ? url : throw new ArgumentException($"redis.url (APIGATE_REDIS_URL): {problem}");

    public static bool TryParse(string text, out RedisUrl url, out string problem)
    {
        url = null!;
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd < 0 ? "" : text[..schemeEnd].ToLowerInvariant();
        if (scheme is not ("redis" or "rediss" or "unix"))
        {
            problem = schemeEnd < 0
                ? "is not a URL; write it as redis://[:password@]host[:port][/db], rediss://… for TLS or unix:///path/to/redis.sock"
                : $"scheme '{text[..schemeEnd]}' is not redis://, rediss:// or unix://";
            return false;
        }

        var rest = text[(schemeEnd + 3)..];
        string? user = null;
        string? password = null;
        var at = rest.LastIndexOf('@'); // a password may itself contain '@'
        if (at >= 0)
        {
            var info = rest[..at];
            rest = rest[(at + 1)..];
            var colon = info.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                password = Uri.UnescapeDataString(info);
            }
            else
            {
                user = colon == 0 ? null : Uri.UnescapeDataString(info[..colon]);
                password = Uri.UnescapeDataString(info[(colon + 1)..]);
            }
        }

        if (scheme == "unix")
        {
            return TryParseSocket(rest, user, password, out url, out problem);
        }

        if (rest.IndexOfAny(['?', '#']) >= 0)
        {
            // Not echoed: what follows may be a password (redis://host:6379?password=…).
            problem = "takes no query (?…) or fragment (#…): write it as redis://[user:password@]host[:port][/db]; a password goes before the host";
            return false;
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? "" : rest[(slash + 1)..].TrimEnd('/');
        string host;
        var portText = "";
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            host = close < 0 ? "" : authority[1..close];
            if (close >= 0 && (close + 1 < authority.Length && authority[close + 1] != ':'
                || !System.Net.IPAddress.TryParse(host, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6))
            {
                // Before, what followed the bracket was dropped unread: [::1]6380 (a colon forgotten) went to port 6379,
                // which may be another deployment's Redis.
                problem = $"host '{authority}' is not an IPv6 address in brackets, [address] or [address]:port";
                return false;
            }

            portText = close >= 0 && close + 1 < authority.Length ? authority[(close + 2)..] : "";
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? "" : authority[(colon + 1)..];
        }

        if (host.Length == 0 || host.Contains(' ', StringComparison.Ordinal))
        {
            problem = "has no host; write it as redis://[:password@]host[:port][/db]";
            return false;
        }

        var port = 6379;
        if (portText.Length > 0 && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"port '{portText}' of host {host} is not a number between 1 and 65535";
            return false;
        }

        var database = 0;
        if (path.Length > 0 && (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out database) || database > 10_000))
        {
            problem = $"database '{path}' of host {host} is not a database number (e.g. /0)";
            return false;
        }

        url = new RedisUrl(host, port, scheme == "rediss", user, password, database);
        problem = "";
        return true;
    }

    /// <summary>
    /// The part of a <c>unix://</c> URL after the user info: an absolute path, then at most <c>?db=N</c>. Any other query
    /// is refused without being echoed (it may hold a password).
    /// </summary>
    private static bool TryParseSocket(string rest, string? user, string? password, out RedisUrl url, out string problem)
    {
        url = null!;
        var query = rest.IndexOf('?', StringComparison.Ordinal);
        var path = Uri.UnescapeDataString(query < 0 ? rest : rest[..query]);
        var queryText = query < 0 ? "" : rest[(query + 1)..];
        if (!path.StartsWith('/') || path.Length == 1 || path.EndsWith('/') || path.Contains('\0', StringComparison.Ordinal) || rest.Contains('#', StringComparison.Ordinal))
        {
            problem = "has no socket path; write it as unix://[:password@]/path/to/redis.sock[?db=N] (three slashes: the path is absolute)";
            return false;
        }

        var database = 0;
        if (queryText.Length > 0)
        {
            var value = queryText.StartsWith("db=", StringComparison.Ordinal) ? queryText[3..] : null;
            if (value is null || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out database) || database > 10_000)
            {
                problem = $"takes only ?db=N after the socket path {path} (a password goes before the path: unix://:password@/path)";
                return false;
            }
        }

        url = new RedisUrl(path, 0, tls: false, user, password, database, socketPath: path);
        problem = "";
        return true;
    }

    /// <summary>
    /// The least time a connection is given to be made: TCP, TLS, AUTH and the client's own first commands, several
    /// round trips by a process that may have just started on a busy host (every step compiled on first use, each
    /// wake-up queued behind other processes). Not the per-call timeout: no request waits on a connection being made
    /// (commands fail at once while disconnected), and with that timeout's 1 s a start on a loaded host failed as
    /// "cannot reach Redis" with Redis up and answering. The price: a Redis that is not there may take this long to be
    /// reported at start (an unreachable Redis still stops the start).
    /// </summary>
    public static readonly TimeSpan MinConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Client options: bounded timeouts on every call, commands fail at once while disconnected (the gateway falls back
    /// instead of queueing requests behind a dead connection), reconnection in the background. For <c>rediss://</c>
    /// the server's certificate is checked by <paramref name="trust"/>.
    /// </summary>
    public ConfigurationOptions ToOptions(TimeSpan timeout, RedisTlsTrust trust)
    {
        var milliseconds = (int)Math.Ceiling(timeout.TotalMilliseconds);
        var options = new ConfigurationOptions
        {
            User = User,
            Password = Password,
            Ssl = Tls,
            SslHost = Tls ? Host : null,
            DefaultDatabase = Database,
            AbortOnConnectFail = false,
            ConnectTimeout = Math.Max(milliseconds, (int)MinConnectTimeout.TotalMilliseconds),
            SyncTimeout = milliseconds,
            AsyncTimeout = milliseconds,
            // Timeouts are checked on each heartbeat: a short one keeps the wait of a stuck call close to the timeout.
            HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Clamp(milliseconds / 2, 100, 1000)),
            BacklogPolicy = BacklogPolicy.FailFast,
            ReconnectRetryPolicy = new LinearRetry(500),
            ClientName = "apigate",
            ConnectRetry = 1,
        };
        if (Tls)
        {
            options.CertificateValidation += trust.Check;
        }

        if (SocketPath is not null)
        {
            options.EndPoints.Add(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath));
        }
        else
        {
            options.EndPoints.Add(Host, Port);
        }

        return options;
    }
}
