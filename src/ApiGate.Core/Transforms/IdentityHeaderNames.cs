namespace ApiGate.Core.Transforms;

/// <summary>
/// The headers the gateway sets on the caller's behalf (<c>X-User-ID</c>, <c>X-Key-ID</c>, <c>X-Plan-ID</c>,
/// <c>X-Entitlement-*</c>), under their own names or another spelling: a name with '_' or another character that is not
/// a letter, digit or '-' (<c>X_User_ID</c>, <c>X.User.ID</c>), which CGI-, WSGI- and PHP-style backends read as the
/// dashed name. A request transform may not add or set one: on a public route the gateway sets none of its own, so
/// <c>"X-User-ID": "${header.x}"</c> let any client choose the identity the backend saw, and another spelling is not
/// replaced even on an authenticated route. Refused when written; one stored before that is left out when it runs.
/// </summary>
public static class IdentityHeaderNames
{
    private static readonly string[] Names = ["X-User-ID", "X-Key-ID", "X-Plan-ID"];

    private const string EntitlementPrefix = "X-Entitlement-";

    private static readonly System.Buffers.SearchValues<char> NameCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");

    /// <summary>True when <paramref name="name"/> is an identity header, or reads as one once characters other than letters, digits and '-' are '-'.</summary>
    public static bool IsIdentity(string name)
    {
        // Every identity name starts with 'X' and is 8 characters or longer: most names are told apart here.
        if (name.Length < 8 || name[0] is not ('X' or 'x'))
        {
            return false;
        }

        foreach (var identity in Names)
        {
            if (ReadsAs(name, identity, whole: true))
            {
                return true;
            }
        }

        return ReadsAs(name, EntitlementPrefix, whole: false);
    }

    /// <summary>Why <paramref name="operations"/> may not be written, naming its first add or set of an identity header; null when it has none.</summary>
    public static string? ProblemIn(string field, NameValueOperations operations)
    {
        foreach (var name in operations.SetValues.Select(p => p.Key).Concat(operations.AddValues.Select(p => p.Key)))
        {
            if (!IsIdentity(name))
            {
                continue;
            }

            return name.AsSpan().ContainsAnyExcept(NameCharacters)
                ? $"{field}: '{name}' reads as the identity header '{Dashed(name)}' to backends that take '_' for '-'; "
                    + "the gateway sets X-User-ID, X-Key-ID, X-Plan-ID and X-Entitlement-* itself, and a transform may not add or set them under another spelling"
                : $"{field}: '{name}' is an identity header; the gateway sets X-User-ID, X-Key-ID, X-Plan-ID and X-Entitlement-* itself, "
                    + "and a transform may not add or set them (on a public route the backend would take the transform's value for the caller)";
        }

        return null;
    }

    private static bool ReadsAs(string name, string identity, bool whole)
    {
        if (whole ? name.Length != identity.Length : name.Length < identity.Length)
        {
            return false;
        }

        for (var i = 0; i < identity.Length; i++)
        {
            var c = NameCharacters.Contains(name[i]) ? name[i] : '-';
            if (char.ToUpperInvariant(c) != char.ToUpperInvariant(identity[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static string Dashed(string name) =>
        string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = NameCharacters.Contains(source[i]) ? source[i] : '-';
            }
        });
}
