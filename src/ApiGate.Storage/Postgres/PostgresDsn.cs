using System.Globalization;
using ApiGate.Core.Storage;
using Npgsql;

namespace ApiGate.Storage.Postgres;

/// <summary>
/// <c>APIGATE_DATABASE_DSN</c> for PostgreSQL: an Npgsql connection string (<c>Host=db;Username=apigate;…</c>) or a
/// URL, <c>postgres://user:password@host:port/database?sslmode=require</c> (also <c>postgresql://</c>; user and
/// password percent-decoded; libpq's <c>user</c>, <c>dbname</c>, <c>sslrootcert</c>, <c>sslcert</c>, <c>sslkey</c>, <c>sslpassword</c>,
/// <c>connect_timeout</c>, <c>application_name</c>, <c>target_session_attrs</c> by their libpq names, anything else
/// by its Npgsql name). Messages name the host, port and database, never the password.
/// </summary>
internal static class PostgresDsn
{
    /// <summary>The settings named in messages.</summary>
    public const string Setting = "APIGATE_DATABASE_DSN / --database";

    /// <summary>Connect timeout when the DSN sets none: a gateway starting against a dead host should say so soon.</summary>
    public const int DefaultTimeoutSeconds = 5;

    /// <summary>Parses <paramref name="dsn"/>; <see cref="StoreUnavailableException"/> naming the setting when it is not one.</summary>
    public static NpgsqlConnectionStringBuilder Parse(string dsn) =>
        TryParse(dsn, out var builder, out var problem) ? builder : throw new StoreUnavailableException($"{Setting} {problem}");

    /// <summary>Why <paramref name="dsn"/> is not a connection string or URL (never quoting the password), or null.</summary>
    public static string? Problem(string dsn) => TryParse(dsn, out _, out var problem) ? null : problem;

