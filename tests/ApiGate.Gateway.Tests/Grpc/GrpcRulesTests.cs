using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Grpc;
using ApiGate.Gateway.Transforms;

namespace ApiGate.Gateway.Tests.Grpc;

/// <summary>The pure parts of the gRPC handling: content types, grpc-timeout, grpc-message, the status table.</summary>
public sealed class GrpcRulesTests
{
    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/grpc+json", true)]
    [InlineData("Application/GRPC; charset=utf-8", true)]
    [InlineData("application/grpc-web", false)]
    [InlineData("application/grpc-web-text+proto", false)]
    [InlineData("application/grpcx", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void IsGrpcContentType_ContentType_OnlyGrpcItself(string? contentType, bool expected) =>
        Assert.Equal(expected, GrpcCalls.IsGrpcContentType(contentType));

    [Theory]
    [InlineData("application/grpc+json")]
    [InlineData("application/grpc-web+json; charset=utf-8")]
    [InlineData("APPLICATION/GRPC+JSON")]
    public void IsJson_GrpcTypeWithJsonSuffix_NotJson(string contentType) => Assert.False(JsonBodies.IsJson(contentType));

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/vnd.api+json")]
    [InlineData("application/problem+json; charset=utf-8")]
    public void IsJson_JsonTypes_StillJson(string contentType) => Assert.True(JsonBodies.IsJson(contentType));

    [Theory]
    [InlineData("2H", 7_200_000)]
    [InlineData("3M", 180_000)]
    [InlineData("30S", 30_000)]
    [InlineData("1500m", 1_500)]
    [InlineData("2500000u", 2_500)]
    [InlineData("99999999n", 99.999999)]
    public void TryParse_EachUnit_TheDuration(string value, double milliseconds)
    {
        Assert.True(GrpcTimeout.TryParse(value, out var timeout));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), timeout);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("123456789S")] // nine digits
    [InlineData("10s")]
    [InlineData("-1S")]
    [InlineData("1.5S")]
    [InlineData("10S, 20S")]
    public void TryParse_NotAValue_False(string? value) => Assert.False(GrpcTimeout.TryParse(value, out _));

    [Theory]
    [InlineData(1_500.9, "1500m")] // whole milliseconds, rounded down
    [InlineData(0.2, "1m")] // at least one
    [InlineData(-5, "1m")]
    [InlineData(99_999_999, "99999999m")]
    [InlineData(100_000_000, "100000S")] // past eight digits of milliseconds
    public void Format_Duration_HeaderValue(double milliseconds, string expected) =>
        Assert.Equal(expected, GrpcTimeout.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData("No route matches this request.", "No route matches this request.")]
    [InlineData("100% used", "100%25 used")]
    [InlineData("naïve\tcafé", "na%C3%AFve%09caf%C3%A9")]
    [InlineData("line\r\nbreak", "line%0D%0Abreak")]
    public void Encode_Message_PercentEncodedUtf8(string message, string expected) => Assert.Equal(expected, GrpcMessage.Encode(message));

    [Theory]
    [InlineData(400, "invalid_path", (int)GrpcStatusCode.InvalidArgument)]
    [InlineData(401, "missing_api_key", (int)GrpcStatusCode.Unauthenticated)]
    [InlineData(402, "quota_exceeded", (int)GrpcStatusCode.ResourceExhausted)]
    [InlineData(403, "user_suspended", (int)GrpcStatusCode.PermissionDenied)]
    [InlineData(404, "route_not_found", (int)GrpcStatusCode.Unimplemented)]
    [InlineData(405, "method_not_allowed", (int)GrpcStatusCode.Unimplemented)]
    [InlineData(408, "request_timeout", (int)GrpcStatusCode.DeadlineExceeded)]
    [InlineData(413, "request_too_large", (int)GrpcStatusCode.ResourceExhausted)]
    [InlineData(429, "rate_limit_exceeded", (int)GrpcStatusCode.ResourceExhausted)]
    [InlineData(500, "transform_error", (int)GrpcStatusCode.Internal)]
    [InlineData(501, "unsupported_transfer_coding", (int)GrpcStatusCode.Unimplemented)]
    [InlineData(502, "upstream_error", (int)GrpcStatusCode.Unavailable)]
    [InlineData(502, "response_withheld", (int)GrpcStatusCode.Internal)]
    [InlineData(503, "upstream_unavailable", (int)GrpcStatusCode.Unavailable)]
    [InlineData(504, "upstream_timeout", (int)GrpcStatusCode.DeadlineExceeded)]
    [InlineData(422, "unprocessable_event", (int)GrpcStatusCode.Unknown)]
    public void StatusOf_GatewayError_GrpcStatus(int status, string code, int expected) =>
        Assert.Equal(expected, (int)GrpcErrors.StatusOf(new GatewayError(status, code, "", "")));
}
