using ApiGate.Gateway.Admin;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Admin;

/// <summary>The base of every console page: the request, its session and the caller it acts as.</summary>
public abstract class AdminPage : ComponentBase
{
    [CascadingParameter]
    private HttpContext? HttpContextValue { get; set; }

    /// <summary>The request being rendered (pages render on the server only).</summary>
    protected HttpContext HttpContext => HttpContextValue ?? throw new InvalidOperationException("console pages render on the server only");

    /// <summary>The admin token's name the page acts for.</summary>
    protected string TokenName => Session.Caller.TokenName;

    internal AdminSession Session => (AdminSession)HttpContext.Items[AdminSessionGate.SessionItem]!;

    /// <summary>Marks the response as a refused change (the form is shown again with the errors) for the audit log.</summary>
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
