using System.Text;
using System.Text.Json;
using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Billing;

/// <summary>
/// <c>POST /billing/stripe/webhook</c> on the public listener, a reserved path while billing is on (SPEC §2.5,
/// docs/billing.md): the body (at most <see cref="MaxBodyBytes"/>) and its <c>Stripe-Signature</c> go to
/// <see cref="BillingService.HandleWebhookAsync"/>. 200 when processed or already processed; 400 when the signature or
/// timestamp is not valid; 422 when the event cannot be mapped (an unknown price id): nothing changes and Stripe retries;
/// 503 when the store is locked or does not answer: nothing is recorded and Stripe retries.
/// A checkout paid for a plan deleted meanwhile is 200 (no retry could apply it), logged as a warning (event 9102).
/// </summary>
internal sealed class BillingWebhookEndpoint(BillingService billing, IBillingNotifier notifier, ILogger<BillingWebhookEndpoint> logger)
{
    /// <summary>The reserved path.</summary>
    public const string Path = "/billing/stripe/webhook";

    /// <summary>Stripe's event payloads are a few KiB; anything past this is not one.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    /// <summary>The handler, or null when billing is off (the path then belongs to the routes).</summary>
    public RequestDelegate? Handler => billing.Enabled ? InvokeAsync : null;

    private async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            await GatewayErrorWriter.WriteAsync(context, new GatewayError(405, "method_not_allowed", "Method Not Allowed", "Use POST.") { Allow = "POST" });
            return;
        }

        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            BillingLog.WebhookRefused(logger, "too large", $"body over {MaxBodyBytes} bytes");
            await GatewayErrorWriter.WriteAsync(context, new GatewayError(413, "request_too_large", "Content Too Large", $"The body is over {MaxBodyBytes} bytes."));
            return;
        }

        WebhookOutcome outcome;
        try
        {
            outcome = await billing.HandleWebhookAsync(body, context.Request.Headers["Stripe-Signature"].ToString(), context.RequestAborted);
        }
        catch (StoreUnavailableException ex)
        {
            // The store locked by another process past the busy timeout, or not answering: nothing was recorded (the event
            // id commits with its change), so a 503 makes Stripe deliver the event again and the retry applies it once.
            // Unhandled, it was a 500 with an empty body and a stack trace in the log for an everyday condition. The store's
            // path or host, and why it could not take the event, are for the operator's log, not for the sender: "busy"
            // covers a lock, a PostgreSQL server that does not answer and one out of disk, so the detail names none of them.
            var code = ex is StoreBusyException ? "store_busy" : "store_unavailable";
            BillingLog.WebhookRefused(logger, code, ex.Message);
            await GatewayErrorWriter.WriteAsync(context, new GatewayError(503, code, "Service Unavailable",
                ex is StoreBusyException
                    ? "The store could not take the event for now; the event was not recorded: deliver it again."
                    : "The store could not take the event; the event was not recorded: deliver it again."));
            return;
        }

        switch (outcome.Status)
        {
            case WebhookStatus.Processed or WebhookStatus.Duplicate:
                BillingLog.Webhook(logger, outcome.EventId, outcome.EventType, outcome.Status == WebhookStatus.Processed ? "processed" : "duplicate", outcome.Message);
                if (outcome.NeedsAttention)
                {
                    BillingLog.WebhookNeedsAttention(logger, outcome.EventId, outcome.EventType, outcome.Message);
                }

                if (outcome.Notifications.Count > 0)
                {
                    await notifier.NotifyAsync(outcome.Notifications, context.RequestAborted);
                }

                await WriteReceivedAsync(context, outcome.Status == WebhookStatus.Processed ? "processed" : "duplicate", outcome.Message);
                break;
            case WebhookStatus.Invalid:
                BillingLog.WebhookRefused(logger, "invalid", outcome.Message);
                await GatewayErrorWriter.WriteAsync(context, new GatewayError(400, "invalid_signature", "Bad Request", outcome.Message));
                break;
            case WebhookStatus.Rejected:
                BillingLog.WebhookRefused(logger, $"rejected {outcome.EventId} {outcome.EventType}", outcome.Message);
                await GatewayErrorWriter.WriteAsync(context, new GatewayError(422, "unprocessable_event", "Unprocessable Content", outcome.Message));
                break;
            default:
                await GatewayErrorWriter.WriteAsync(context, new GatewayError(404, "not_found", "Not Found", "Billing is not configured."));
                break;
        }
    }

    /// <summary>The body as text, or null when it is larger than <see cref="MaxBodyBytes"/>.</summary>
    private static async Task<string?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        // The signature covers the exact bytes: decoded as UTF-8 without any normalisation, as Stripe.net expects.
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>What Stripe is told when it may stop retrying; refusals are JSON:API error documents like the gateway's others.</summary>
    private static Task WriteReceivedAsync(HttpContext context, string result, string message)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        var body = JsonSerializer.SerializeToUtf8Bytes(new { received = true, result, message });
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
