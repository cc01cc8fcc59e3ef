using System.Security.Cryptography;

namespace ApiGate.Gateway.Tests.Tls;

/// <summary>A minimal TLS ClientHello, built by hand so a test can offer a protocol version no client library will.</summary>
internal static class TlsClientHello
{
    public const byte HandshakeRecord = 0x16;
    public const byte AlertRecord = 0x15;
    public const byte ProtocolVersionAlert = 70;

    /// <summary>A ClientHello offering <paramref name="version"/> (0x0302 TLS 1.1, 0x0303 TLS 1.2) with ECDHE-ECDSA/RSA suites.</summary>
    public static byte[] Build(ushort version)
    {
        var body = new List<byte> { (byte)(version >> 8), (byte)version };
        body.AddRange(RandomNumberGenerator.GetBytes(32));
        body.Add(0); // no session id
        byte[] suites = [0xC0, 0x2B, 0xC0, 0x2F, 0xC0, 0x09, 0xC0, 0x13, 0x00, 0x2F];
        body.AddRange([0x00, (byte)suites.Length]);
        body.AddRange(suites);
        body.AddRange([0x01, 0x00]); // compression: null
        byte[] extensions =
        [
            0x00, 0x0A, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1D, 0x00, 0x17, // supported_groups: x25519, P-256
            0x00, 0x0B, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
            0x00, 0x0D, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, // signature_algorithms
        ];
        body.AddRange([(byte)(extensions.Length >> 8), (byte)extensions.Length]);
        body.AddRange(extensions);

        var handshake = new List<byte> { 0x01, 0x00, (byte)(body.Count >> 8), (byte)body.Count };
        handshake.AddRange(body);
        var record = new List<byte> { HandshakeRecord, 0x03, 0x01, (byte)(handshake.Count >> 8), (byte)handshake.Count };
        record.AddRange(handshake);
        return [.. record];
    }
}
