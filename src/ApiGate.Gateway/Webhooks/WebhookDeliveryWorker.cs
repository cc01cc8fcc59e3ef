using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Webhooks;

/// <summary>
/// Delivers the outbox: leases due deliveries from the store (so several gateway instances never send the same one
/// at the same time), signs and POSTs each, records the attempt, and schedules a retry or marks it failed. Runs
/// off the request path; requests only ever append to the outbox.
/// </summary>
internal sealed partial class WebhookDeliveryWorker(
    IWebhookStore store,
    WebhookSignal signal,
    GatewayOptions options,
    TimeProvider timeProvider,
    ILogger<WebhookDeliveryWorker> logger) : BackgroundService
{
    /// <summary>
    /// Deliveries sent at once. At most one per endpoint (the claim never hands out an endpoint's next delivery while
    /// one is leased), and each goes its own way: a slot freed by one endpoint's answer is refilled at once, so an
    /// endpoint that hangs until the timeout holds up only itself.
    /// </summary>
    private const int MaxInFlight = 16;

    /// <summary>How much of a non-2xx response body is read (and how much of it is kept in the attempt's error).</summary>
    private const int MaxBodyRead = 4096;
    private const int MaxErrorBody = 200;

    /// <summary>
    /// The longest attempt error kept (and logged): a failed connection's message can quote what the endpoint sent (an
    /// invalid status or header line, up to the 64 KiB header limit), as a refusal's body can.
    /// </summary>
    internal const int MaxError = 500;

    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private readonly WebhookRetrySchedule _schedule = new(options.WebhookRetryBase, options.WebhookMaxAge);

    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false, // a redirect is the endpoint's answer (3xx: not delivered), never followed
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = options.WebhookTimeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxResponseHeadersLength = 64,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // each attempt has its own timeout
    };

    private readonly List<Task> _inFlight = [];

    /// <summary>Leases what is due, up to the free slots, and starts sending each (not waiting for them). Returns how many started.</summary>
    private async Task<int> ClaimAndStartAsync(CancellationToken cancellationToken)
    {
        int free;
        lock (_inFlight)
        {
            _inFlight.RemoveAll(t => t.IsCompleted);
            free = MaxInFlight - _inFlight.Count;
        }

        if (free <= 0)
        {
            return 0;
        }

        var now = timeProvider.GetUtcNow();
        // The lease outlives the attempt (timeout) with a margin; a crashed instance's lease expires and another sends it.
        var work = await store.ClaimWebhookDeliveriesAsync(_owner, now, now + options.WebhookTimeout * 2 + TimeSpan.FromSeconds(30), free, cancellationToken);
        lock (_inFlight)
        {
            foreach (var w in work)
            {
                _inFlight.Add(DeliverThenWakeAsync(w, cancellationToken));
            }
        }

        return work.Count;
    }

    /// <summary>Sends and records one delivery, then wakes the loop: the endpoint's next delivery may be due, and a slot is free.</summary>
    private async Task DeliverThenWakeAsync(WebhookDeliveryWork work, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Yield(); // the claim loop goes on while this one is sent
            await DeliverAsync(work, cancellationToken);
        }
        catch (Exception ex)
        {
            // Unexpected (a send or record failure is handled inside): the lease expires and the delivery is sent again.
            Log.RecordFailed(logger, work.DeliveryId, work.EndpointId, work.EventId, ex.GetType().Name, ex.Message);
        }
        finally
        {
            signal.Notify();
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the server takes requests: every usage batch and plan change from now on records threshold and limit crossings.
        store.EnableUsageAlerts(options.WebhookUsageThreshold);
        // Events this process's store records in its own transactions (users, keys, plans, usage, billing) wake the loop.
        store.OnDeliveriesQueued(signal.Notify);
        return base.StartAsync(cancellationToken);
    }

    /// <summary>The worker's thread when the clock is the system's (null with another clock, or before start).</summary>
    internal Thread? LoopThread { get; private set; }

    /// <summary>
    /// Rounds until stopped: prune when due, lease and start what is due, and when nothing was, wait for this process's
    /// next event or the poll interval (events recorded by other processes). On the system clock the loop has a thread of
    /// its own that sleeps between rounds (a timer on the thread pool wakes a worker that then spins before sleeping
    /// again, which at rest costs more than the look); the deliveries themselves run on the thread pool. Any other clock
    /// (a test's) drives an async loop instead.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (timeProvider != TimeProvider.System)
        {
            return LoopAsync(stoppingToken);
        }

        var stopped = Core.Timing.OwnThread.Start("apigate webhook outbox", token =>
        {
            try
            {
                while (!token.IsCancellationRequested)
                {
                    if (!RoundAsync(token).GetAwaiter().GetResult())
                    {
                        signal.Wait(options.WebhookPollInterval, token);
                    }
                }
            }
            finally
            {
                FinishInFlightAsync().GetAwaiter().GetResult();
            }
        }, stoppingToken, out var thread);
        LoopThread = thread;
        return stopped;
    }

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (!await RoundAsync(stoppingToken))
                {
                    await signal.WaitAsync(options.WebhookPollInterval, timeProvider, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await FinishInFlightAsync();
        }
    }

    /// <summary>
    /// The kind of failure (the exception's type) the last failed round logged, or null while rounds succeed: the loop's
    /// own, read and written by one round at a time.
    /// </summary>
    private string? _failing;
    private long _failedRounds;

    /// <summary>Rounds whose claim failed (the store down or locked), since start: lets tests count rounds instead of timing them.</summary>
    internal long FailedRounds => Interlocked.Read(ref _failedRounds);

    /// <summary>
    /// One round: the prune when due, then the lease. Returns whether deliveries were started (more may be due, for the
    /// endpoints not yet in flight: look again at once); false to wait. A store that is down or locked is logged once,
    /// and again only when it fails in another way, and waited out (the outbox is still there); the first round that
    /// reads it again says so.
    /// </summary>
    private async Task<bool> RoundAsync(CancellationToken stoppingToken)
    {
        await PruneWhenDueAsync(stoppingToken);
        bool started;
        try
        {
            started = await ClaimAndStartAsync(stoppingToken) > 0;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw; // stopping
        }
        catch (Exception ex)
        {
            // Also while stopping: a claim that gave up on another process's lock, or a connection closed under it, is a
            // failed round as at any other time (logged, and the wait that follows ends the loop), not a fault of the service.
            // A database that is down fails every round, one a poll interval: logged once per outage, not every second.
            Interlocked.Increment(ref _failedRounds);
            var kind = ex.GetType().Name;
            if (_failing != kind)
            {
                _failing = kind;
                Log.RoundFailed(logger, kind, ex.Message);
            }

            return false;
        }

        if (_failing is not null)
        {
            _failing = null;
            Log.RoundRecovered(logger);
        }

        return started;
    }

    /// <summary>
    /// Stopping: the attempts in flight end now (their token is the stopping one) and are recorded before the process
    /// goes, so none is left leased and unrecorded.
    /// </summary>
    private Task FinishInFlightAsync()
    {
        Task[] running;
        lock (_inFlight)
        {
            running = [.. _inFlight];
        }

        return Task.WhenAll(running);
    }

    /// <summary>How often the history past <c>webhook.retention</c> is pruned, and how many rows of each kind one statement deletes.</summary>
    internal static readonly TimeSpan PruneInterval = TimeSpan.FromHours(1);

    /// <summary>How soon a prune the store refused (locked, down) is tried again: a passing lock must not leave the history an hour longer.</summary>
    internal static readonly TimeSpan PruneRetry = TimeSpan.FromMinutes(1);

    private const int PruneBatch = 1000;

    private DateTimeOffset _nextPrune;

    /// <summary>
    /// Once an hour (first at start), deletes the webhook history older than <c>webhook.retention</c> in batches, each its
    /// own short transaction, at most a hundred a round (the rest next hour). Every instance prunes: the deletes are
    /// idempotent. A store that fails is tried again a minute later; deliveries go on meanwhile.
    /// </summary>
    private async Task PruneWhenDueAsync(CancellationToken stoppingToken)
    {
        var now = timeProvider.GetUtcNow();
        if (now < _nextPrune)
        {
            return;
        }

        _nextPrune = now + PruneInterval;
        var before = now - options.WebhookRetention;
        int deliveries = 0, events = 0;
        try
        {
            for (var batch = 0; batch < 100 && !stoppingToken.IsCancellationRequested; batch++)
            {
                var (d, e) = await store.PruneWebhookHistoryAsync(before, PruneBatch, stoppingToken);
                deliveries += d;
                events += e;
                if (d < PruneBatch && e < PruneBatch)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            _nextPrune = now + PruneRetry;
            Log.PruneFailed(logger, ex.GetType().Name, ex.Message);
        }

        if (deliveries + events > 0)
        {
            Log.Pruned(logger, deliveries, events, before);
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    private async Task DeliverAsync(WebhookDeliveryWork work, CancellationToken cancellationToken)
    {
        var attemptedAt = timeProvider.GetUtcNow();
        var (statusCode, sent, latency, retryAfter) = await SendAsync(work, attemptedAt, cancellationToken);
        // Every error, not only a refusal's body: the client's messages quote an invalid status or header line as the
        // endpoint sent it, NUL and escape sequences included, which PostgreSQL refuses to store (the attempt then went
        // unrecorded, and the delivery was sent again at every lease expiry, never backing off nor given up on).
        var error = TextCut.OneLine(sent, MaxError);
        var delivered = error.Length == 0;
        var failedAttempts = work.AttemptCount + 1;
        // An attempt this gateway cut short by stopping is not the endpoint's failure: the delivery stays due at once for
        // the next gateway, instead of waiting a back-off step or being failed for good past the maximum age.
        var interrupted = !delivered && cancellationToken.IsCancellationRequested;
        var next = delivered ? null : interrupted ? attemptedAt : _schedule.NextAttempt(failedAttempts, work.StartedAt, timeProvider.GetUtcNow(), retryAfter);
        var status = delivered ? WebhookDeliveryStatus.Delivered : next is null ? WebhookDeliveryStatus.Failed : WebhookDeliveryStatus.Pending;
        var attempt = new WebhookAttempt(work.DeliveryId, attemptedAt, statusCode, latency, error);
        try
        {
            // Recorded even when the worker is stopping: the endpoint may have received it.
            await store.RecordWebhookAttemptAsync(attempt, _owner, work.StartedAt, status, next ?? attemptedAt, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Not recorded: the lease expires and the delivery is sent again (at least once).
            Log.RecordFailed(logger, work.DeliveryId, work.EndpointId, work.EventId, ex.GetType().Name, ex.Message);
            return;
        }

        if (statusCode == (int)HttpStatusCode.Gone)
        {
            await DisableGoneAsync(work);
        }

        if (status == WebhookDeliveryStatus.Failed)
        {
            Log.GaveUp(logger, work.DeliveryId, work.EndpointId, work.EventId, failedAttempts, error);
        }
        else if (!delivered)
        {
            Log.AttemptFailed(logger, work.DeliveryId, work.EndpointId, work.EventId, error, next!.Value);
        }
    }

    /// <summary>
    /// The endpoint answered <c>410 Gone</c>: its owner wants nothing more sent there (Standard Webhooks: disable it), so
    /// it is disabled as the operator would (its queued deliveries wait until it is enabled again, nothing new is queued),
    /// unless it was changed since the attempt was claimed (another URL, disabled already): a changed endpoint is the
    /// operator's to decide on. Not disabled (the store is busy), the next attempt's 410 tries again.
    /// </summary>
    private async Task DisableGoneAsync(WebhookDeliveryWork work)
    {
        try
        {
            if (await store.FindWebhookEndpointAsync(work.EndpointId, CancellationToken.None) is { Enabled: true } endpoint && endpoint.Url == work.Url)
            {
                await store.UpdateWebhookEndpointAsync(
                    endpoint with { Enabled = false, UpdatedAt = RowVersion.ChangedAt(timeProvider, endpoint.UpdatedAt) }, endpoint.UpdatedAt, CancellationToken.None);
                Log.DisabledGone(logger, work.EndpointId, work.DeliveryId, work.EventId);
            }
        }
        catch (Exception ex)
        {
            Log.DisableFailed(logger, work.EndpointId, ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>Sends one attempt: its status code (0 without an answer), error ("" when delivered), latency, and the wait a refusal's <c>Retry-After</c> asks for.</summary>
    private async Task<(int StatusCode, string Error, double LatencyMs, TimeSpan? RetryAfter)> SendAsync(WebhookDeliveryWork work, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (work.SecretError is { } secretError)
        {
            // Recorded like any other failure, for this endpoint only; the message names the cause, never the secret.
            return (0, $"the endpoint's signing secret cannot be read: {secretError}", 0, null);
        }

        var timestamp = at.ToUnixTimeSeconds();
        string signature;
        Uri url;
        try
        {
            signature = WebhookSignature.Sign(work.Secret, work.EventId, timestamp, work.Body);
            url = new Uri(work.Url, UriKind.Absolute);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            // A stored URL or secret the request cannot be made from (a damaged or hand-edited row): this attempt's
            // failure, recorded like any other — left unrecorded, the delivery would be claimed again at every lease
            // expiry, forever. The message never holds the secret.
            return (0, $"{ex.GetType().Name}: the endpoint's stored URL or signing secret is not usable ({ex.Message})", 0, null);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(work.Body, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("webhook-id", work.EventId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        request.Headers.TryAddWithoutValidation("User-Agent", "APIGate-Webhooks");

        using var timeout = new CancellationTokenSource(options.WebhookTimeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var code = (int)response.StatusCode;
            if (code is >= 200 and < 300)
            {
                return (code, "", latency, null);
            }

            var body = await ReadBoundedAsync(response, linked.Token);
            return (code, $"endpoint answered {code}{(body.Length > 0 ? ": " + body : "")}", latency, RetryAfterOf(response, at));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (0, $"timed out after {options.WebhookTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s", Stopwatch.GetElapsedTime(started).TotalMilliseconds, null);
        }
        catch (HttpRequestException ex)
        {
            // The cause (a reset, a refused TLS handshake) is often only in the inner exception.
            var cause = ex.InnerException?.Message is { Length: > 0 } inner && !ex.Message.Contains(inner, StringComparison.Ordinal) ? $" ({inner})" : "";
            return (0, (ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : $"{ex.HttpRequestError}: {ex.Message}") + cause,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return (0, WebhookAttempt.GatewayStopping, Stopwatch.GetElapsedTime(started).TotalMilliseconds, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Anything else the client throws (a scheme it cannot send to, say) is this attempt's failure, recorded like any
            // other: left unrecorded, the delivery would be claimed and sent again at every lease expiry, forever.
            return (0, $"{ex.GetType().Name}: {ex.Message}", Stopwatch.GetElapsedTime(started).TotalMilliseconds, null);
        }
    }

    /// <summary>
    /// The wait a refusal's <c>Retry-After</c> asks for (a <c>429</c> or <c>503</c> usually), in seconds or as a date
    /// (counted from <paramref name="sentAt"/>); null when there is none. The schedule bounds it.
    /// </summary>
    private static TimeSpan? RetryAfterOf(HttpResponseMessage response, DateTimeOffset sentAt) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date > sentAt ? date - sentAt : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>
    /// The start of a refusal's body, for the attempt's error: one line (control characters, line separators and
    /// bidirectional overrides made spaces), bounded, read no further than
    /// <see cref="MaxBodyRead"/>, and no longer than the attempt's time allows.
    /// </summary>
    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxBodyRead];
        var read = 0;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            // The endpoint answered, and its status is the attempt's result: a body cut off or still trickling when the
            // time is up adds what arrived, not a "timed out" that hides the answer.
        }

        // Never half a character: PostgreSQL refuses to store a lone surrogate, so the attempt could not be recorded and
        // the delivery would be sent again at every lease expiry.
        return TextCut.OneLine(Encoding.UTF8.GetString(buffer, 0, read), MaxErrorBody).Trim();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9601, Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} to endpoint {EndpointId} (event {EventId}) failed: {Error}; next attempt at {NextAttempt:O}")]
        public static partial void AttemptFailed(ILogger logger, long deliveryId, string endpointId, string eventId, string error, DateTimeOffset nextAttempt);

        [LoggerMessage(EventId = 9602, Level = LogLevel.Error, Message = "Webhook delivery {DeliveryId} to endpoint {EndpointId} (event {EventId}) failed after {Attempts} attempts, giving up: {Error}")]
        public static partial void GaveUp(ILogger logger, long deliveryId, string endpointId, string eventId, int attempts, string error);

        [LoggerMessage(EventId = 9603, Level = LogLevel.Warning,
            Message = "Webhook deliveries could not be read from the store ({Type}: {Reason}); retrying every poll interval, and saying so again once it is read")]
        public static partial void RoundFailed(ILogger logger, string type, string reason);

        [LoggerMessage(EventId = 9609, Level = LogLevel.Information, Message = "Webhook deliveries are read from the store again")]
        public static partial void RoundRecovered(ILogger logger);

        [LoggerMessage(EventId = 9605, Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} answered 410 Gone to delivery {DeliveryId} (event {EventId}): the endpoint is disabled; its queued deliveries wait until it is enabled again")]
        public static partial void DisabledGone(ILogger logger, string endpointId, long deliveryId, string eventId);

        [LoggerMessage(EventId = 9606, Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} answered 410 Gone but could not be disabled ({Type}: {Reason}); the next attempt tries again")]
        public static partial void DisableFailed(ILogger logger, string endpointId, string type, string reason);

        [LoggerMessage(EventId = 9607, Level = LogLevel.Information, Message = "Webhook history pruned: {Deliveries} finished deliveries and {Events} events from before {Before:O} (webhook.retention)")]
        public static partial void Pruned(ILogger logger, int deliveries, int events, DateTimeOffset before);

        [LoggerMessage(EventId = 9608, Level = LogLevel.Warning, Message = "Webhook history could not be pruned ({Type}: {Reason}); trying again in a minute")]
        public static partial void PruneFailed(ILogger logger, string type, string reason);

        [LoggerMessage(EventId = 9604, Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} to endpoint {EndpointId} (event {EventId}): the attempt could not be recorded ({Type}: {Reason}); it will be sent again")]
        public static partial void RecordFailed(ILogger logger, long deliveryId, string endpointId, string eventId, string type, string reason);
    }
}
