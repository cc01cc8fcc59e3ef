using ApiGate.Core.Identity;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Portal;

/// <summary>The base of every portal page: the request, and for signed-in pages the customer.</summary>
public abstract class PortalPage : ComponentBase
{
    [CascadingParameter]
    private HttpContext? HttpContextValue { get; set; }

    /// <summary>The request being rendered (pages render on the server only).</summary>
    protected HttpContext HttpContext => HttpContextValue ?? throw new InvalidOperationException("portal pages render on the server only");

    /// <summary>The signed-in customer (pages behind the session gate only).</summary>
    protected UserDefinition Customer => (UserDefinition)HttpContext.Items[PortalSessionGate.UserItem]!;

    /// <summary>The address of this request (<c>https://host</c>), for links in emails when no base URL is set.</summary>
    protected string Origin => HttpContext.Request.Scheme + "://" + HttpContext.Request.Host.Value;

    /// <summary>The client's address, for the login limiter.</summary>
    protected string ClientAddress => HttpContext.Connection.RemoteIpAddress?.ToString() ?? "";

    /// <summary>Marks the response as refused (the form is shown again with the message).</summary>
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
