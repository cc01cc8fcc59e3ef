using ApiGate.Core.Storage;
using ApiGate.Gateway.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Admin;

/// <summary>At start, says whether the admin API can be used: with no admin token it refuses everything (secure by default).</summary>
internal sealed partial class AdminTokenStartupCheck(IGatewayStore store, GatewayOptions options, ILogger<AdminTokenStartupCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var active = await store.CountActiveAdminTokensAsync(cancellationToken);
        if (active == 0)
        {
            LogNoToken(options.AdminBasePath);
        }
        else
        {
            LogReady(options.AdminBasePath, active);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning,
        Message = "No admin token exists, so the admin API at {BasePath} refuses every request; create one with: apigate admin tokens create --name <name>")]
    private partial void LogNoToken(string basePath);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information, Message = "Admin API at {BasePath} ({ActiveTokens} active admin tokens)")]
    private partial void LogReady(string basePath, int activeTokens);
}
