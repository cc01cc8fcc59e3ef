using ApiGate.Gateway.Hosting;
using ApiGate.Web.Admin;

namespace ApiGate.Web;

/// <summary>The web applications the gateway serves: pass <see cref="All"/> to <c>GatewayHost.Build</c>.</summary>
public static class GatewayWebModules
{
    /// <summary>The admin console (<c>/ui</c>, <c>APIGATE_ADMIN_UI_ENABLED</c>).</summary>
    public static IReadOnlyList<IGatewayWebModule> All { get; } = [new AdminConsoleModule()];
}
