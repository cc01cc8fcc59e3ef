using ApiGate.Core.Identity;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Portal;

/// <summary>The base of every portal page: the request, and for signed-in pages the customer.</summary>
public abstract class PortalPage : ApiGate.Web.Shared.ServerPage
{
    /// <summary>The signed-in customer (pages behind the session gate only).</summary>
    protected UserDefinition Customer => (UserDefinition)HttpContext.Items[PortalSessionGate.UserItem]!;

    /// <summary>The address of this request (<c>https://host</c>), for links in emails when no base URL is set.</summary>
    protected string Origin => HttpContext.Request.Scheme + "://" + HttpContext.Request.Host.Value;

    /// <summary>The client's address, for the login and sign-up limits.</summary>
    protected string ClientAddress => HttpContext.Connection.RemoteIpAddress?.ToString() ?? "";
}
