using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApiGate.Gateway.Transforms;

/// <summary>Reading bounded JSON bodies for body transforms.</summary>
internal static class JsonBodies
{
    /// <summary>How deep a body a transform reads (and writes back); a deeper one is not read (not valid JSON here).</summary>
    public const int MaxDepth = 256;

    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = MaxDepth };

    /// <summary>The buffer <see cref="ReadBoundedAsync"/> starts with: a declared body's size (and one byte to see its end), else 16 KiB.</summary>
    public static int InitialBufferSize(long limit, long? expectedLength) =>
        expectedLength is { } expected && expected <= limit ? (int)expected + 1 : 16 * 1024;

    /// <summary>
    /// Names repeated in one object are refused when read: which of them a transform (or the client after it) would take is
    /// not defined, so a body with a masked field twice could show the client the copy that was not masked.
    /// </summary>
    private static readonly JsonDocumentOptions Reading = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    /// <summary>
    /// <c>application/json</c>, <c>text/json</c> or any <c>+json</c> type, except the gRPC family (<c>application/grpc+json</c>,
    /// <c>application/grpc-web+json</c>): their bodies are length-prefixed frames, never one JSON document. <c>text/json</c>
    /// is JSON to ASP.NET Core (and Newtonsoft), which read it as a request body and answer with it to a client whose
    /// <c>Accept</c> asks for it: taken as not JSON, a client's body skipped the request transform, and a client could have
    /// fields the response transform removes or masks passed on, by asking for <c>text/json</c>.
    /// </summary>
    public static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var media = contentType.AsSpan();
        var semicolon = media.IndexOf(';');
        if (semicolon >= 0)
        {
            media = media[..semicolon];
        }

        media = media.Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.Equals("text/json", StringComparison.OrdinalIgnoreCase)
            || (media.EndsWith("+json", StringComparison.OrdinalIgnoreCase) && !Grpc.GrpcCalls.IsGrpcMediaType(media));
    }

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes; returns null (with what was read) when the stream holds more. A body
    /// of a declared <paramref name="expectedLength"/> is read into a buffer of that size, not one that doubles as it
    /// fills: a body held half-sent by its client then costs its own size, not up to twice that. With a
    /// <paramref name="share"/> (holding the first buffer's size, <see cref="InitialBufferSize"/>), every growth of the
    /// buffer is taken from it first; when it cannot grow, the read stops with <c>OverBudget</c>.
    /// </summary>
    public static async Task<(byte[]? Body, ArrayBufferWriter<byte> Read, bool OverBudget)> ReadBoundedAsync(
        Stream stream, long limit, long? expectedLength, BufferedBodies.Share? share, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(InitialBufferSize(limit, expectedLength));
        while (true)
        {
            // A full buffer doubles (ArrayBufferWriter grows by its own size): that much more is taken from the budget.
            if (buffer.FreeCapacity == 0 && share is not null && !share.TryGrow(buffer.Capacity))
            {
                return (null, buffer, true);
            }

            var memory = buffer.GetMemory(Math.Clamp(buffer.FreeCapacity, 1, 16 * 1024));
            var read = await stream.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return (buffer.WrittenSpan.ToArray(), buffer, false);
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return (null, buffer, false);
            }
        }
    }

    /// <summary>The reason <see cref="TryParse"/> gives for a body that is not UTF-8.</summary>
    public const string NotUtf8 = "not UTF-8 (JSON text is UTF-8, RFC 8259 §8.1)";

    /// <summary>
    /// The body as JSON, or null with the reason: not UTF-8, not valid JSON, nested deeper than <see cref="MaxDepth"/>, or an object
    /// that repeats a name. A UTF-8 byte order mark in front is skipped, as JSON readers do.
    /// </summary>
    public static JsonNode? TryParse(byte[] body, out string? error)
    {
        try
        {
            error = null;
            var json = body.AsSpan();
            // The reader does not check the bytes inside strings: an invalid sequence (a Latin-1 'é', an overlong form)
            // would be written back as U+FFFD, changing fields the transform never touched.
            if (!System.Text.Unicode.Utf8.IsValid(json))
            {
                error = NotUtf8;
                return null;
            }

            return JsonNode.Parse(json.StartsWith("\uFEFF"u8) ? json[3..] : json, documentOptions: Reading);
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    public static byte[] Serialize(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, Compact);
}
