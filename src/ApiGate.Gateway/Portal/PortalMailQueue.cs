using System.Globalization;
using System.Threading.Channels;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Sends portal email from a background queue, so a sign-up or reset request never waits on (or reveals anything
/// through the timing of) the SMTP server. One connection per batch of queued messages; a failed send is logged (the
/// recipient's domain and the reason, never the SMTP credentials) and the message dropped — the customer can ask
/// for a new link. Without <c>APIGATE_SMTP_URL</c> nothing is queued.
/// </summary>
internal sealed partial class PortalMailQueue(PortalOptions options, Identity.AttemptCounter counter, ILogger<PortalMailQueue> logger, TimeProvider? timeProvider = null)
    : BackgroundService
{
    /// <summary>The longest wait between two attempts at a server that keeps failing (a wrong password, a server that is down).</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(5);

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Messages waiting beyond this are refused (logged) rather than held without bound.</summary>
    public const int Capacity = 1_000;

    /// <summary>
    /// Messages to one address per <see cref="RecipientWindow"/> (verification, resends and resets together): enough
    /// for a person, while a form submitted in a loop cannot flood somebody's mailbox from this portal.
    /// </summary>
    public const int PerRecipient = 5;

    /// <summary>The window of <see cref="PerRecipient"/>.</summary>
    public static readonly TimeSpan RecipientWindow = TimeSpan.FromHours(1);


    // Wait, not DropWrite: with DropWrite, TryWrite reports success for the message it drops, so a full queue was never
    // logged. Nothing waits on it: EnqueueReserved only tries.
    private readonly Channel<PortalEmail> _queue = Channel.CreateBounded<PortalEmail>(new BoundedChannelOptions(Capacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>True when an SMTP server is configured.</summary>
    public bool CanSend => options.Smtp is not null;

    /// <summary>
    /// Queues the message; false when there is no SMTP server, the recipient has had <see cref="PerRecipient"/> messages
    /// within <see cref="RecipientWindow"/> (counted in the store, by every instance together), or the queue is full.
    /// </summary>
    public async Task<bool> EnqueueAsync(PortalEmail email, CancellationToken ct) =>
        await ReserveAsync(email.To, ct) && EnqueueReserved(email);

    /// <summary>
    /// Takes one of the recipient's messages for the window before the message is made (so a message that will not go
    /// out — a reset link — is never issued either); false when there is no SMTP server or the recipient has had
    /// <see cref="PerRecipient"/> messages, or when the queue is full already (then no slot is taken either: a reset link
    /// issued for a message that cannot be queued would end the recipient's earlier link for nothing). Follow with
    /// <see cref="EnqueueReserved"/>.
    /// </summary>
    public async Task<bool> ReserveAsync(string to, CancellationToken ct)
    {
        if (options.Smtp is null)
        {
            return false;
        }

        if (_queue.Reader.Count >= Capacity)
        {
            LogQueueFull(logger, Capacity);
            return false;
        }

        var recipient = to.Trim().ToLowerInvariant();
        // One statement counts and answers, so two instances sending at once cannot both take the last slot.
        if ((await counter.AddAsync("portal-mail-recipient", recipient, RecipientWindow, ct)).Count > PerRecipient)
        {
            // The form's answer stays the same (it never says whether mail went out): only the log knows.
            LogRecipientLimited(logger, DomainOf(recipient), PerRecipient, RecipientWindow.TotalMinutes);
            return false;
        }

        return true;
    }

    /// <summary>Queues a message whose recipient slot was taken (<see cref="ReserveAsync"/>); false when the queue is full.</summary>
    public bool EnqueueReserved(PortalEmail email)
    {
        if (!_queue.Writer.TryWrite(email))
        {
            LogQueueFull(logger, Capacity);
            return false;
        }

        return true;
    }

    /// <summary>How the connection is secured: see <see cref="SmtpEndpoint.CredentialsNeedTls"/>.</summary>
    internal static SecureSocketOptions SocketOptionsFor(SmtpEndpoint smtp) =>
        smtp.ImplicitTls ? SecureSocketOptions.SslOnConnect
        : smtp.CredentialsNeedTls ? SecureSocketOptions.StartTls
        : SecureSocketOptions.StartTlsWhenAvailable;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Smtp is not { } smtp)
        {
            if (!options.SignUpAvailable)
            {
                // Otherwise only a visitor of the sign-up page would find out.
                LogSignUpUnavailable(logger);
            }

            return;
        }

        if (options.BaseUrl.Length == 0)
        {
            LogNoBaseUrl(logger);
        }

        var from = MailboxAddress.Parse(options.Sender);
        var failures = 0;
        while (await _queue.Reader.WaitToReadAsync(stoppingToken))
        {
            string failure;
            try
            {
                // Each read and write (the greeting included) waits at most this long: a server that takes the
                // connection and never answers ends the attempt with a logged error instead of holding the queue.
                using var client = new SmtpClient { Timeout = (int)options.SmtpTimeout.TotalMilliseconds };
                await client.ConnectAsync(smtp.Host, smtp.Port, SocketOptionsFor(smtp), stoppingToken);
                if (smtp.User is { Length: > 0 } user)
                {
                    await client.AuthenticateAsync(user, smtp.Password ?? "", stoppingToken);
                }

                while (_queue.Reader.TryRead(out var email))
                {
                    await SendOneAsync(client, from, email, stoppingToken);
                }

                await client.DisconnectAsync(true, stoppingToken);
                failures = 0;
                continue;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is MailKit.ServiceNotConnectedException or MailKit.Security.AuthenticationException or MailKit.ProtocolException
                                           or System.Net.Sockets.SocketException or IOException or SmtpCommandException or SmtpProtocolException
                                           or System.Security.Authentication.AuthenticationException)
            {
                failure = ex.Message;
            }
            catch (TimeoutException)
            {
                failure = string.Create(CultureInfo.InvariantCulture, $"the server did not answer within {options.SmtpTimeout.TotalSeconds} s (smtp.timeout)");
            }
            catch (NotSupportedException) when (smtp.CredentialsNeedTls && !smtp.ImplicitTls)
            {
                // The library's words ("does not support the STARTTLS extension") do not say why it matters.
                failure = "the server does not offer STARTTLS, and the password is not sent unencrypted to another machine; use an smtps:// URL or a server that offers STARTTLS";
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Anything else (a message the library cannot build, say) must not end this loop: an exception escaping a
                // background service stops the whole gateway.
                failure = ex.GetType().Name + ": " + ex.Message;
            }

            // Whatever is still queued waits for the next attempt, later each time the server fails again (a wrong password
            // or a server that is down would otherwise be tried, and logged, every second until the gateway stops).
            var wait = RetryDelay(failures++);
            LogServerFailed(logger, smtp.ToString(), failure, _queue.Reader.Count, wait.TotalSeconds);
            await Task.Delay(wait, _time, stoppingToken);
        }
    }

    /// <summary>The wait after the <paramref name="failuresBefore"/>+1-th failure in a row: 1 s, doubling, at most <see cref="MaxRetryDelay"/>.</summary>
    internal static TimeSpan RetryDelay(int failuresBefore) =>
        failuresBefore >= 9 ? MaxRetryDelay : TimeSpan.FromSeconds(Math.Min(1 << failuresBefore, MaxRetryDelay.TotalSeconds));

    private async Task SendOneAsync(SmtpClient client, MailboxAddress from, PortalEmail email, CancellationToken cancellationToken)
    {
        if (!MailboxAddress.TryParse(email.To, out var to) || !string.Equals(to.Address, email.To, StringComparison.OrdinalIgnoreCase))
        {
            // An address stored before sign-up checked it the mail library's way (or made by an operator): skipped,
            // never allowed to stop the queue — or, through it, the gateway.
            LogRefused(logger, DomainOf(email.To), "not an address this gateway can send to");
            return;
        }

        var message = new MimeMessage();
        message.From.Add(from);
        message.To.Add(to);
        message.Subject = email.Subject;
        message.Body = new TextPart("plain") { Text = email.Body };
        try
        {
            await client.SendAsync(message, cancellationToken);
            LogSent(logger, DomainOf(email.To));
        }
        catch (SmtpCommandException ex)
        {
            // The server refused this message (say, the recipient): the others still go.
            LogRefused(logger, DomainOf(email.To), ex.Message);
        }
    }

    private static string DomainOf(string address) => address[(address.LastIndexOf('@') + 1)..];

    [LoggerMessage(EventId = 8006, Level = LogLevel.Warning, Message = "Portal sign-up is unavailable: email verification is required (APIGATE_PORTAL_REQUIRE_VERIFICATION) and no SMTP server is set (APIGATE_SMTP_URL); set one, or turn verification off")]
    private static partial void LogSignUpUnavailable(ILogger logger);

    [LoggerMessage(EventId = 8008, Level = LogLevel.Warning, Message = "APIGATE_PORTAL_BASE_URL is not set: portal emails with links (confirmation, password reset) are sent only for requests made to a loopback address; set it to the portal's public address")]
    private static partial void LogNoBaseUrl(ILogger logger);

    [LoggerMessage(EventId = 8001, Level = LogLevel.Information, Message = "Portal email sent to an address at {Domain}")]
    private static partial void LogSent(ILogger logger, string domain);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Warning, Message = "Portal email to an address at {Domain} refused by the SMTP server: {Reason}")]
    private static partial void LogRefused(ILogger logger, string domain, string reason);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Error,
        Message = "Portal email could not be sent through {Server}: {Reason}; {Waiting} queued message(s) tried again in {Seconds} s")]
    private static partial void LogServerFailed(ILogger logger, string server, string reason, int waiting, double seconds);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Warning, Message = "Portal email to an address at {Domain} not sent: it already had {Limit} in the last {Minutes} minutes")]
    private static partial void LogRecipientLimited(ILogger logger, string domain, int limit, double minutes);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Error, Message = "Portal email queue is full ({Capacity} messages waiting); a message was dropped")]
    private static partial void LogQueueFull(ILogger logger, int capacity);
}
