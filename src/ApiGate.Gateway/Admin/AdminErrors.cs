using ApiGate.Core.Management;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// Every error the admin API answers with, as an <see cref="ErrorDocument"/>. The mapping from a refused management
/// operation (<see cref="ManagementErrorKind"/>) to an HTTP status lives here and only here.
/// </summary>
internal static class AdminErrors
{
    /// <summary>The HTTP status and code of a refused management operation.</summary>
    public static (int Status, string Code, string Title) Of(ManagementErrorKind kind) => kind switch
    {
        ManagementErrorKind.Validation => (StatusCodes.Status422UnprocessableEntity, "validation_error", "Validation failed"),
        ManagementErrorKind.NotFound => (StatusCodes.Status404NotFound, "not_found", "Not Found"),
        ManagementErrorKind.Conflict => (StatusCodes.Status409Conflict, "conflict", "Conflict"),
        ManagementErrorKind.Unavailable => (StatusCodes.Status502BadGateway, "provider_error", "Provider failed"),
        ManagementErrorKind.PreconditionFailed => (StatusCodes.Status412PreconditionFailed, "precondition_failed", "Precondition Failed"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>A refused operation whose fields came from the request body: the field becomes a JSON pointer.</summary>
    public static IResult FromBody(ManagementError error, AdminBody body) =>
        From(error, error.Field.Length == 0 ? null : new ErrorSource(Pointer: body.PointerFor(error.Field)));

    /// <summary>A refused operation whose fields came from the query string: the field names the parameter.</summary>
    public static IResult FromQuery(ManagementError error) =>
        From(error, error.Field.Length == 0 ? null : new ErrorSource(Parameter: error.Field));

    /// <summary>A refused operation without a body or parameters (e.g. an unknown id in the path).</summary>
    public static IResult From(ManagementError error) => From(error, null);

    /// <summary>A refused operation; a <c>412</c> names the header and sends the row's current version as its <c>ETag</c>, so the client can retry without a GET.</summary>
    public static IResult From(ManagementError error, ErrorSource? source)
    {
        var (status, code, title) = Of(error.Kind);
        if (error.Kind != ManagementErrorKind.PreconditionFailed)
        {
            return Write(status, code, title, error.Message, source);
        }

        var refused = Write(status, code, title, error.Message, new ErrorSource(Header: "If-Match"));
        return error.CurrentVersion is { } version ? new Tagged(refused, version) : refused;
    }

    /// <summary>
    /// A query parameter that cannot be used (not a number, out of range): 400 naming it in <c>source.parameter</c>; one
    /// without a name (<c>?=…</c>) has no <c>source</c>.
    /// </summary>
    public static IResult InvalidParameter(string parameter, string detail) =>
        Write(StatusCodes.Status400BadRequest, "invalid_parameter", "Invalid query parameter", detail, parameter.Length == 0 ? null : new ErrorSource(Parameter: parameter));

    /// <summary>A request header that cannot be used (a malformed or unsupported precondition): 400 naming it in <c>source.header</c>.</summary>
    public static IResult InvalidHeader(string header, string detail) =>
        Write(StatusCodes.Status400BadRequest, "invalid_header", "Invalid header", detail, new ErrorSource(Header: header));

    public static IResult BadRequest(string detail, ErrorSource? source = null) => Write(StatusCodes.Status400BadRequest, "bad_request", "Bad Request", detail, source);

    public static IResult NotFound(string detail) => Write(StatusCodes.Status404NotFound, "not_found", "Not Found", detail, null);

    /// <summary>
    /// The error document; an API key, admin token or webhook secret the detail quotes from the request (sent where an id
    /// belongs, <c>GET /admin/keys/ak_…</c>) is cut to its shown prefix, as in the audit log, and so is one the source
    /// names (a body member or query parameter named with a pasted key: <c>{"ak_…": 1}</c>, <c>?agt_…</c>).
    /// </summary>
    public static IResult Write(int status, string code, string title, string detail, ErrorSource? source) =>
        Results.Json(
            new ErrorDocument([new ErrorObject(
                status.ToString(System.Globalization.CultureInfo.InvariantCulture), code, title, Core.Identity.ApiKeys.RedactedMessage(detail), Redacted(source))]),
            WireJson.Options, AdminApi.JsonContentType, status);

    private static ErrorSource? Redacted(ErrorSource? source) => source is null ? null : new ErrorSource(
        source.Pointer is { } pointer ? Core.Identity.ApiKeys.RedactedMessage(pointer) : null,
        source.Parameter is { } parameter ? Core.Identity.ApiKeys.RedactedMessage(parameter) : null,
        source.Header);

    /// <summary>The answer for a path under the base path that no endpoint serves.</summary>
    public static Task UnknownPathAsync(HttpContext context) =>
        NotFound($"no admin endpoint at {context.Request.Method} {context.Request.PathBase}{context.Request.Path}").ExecuteAsync(context);

    /// <summary>An answer sent with the <c>ETag</c> of <paramref name="version"/>.</summary>
    private sealed class Tagged(IResult answer, DateTimeOffset version) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            AdminConditions.Tag(httpContext, version);
            return answer.ExecuteAsync(httpContext);
        }
    }
}
