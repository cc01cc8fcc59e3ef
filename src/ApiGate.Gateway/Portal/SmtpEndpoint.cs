namespace ApiGate.Gateway.Portal;

/// <summary>
/// Where portal email goes, parsed once from <c>APIGATE_SMTP_URL</c>: <c>smtp://user:pass@host:port</c> (port 587 by
/// default; STARTTLS whenever the server offers it) or <c>smtps://…</c> (TLS from the first byte, port 465 by default).
/// User and password are optional and percent-decoded. <see cref="ToString"/> never shows the password.
/// </summary>
/// <remarks>
/// <paramref name="ImplicitTls"/> rather than the mail library's own option type, so that reading the settings does not
/// load the mail library into a gateway that never sends mail (<see cref="PortalMailQueue"/> maps it when it connects).
/// </remarks>
internal sealed record SmtpEndpoint(string Host, int Port, bool ImplicitTls, string? User, string? Password)
{
    /// <summary>Parses the URL; on failure <paramref name="problem"/> says why without repeating the URL (it may hold a password).</summary>
    public static bool TryParse(string url, out SmtpEndpoint? endpoint, out string problem)
    {
        endpoint = null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("smtp" or "smtps"))
        {
            problem = "must look like smtp://user:pass@host:port or smtps://user:pass@host:port";
            return false;
        }

        if (uri.Host.Length == 0)
        {
            problem = "names no host";
            return false;
        }

        if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0)
        {
            problem = "must not have a path or query";
            return false;
        }

        // Uri keeps a bare "#" as an empty fragment, so the raw text is what tells.
        if (uri.Fragment.Length > 0 || uri.OriginalString.Contains('#', StringComparison.Ordinal))
        {
            problem = "must not have a fragment (#...); a # in the password is written %23";
            return false;
        }

        if (uri.Port == 0)
        {
            problem = "port 0 is not a port: give one from 1 to 65535, or none for the scheme's default (587 for smtp://, 465 for smtps://)";
            return false;
        }

        string? user = null;
        string? password = null;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            password = colon < 0 ? "" : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }

        var tls = uri.Scheme == "smtps";
        var port = uri.IsDefaultPort || uri.Port < 0 ? (tls ? 465 : 587) : uri.Port;
        endpoint = new SmtpEndpoint(uri.Host, port, tls, user, password);
        problem = "";
        return true;
    }

    /// <summary>
    /// Whether the connection must be encrypted before the credentials are sent: always for <c>smtps://</c>, and for an
    /// <c>smtp://</c> URL with a user unless the server is on this machine (a loopback address or <c>localhost</c>, where
    /// nothing crosses a network). Elsewhere STARTTLS is then required, not taken only when offered: a machine in the
    /// path could strip the server's offer and read the password sent in clear.
    /// </summary>
    public bool CredentialsNeedTls => ImplicitTls || (User is { Length: > 0 } && !IsOnThisMachine(Host));

    private static bool IsOnThisMachine(string host) =>
        System.Net.IPAddress.TryParse(host.TrimStart('[').TrimEnd(']'), out var address)
            ? System.Net.IPAddress.IsLoopback(address)
            : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase);

    public override string ToString() => $"{(ImplicitTls ? "smtps" : "smtp")}://{(User is null ? "" : User + ":***@")}{Host}:{Port}";
}
