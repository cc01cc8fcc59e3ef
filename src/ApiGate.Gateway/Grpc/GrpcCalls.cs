using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Grpc;

/// <summary>Telling gRPC calls (and gRPC bodies) from other requests, by content type.</summary>
internal static class GrpcCalls
{
    private const string ContentType = "application/grpc";

    /// <summary>
    /// True for a gRPC call over HTTP/2 or later: <c>application/grpc</c> or <c>application/grpc+&lt;subtype&gt;</c>
    /// (parameters allowed). gRPC-Web (<c>application/grpc-web*</c>) is not one: its clients read the HTTP status (a
    /// browser cannot read a cross-origin <c>grpc-status</c> header unless it is exposed), and a gRPC request over
    /// HTTP/1.x is no call any gRPC client makes; both keep the gateway's JSON:API errors.
    /// </summary>
    public static bool IsGrpcCall(HttpRequest request) =>
        (HttpProtocol.IsHttp2(request.Protocol) || HttpProtocol.IsHttp3(request.Protocol)) && IsGrpcContentType(request.ContentType);

    /// <summary><c>application/grpc</c>, alone or followed by <c>+subtype</c> or parameters.</summary>
    public static bool IsGrpcContentType(string? contentType) =>
        contentType is not null && contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase)
        && (contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';');

    /// <summary>
    /// A media type (without parameters) of the gRPC family — <c>application/grpc</c>, <c>application/grpc+json</c>,
    /// <c>application/grpc-web+proto</c>…: length-prefixed frames, whatever the suffix says about the messages inside them.
    /// </summary>
    public static bool IsGrpcMediaType(ReadOnlySpan<char> mediaType) => mediaType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase);
}
