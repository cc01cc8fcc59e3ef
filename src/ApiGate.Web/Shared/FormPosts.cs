using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>What a form post that cannot be read is: the client's error, answered without an error in the log.</summary>
internal static class FormPosts
{
    /// <summary>
    /// True for a body the server could not read (a request limit) or whose form could not be read for its antiforgery
    /// token (malformed, over a form limit). Not for a plain <see cref="InvalidDataException"/>: the store raises that
    /// for a bad stored value, which is the server's error.
    /// </summary>
    public static bool IsClientError(Exception exception) =>
        exception is BadHttpRequestException or AntiforgeryValidationException || exception.InnerException is BadHttpRequestException;

    /// <summary>The status for <paramref name="exception"/>: the request limit's own (e.g. 413) or 400.</summary>
    public static int StatusOf(Exception exception) =>
        (exception as BadHttpRequestException ?? exception.InnerException as BadHttpRequestException)?.StatusCode ?? StatusCodes.Status400BadRequest;
}
