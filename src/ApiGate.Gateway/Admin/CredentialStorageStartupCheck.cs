using ApiGate.Core.Storage;
using ApiGate.Storage.Sql;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// At start, warns when upstream credentials (<c>auth_value</c>) sit in the store in plaintext: some upstream has one
/// and <c>APIGATE_SECRET_KEY</c> is not set, so anyone who can read the database file can read them. With a key set,
/// warns when stored secrets are not written with it (plaintext from before the key, or the previous key of a
/// rotation that <c>apigate store rekey</c> has not finished).
/// </summary>
internal sealed partial class CredentialStorageStartupCheck(IGatewayStore store, GatewayOptions options, ILogger<CredentialStorageStartupCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        int withCredentials;
        try
        {
            if (!string.IsNullOrEmpty(options.SecretKey))
            {
                if (store is SqlGatewayStore sql && await sql.CountSecretsNotUnderCurrentKeyAsync(cancellationToken) is > 0 and var stale)
                {
                    LogNotUnderCurrentKey(stale);
                }

                return;
            }

            withCredentials = (await store.ListUpstreamsAsync(cancellationToken)).Count(u => u.AuthConfigured);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Readiness reports an unreachable store; an encrypted credential without a key is reported when it is used.
            LogCheckFailed(ex.Message);
            return;
        }

        if (withCredentials > 0)
        {
            LogPlaintext(withCredentials);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 7013, Level = LogLevel.Warning,
        Message = "{Count} upstream credentials (auth_value) are stored in plaintext because APIGATE_SECRET_KEY is not set; set it and run apigate store rekey to encrypt them at rest")]
    private partial void LogPlaintext(int count);

    [LoggerMessage(EventId = 7015, Level = LogLevel.Warning,
        Message = "{Count} stored secrets (upstream credentials, webhook signing secrets, the forms key) are not encrypted with the current APIGATE_SECRET_KEY (plaintext, or another key); run apigate store rekey")]
    private partial void LogNotUnderCurrentKey(int count);

    [LoggerMessage(EventId = 7014, Level = LogLevel.Warning, Message = "Could not check how upstream credentials are stored: {Reason}")]
    private partial void LogCheckFailed(string reason);
}
