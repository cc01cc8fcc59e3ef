using ApiGate.Core.Portal;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Does, after the answer, what a request for a link by email costs only for some addresses: the look-up, the
/// recipient's mail slot, the token and the message (<see cref="PortalAccountService.SendRequestedLinkAsync"/>). One
/// request at a time, in the order they came; a request that fails (the store down) is logged and the next one goes on.
/// </summary>
internal sealed partial class PortalLinkRequestWorker(PortalLinkRequestQueue queue, PortalAccountService accounts, ILogger<PortalLinkRequestWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            PortalLinkRequest request;
            try
            {
                request = await queue.ReadAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return; // what is still queued is lost: its customers ask again
            }

            try
            {
                await accounts.SendRequestedLinkAsync(request, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Never out of this loop: an exception escaping a background service stops the whole gateway.
                LogFailed(logger, request.Purpose == PortalTokenPurpose.Reset ? "password reset" : "new confirmation", DomainOf(request.Email), ex);
            }
        }
    }

    private static string DomainOf(string address) => address[(address.LastIndexOf('@') + 1)..];

    [LoggerMessage(EventId = 8015, Level = LogLevel.Error,
        Message = "Portal {Kind} link requested for an address at {Domain} was not sent: the work after the answer failed; the customer has to ask again")]
    private static partial void LogFailed(ILogger logger, string kind, string domain, Exception exception);
}
