using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>The base of the console's and the portal's pages: they render on the server, with the request at hand.</summary>
public abstract class ServerPage : ComponentBase
{
    [CascadingParameter]
    private HttpContext? HttpContextValue { get; set; }

    /// <summary>The request being rendered.</summary>
    protected HttpContext HttpContext => HttpContextValue ?? throw new InvalidOperationException("these pages render on the server only");

    /// <summary>
    /// Answers the status a refused change of a service calls for, as the admin API would: 404 for what is not there
    /// (deleted meanwhile), 409 for a conflict with what is stored, 400 for a value that is not accepted.
    /// </summary>
    protected void Refused(ApiGate.Core.Management.ManagementError error)
    {
        if (error.Kind == ApiGate.Core.Management.ManagementErrorKind.NotFound)
        {
            RefusedNotFound(error);
        }
        else
        {
            Refused(error.Kind is ApiGate.Core.Management.ManagementErrorKind.Conflict or ApiGate.Core.Management.ManagementErrorKind.PreconditionFailed
                ? StatusCodes.Status409Conflict
                : StatusCodes.Status400BadRequest);
        }
    }

    /// <summary>
    /// Answers <paramref name="error"/>, about something the store does not hold: 404. The framework renders no body for
    /// a page answered 404, so a page that may meet one answers it with a page of its own (the console's: <c>AdminPage</c>).
    /// </summary>
    private protected virtual void RefusedNotFound(ApiGate.Core.Management.ManagementError error) => Refused(StatusCodes.Status404NotFound);

    /// <summary>Marks the response as refused (the form is shown again with its messages).</summary>
    protected void Refused(int status = StatusCodes.Status400BadRequest)
    {
        if (!HttpContext.Response.HasStarted)
        {
            HttpContext.Response.StatusCode = status;
        }
    }

    /// <summary>
    /// A value made for this showing of a form, for a create form whose answer shows a secret once (the page is that
    /// post's answer, not a redirect): the post a reload of the answer sends again carries the value it was sent with.
    /// </summary>
    protected string FormOnce => field ??= Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// A query-string value of the current request, or null. A parameter given more than once never reaches a page: the
    /// console's and the portal's gates answer it 400 (<see cref="PageFailures.RefusedRepeatedQueryAsync"/>).
    /// </summary>
    protected string? Query(string name) => HttpContext.Request.Query.TryGetValue(name, out var values) ? values[0] : null;
}