    private static bool TryParse(string dsn, out NpgsqlConnectionStringBuilder builder, out string problem)
    {
        problem = "";
        try
        {
            if (dsn.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || dsn.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            {
                builder = FromUrl(dsn);
            }
            else
            {
                builder = new NpgsqlConnectionStringBuilder(dsn);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or UriFormatException or KeyNotFoundException)
        {
            // The driver's message may quote the string back, password included: say only what is wrong with it.
            builder = null!;
            problem = $"is not a PostgreSQL connection string or postgres://user:password@host:port/database URL ({Redact(ex.Message, dsn)})";
            return false;
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            problem = "names no PostgreSQL host (Host=… or postgres://user@host/database)";
            return false;
        }

        // Set only if given: another timeout (Command Timeout, Cancellation Timeout) leaves the connect timeout unset.
        if (!builder.ShouldSerialize(nameof(NpgsqlConnectionStringBuilder.Timeout)))
        {
            builder.Timeout = DefaultTimeoutSeconds;
        }

        return true;
    }

    /// <summary>Where a connection string points, for messages: <c>postgres://user@host:port/database</c>, no password.</summary>
    public static string Describe(NpgsqlConnectionStringBuilder builder) =>
        $"postgres://{(string.IsNullOrEmpty(builder.Username) ? "" : builder.Username + "@")}{HostOf(builder)}/{builder.Database}";

    /// <summary>
    /// The host and port alone, as failures name them (an IPv6 address in brackets, <c>[fd00::5]:5432</c>: without them
    /// its last group reads as the port); a list of hosts as it is written (each with its port).
    /// </summary>
    public static string HostOf(NpgsqlConnectionStringBuilder builder) =>
        builder.Host!.Contains(',', StringComparison.Ordinal) ? builder.Host
        : builder.Host.Contains(':', StringComparison.Ordinal) && !builder.Host.StartsWith('[') && !builder.Host.StartsWith('/') ? $"[{builder.Host}]:{builder.Port}"
        : $"{builder.Host}:{builder.Port}";

    private static NpgsqlConnectionStringBuilder FromUrl(string dsn)
    {
        var hosts = LibpqHosts(ref dsn);
        var uri = new Uri(dsn);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = hosts ?? uri.Host.Trim('[', ']'),
            Port = uri.Port > 0 ? uri.Port : 5432,
        };
        var userInfo = uri.UserInfo;
        if (userInfo.Length > 0)
        {
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            switch (name.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = Enum.Parse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
                    break;
                case "connect_timeout":
                    builder.Timeout = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "user":
                    builder.Username = value;
                    break;
                case "dbname":
                    builder.Database = value;
                    break;
                case "application_name":
                    builder.ApplicationName = value;
                    break;
                case "target_session_attrs":
                    builder.TargetSessionAttributes = value;
                    break;
                case "sslrootcert":
                    builder.RootCertificate = value;
                    break;
                case "sslcert":
                    builder.SslCertificate = value;
                    break;
                case "sslkey":
                    builder.SslKey = value;
                    break;
                case "sslpassword":
                    builder.SslPassword = value;
                    break;
                default:
                    // Anything else by its Npgsql name (e.g. "Maximum Pool Size=50" as maximum%20pool%20size=50).
                    builder[name] = value;
                    break;
            }
        }

        return builder;
    }

    /// <summary>
    /// The URL's hosts when <see cref="Uri"/> cannot read them, written as libpq writes them: several, for a failover
    /// (<c>postgres://user@db1:5432,db2:5432/apigate?target_session_attrs=read-write</c>: Npgsql's host list, each with
    /// its port), the directory of a Unix-domain socket, percent-encoded (<c>postgres://user@%2Fvar%2Frun%2Fpostgresql/apigate</c>),
    /// or none at all, for a <c>?host=</c> to name (<c>postgres://user@/apigate?host=/var/run/postgresql</c>: empty).
    /// <paramref name="dsn"/> is then given <c>localhost</c> in their place. Null for one host name or address.
    /// </summary>
    private static string? LibpqHosts(ref string dsn)
    {
        var start = dsn.IndexOf("://", StringComparison.Ordinal) + 3;
        var end = dsn.IndexOfAny(['/', '?', '#'], start);
        end = end < 0 ? dsn.Length : end;
        var at = end > start ? dsn.LastIndexOf('@', end - 1, end - start) : -1;
        var from = at < 0 ? start : at + 1;
        var hosts = dsn[from..end];
        string found;
        var port = "";
        if (hosts.Contains(',', StringComparison.Ordinal))
        {
            found = string.Join(',', hosts.Split(',').Select(HostAndPort));
        }
        else if (hosts.Length == 0)
        {
            found = ""; // libpq's spelling for "the host is in the query" (or its default socket, which Npgsql has not)
        }
        else if (hosts.StartsWith("%2F", StringComparison.OrdinalIgnoreCase))
        {
            var colon = hosts.IndexOf(':', StringComparison.Ordinal);
            found = Uri.UnescapeDataString(colon < 0 ? hosts : hosts[..colon]);
            port = colon < 0 ? "" : hosts[colon..]; // left for Uri to read
        }
        else
        {
            return null;
        }

        dsn = string.Concat(dsn.AsSpan(0, from), "localhost", port, dsn.AsSpan(end));
        return found;
    }

    /// <summary>
    /// One <c>host[:port]</c> of a host list, percent-decoded; an IPv6 address in brackets (<c>[::1]</c>,
    /// <c>[::1]:5432</c>), since without them its last group cannot be told from a port. Anything else is refused
    /// (FormatException): a port that is not one, a colon with no port, an IPv6 address without brackets.
    /// </summary>
    private static string HostAndPort(string entry)
    {
        string host;
        string? port;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || !System.Net.IPAddress.TryParse(entry[1..close], out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6
                || close + 1 < entry.Length && entry[close + 1] != ':')
            {
                throw new FormatException($"'{entry}' in the host list is not an IPv6 address in brackets, [address] or [address]:port");
            }

            host = entry[..(close + 1)];
            port = close + 1 < entry.Length ? entry[(close + 2)..] : null;
        }
        else if (entry.Count(c => c == ':') > 1)
        {
            throw new FormatException($"'{entry}' in the host list: write an IPv6 address in brackets, [address] or [address]:port");
        }
        else
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? entry : entry[..colon];
            port = colon < 0 ? null : entry[(colon + 1)..];
        }

        if (host.Length == 0 || port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535))
        {
            throw new FormatException($"'{entry}' in the host list is not host or host:port with a port between 1 and 65535");
        }

        return Uri.UnescapeDataString(entry);
    }

    /// <summary>
    /// The message with the password masked wherever it stands as a whole word — not inside other words, so a short
    /// password ('a') does not turn "Parameter" into "P***r***meter"; where it is quoted (after '=', ':', a quote) it is
    /// a whole word.
    /// </summary>
    internal static string Redact(string message, string dsn)
    {
        var password = PasswordIn(dsn);
        return password.Length > 0
            ? System.Text.RegularExpressions.Regex.Replace(message, $"(?<![A-Za-z0-9]){System.Text.RegularExpressions.Regex.Escape(password)}(?![A-Za-z0-9])", "***",
                System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))
            : message;
    }

    private static string PasswordIn(string dsn)
    {
        var at = dsn.IndexOf('@', StringComparison.Ordinal);
        var scheme = dsn.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            var query = dsn.IndexOf('?', StringComparison.Ordinal);
            foreach (var pair in query < 0 ? [] : dsn[(query + 1)..].Split('&'))
            {
                if (pair.StartsWith("password=", StringComparison.OrdinalIgnoreCase) && pair.Length > "password=".Length)
                {
                    return pair["password=".Length..];
                }
            }

            if (at > scheme)
            {
                var userInfo = dsn[(scheme + 3)..at];
                var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
                return colon < 0 ? "" : userInfo[(colon + 1)..];
            }

            return "";
        }

        foreach (var part in dsn.Split(';'))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && part[..equals].Trim().Equals("password", StringComparison.OrdinalIgnoreCase))
            {
                return part[(equals + 1)..].Trim();
            }
        }

        return "";
    }
}
