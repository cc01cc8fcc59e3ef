using System.Text;

namespace ApiGate.Gateway.Grpc;

/// <summary>
/// <c>grpc-message</c> values: UTF-8, then every byte outside printable ASCII (0x20–0x7E) and <c>%</c> itself written as
/// <c>%XX</c> (upper-case hex), as the gRPC HTTP/2 protocol requires.
/// </summary>
internal static class GrpcMessage
{
    public static string Encode(string message)
    {
        if (!NeedsEncoding(message))
        {
            return message;
        }

        var bytes = Encoding.UTF8.GetBytes(message);
        var encoded = new StringBuilder(bytes.Length + 16);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 0xF]);
            }
        }

        return encoded.ToString();
    }

    private static bool NeedsEncoding(string message)
    {
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                return true;
            }
        }

        return false;
    }
}
