using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Hosting;

/// <summary>
/// A web application the gateway serves beside the admin API (the admin console at <c>/ui</c>, the customer portal):
/// it registers its services while the gateway's are registered and answers the requests under its base paths. The
/// gateway decides where each branch is reachable (<see cref="GatewayWebBranch.OnAdminSide"/>) and runs it before
/// the proxy, so no route can shadow it and proxied requests pay one path-prefix compare per branch.
/// </summary>
public interface IGatewayWebModule
{
    /// <summary>Registers the module's services; called before the gateway's service collection is built.</summary>
    void AddServices(IServiceCollection services, GatewayOptions options);

    /// <summary>The branches to serve, built once the gateway's services exist; empty when the module is turned off.</summary>
    IReadOnlyList<GatewayWebBranch> Build(IServiceProvider services, GatewayOptions options);
}
