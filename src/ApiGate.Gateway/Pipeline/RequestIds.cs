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

        return Guid.NewGuid().ToString("N");
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
