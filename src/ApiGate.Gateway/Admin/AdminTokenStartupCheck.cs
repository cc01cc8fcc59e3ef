using ApiGate.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Admin;

/// <summary>At start, says whether the admin API can be used: with no admin token it refuses everything (secure by default).</summary>
internal sealed partial class AdminTokenStartupCheck(IGatewayStore store, GatewayOptions options, ILogger<AdminTokenStartupCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        int active;
        try
        {
            active = await store.CountActiveAdminTokensAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A store that is down must not stop the server from starting: /health/ready reports it, and every admin
            // request checks its token against the store anyway.
            LogCheckFailed(options.AdminBasePath, ex.Message);
            return;
        }

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

    [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "Could not count admin tokens for the admin API at {BasePath}: {Reason}")]
    private partial void LogCheckFailed(string basePath, string reason);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information, Message = "Admin API at {BasePath} ({ActiveTokens} active admin tokens)")]
    private partial void LogReady(string basePath, int activeTokens);
}
