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
