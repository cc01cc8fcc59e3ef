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
    protected void Refused(ApiGate.Core.Management.ManagementError error) => Refused(error.Kind switch
    {
        ApiGate.Core.Management.ManagementErrorKind.NotFound => StatusCodes.Status404NotFound,
        ApiGate.Core.Management.ManagementErrorKind.Conflict => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status400BadRequest,
    });

    /// <summary>Marks the response as refused (the form is shown again with its messages).</summary>
    protected void Refused(int status = StatusCodes.Status400BadRequest)
    {
        if (!HttpContext.Response.HasStarted)
        {
            HttpContext.Response.StatusCode = status;
        }
    }

    /// <summary>A query-string value of the current request, or null.</summary>
    protected string? Query(string name) => HttpContext.Request.Query.TryGetValue(name, out var value) ? value.ToString() : null;
}
