using ApiGate.Core.Billing;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Billing;

/// <summary>
/// Reports the overage outbox to the billing provider as metered usage, exactly once (docs/billing.md): rows are claimed
/// with a lease (several instances never send the same row at once: a row is sent, and its call may last, only inside
/// its lease), sent with the row id as idempotency key, then
/// marked sent. A crash between send and mark leaves the row unsent; whoever claims it after the lease expires sends it
/// again with the same key, and the provider bills it once. Failures are retried with exponential back-off.
/// </summary>
internal sealed class OverageReporter(
    IBillingStore store, IBillingProvider provider, OverageReporterOptions options, TimeProvider timeProvider, ILogger<OverageReporter> logger) : BackgroundService
{
    /// <summary>This instance's claim owner name.</summary>
    public string Owner { get; } = Ids.New("reporter");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var sent = 0;
            try
            {
                sent = await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                BillingLog.ReporterFailed(logger, ex);
            }

            if (sent == 0)
            {
                try
                {
                    await Task.Delay(options.PollInterval, timeProvider, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One pass: claims due rows and reports each. Returns how many were claimed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        foreach (var held in await store.HoldStaleOverageAsync(now, now - options.ResendWindow, cancellationToken))
        {
            BillingLog.OverageHeld(logger, held.Id, held.Units, held.UserId, held.MeterEvent, held.FirstAttemptAt ?? now);
        }

        var claimed = await store.ClaimOverageAsync(Owner, options.BatchSize, now, options.Lease, cancellationToken);
        // The claim holds each row until then; a row is sent, and its call allowed to last, only inside it (less a
        // margin for marking it sent), so another instance never takes the row over while this one is still sending it.
        var sendBefore = now + options.Lease - options.Lease / 10;
        foreach (var row in claimed)
        {
            var left = sendBefore - timeProvider.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                // Slow answers used up the claim: the rest are claimed again once it has run out, by whichever instance.
                BillingLog.OverageClaimRanOut(logger, row.Id);
                break;
            }

            using var inClaim = new CancellationTokenSource(left, timeProvider);
            using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, inClaim.Token);
            string? failure;
            try
            {
                await provider.ReportUsageAsync(new UsageReport(row.CustomerId, row.MeterEvent, row.Units, row.UsageAt, row.Id), call.Token);
                failure = null;
            }
            catch (BillingProviderException ex)
            {
                failure = ex.Message;
            }
            catch (OperationCanceledException) when (inClaim.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Whether Stripe counted it or not, the retry carries the same idempotency key: it is billed once.
                failure = "the billing provider did not answer before this instance's claim on the row ran out";
            }

            if (failure is not null)
            {
                var retryAt = timeProvider.GetUtcNow() + options.BackoffAfter(row.Attempts);
                await store.MarkOverageFailedAsync(row.Id, Owner, retryAt, failure, cancellationToken);
                BillingLog.OverageFailed(logger, row.Id, row.Attempts, retryAt, failure);
                continue;
            }

            // Not cancellable: once the provider has the units, recording that is worth finishing.
            if (await store.MarkOverageSentAsync(row.Id, Owner, timeProvider.GetUtcNow(), CancellationToken.None))
            {
                BillingLog.OverageReported(logger, row.Id, row.Units, row.UserId, row.MeterEvent);
            }
            else
            {
                BillingLog.OverageClaimLost(logger, row.Id);
            }
        }

        return claimed.Count;
    }
}
