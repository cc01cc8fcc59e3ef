using Microsoft.Extensions.Primitives;

namespace ApiGate.Gateway.Pipeline;

/// <summary>X-Request-ID rules (SPEC §1.1): keep the client's when sane (1–128 visible ASCII characters), else make one.</summary>
internal static class RequestIds
{
    public static string FromClientOrNew(StringValues clientValue)
    {
        if (clientValue.Count == 1 && IsSane(clientValue[0]))
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
