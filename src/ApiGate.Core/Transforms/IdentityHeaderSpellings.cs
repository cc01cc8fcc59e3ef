namespace ApiGate.Core.Transforms;

/// <summary>
/// Another spelling of a header the gateway sets on the caller's behalf (<c>X-User-ID</c>, <c>X-Key-ID</c>,
/// <c>X-Plan-ID</c>, <c>X-Entitlement-*</c>): a name with '_' or another character that is not a letter, digit or '-'
/// (<c>X_User_ID</c>, <c>X.User.ID</c>), which CGI-, WSGI- and PHP-style backends read as the dashed name. The gateway
/// strips such headers from clients and replaces the dashed names with its own values, but not another spelling, so a
/// request transform that adds or sets one would hand the backend a second, forged identity. Refused when written; one
/// stored before that is left out when it runs.
/// </summary>
public static class IdentityHeaderSpellings
{
    private static readonly string[] Names = ["X-User-ID", "X-Key-ID", "X-Plan-ID"];

    private const string EntitlementPrefix = "X-Entitlement-";

    private static readonly System.Buffers.SearchValues<char> NameCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");

    /// <summary>True when <paramref name="name"/> is not spelled with letters, digits and '-' alone and reads as an identity header once the other characters are '-'.</summary>
    public static bool IsOtherSpelling(string name)
    {
        if (!name.AsSpan().ContainsAnyExcept(NameCharacters))
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

    /// <summary>Why <paramref name="operations"/> may not be written, naming its first add or set of such a spelling; null when it has none.</summary>
    public static string? ProblemIn(string field, NameValueOperations operations)
    {
        foreach (var name in operations.SetValues.Select(p => p.Key).Concat(operations.AddValues.Select(p => p.Key)))
        {
            if (IsOtherSpelling(name))
            {
                return $"{field}: '{name}' reads as the identity header '{Dashed(name)}' to backends that take '_' for '-'; "
                    + "the gateway sets X-User-ID, X-Key-ID, X-Plan-ID and X-Entitlement-* itself, and a transform may not add or set them under another spelling";
            }
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
