using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// X-Request-ID rules (SPEC §1.1): keep the client's when sane (1–128 visible ASCII characters) and not a credential,
/// else make one.
/// </summary>
internal static class RequestIds
{
    /// <summary>
    /// The client's id, or a new one when it sent none, several, one that is not sane, or one holding an API key with
    /// <paramref name="keyPrefix"/> or an admin token (the id is logged, traced, stored with usage and sent upstream, so
    /// a credential misplaced there would go everywhere; the same check as logged paths, so nothing is allocated).
    /// </summary>
    public static string FromClientOrNew(StringValues clientValue, string keyPrefix)
    {
        if (clientValue.Count == 1 && IsSane(clientValue[0])
            && ReferenceEquals(Core.Identity.ApiKeys.RedactedPath(clientValue[0]!, keyPrefix), clientValue[0]))
        {
            return clientValue[0]!;
        }

        return New();
    }

    /// <summary>
    /// A new id: 128 random bits as 32 lower-case hex characters (the shape of a GUID without dashes). From
    /// <see cref="Random.Shared"/> (a per-thread generator seeded by the OS): a request id must be unique, not secret,
    /// and <see cref="Guid.NewGuid"/> costs a read of <c>/dev/urandom</c> — one system call per request — on Linux.
    /// </summary>
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public static bool IsSane(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 128)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
