using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using MimeKit;
using SmtpServer;
using SmtpServer.Authentication;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A real SMTP server (the SmtpServer package) on a free loopback port that keeps every message it receives, for
/// tests of what the gateway sends by email. It requires AUTH with <see cref="User"/>/<see cref="Password"/> (over
/// plain TCP: loopback only), so <see cref="Url"/> also proves the credentials in <c>APIGATE_SMTP_URL</c> are used.
/// </summary>
internal sealed class TestSmtpServer : IAsyncDisposable
{
    public const string User = "mailer";
    public const string Password = "s3cret:p@ss";

    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<MimeMessage> _received = Channel.CreateUnbounded<MimeMessage>();
    private readonly SmtpServer.SmtpServer _server;
    private readonly Task _running;

    private TestSmtpServer(int port)
    {
        Port = port;
        var options = new SmtpServerOptionsBuilder()
            .ServerName("localhost")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, port)).AllowUnsecureAuthentication(true).AuthenticationRequired(true))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new CapturingStore(_received.Writer));
        services.Add(new FixedUser());
        _server = new SmtpServer.SmtpServer(options, services);
        _running = _server.StartAsync(_stop.Token);
    }

    public int Port { get; }

    /// <summary><c>smtp://mailer:…@127.0.0.1:port</c>, the password percent-encoded.</summary>
    public string Url => $"smtp://{User}:{Uri.EscapeDataString(Password)}@127.0.0.1:{Port}";

    /// <summary>Every message received so far, in order.</summary>
    public List<MimeMessage> Messages { get; } = [];

    public static TestSmtpServer Start()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new TestSmtpServer(port);
    }

    /// <summary>The next message to <paramref name="to"/> (waits up to 30 s; messages to others are kept in <see cref="Messages"/>).</summary>
    public async Task<MimeMessage> NextToAsync(string to)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var message = await _received.Reader.ReadAsync(timeout.Token);
            Messages.Add(message);
            if (message.To.Mailboxes.Any(m => string.Equals(m.Address, to, StringComparison.OrdinalIgnoreCase)))
            {
                return message;
            }
        }
    }

    /// <summary>The link in a message's text whose path starts with <paramref name="pathStart"/> (e.g. <c>/portal/verify</c>).</summary>
    public static string LinkIn(MimeMessage message, string pathStart)
    {
        var text = message.TextBody ?? "";
        var start = text.IndexOf("http", StringComparison.Ordinal);
        while (start >= 0)
        {
            var end = text.IndexOfAny([' ', '\n', '\r'], start);
            var link = end < 0 ? text[start..] : text[start..end];
            if (Uri.TryCreate(link, UriKind.Absolute, out var uri) && uri.AbsolutePath.StartsWith(pathStart, StringComparison.Ordinal))
            {
                return link;
            }

            start = text.IndexOf("http", start + 1, StringComparison.Ordinal);
        }

        throw new InvalidOperationException($"no {pathStart} link in the message: {text}");
    }

    public async ValueTask DisposeAsync()
    {
        _server.Shutdown();
        await _stop.CancelAsync();
        try
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }

        _stop.Dispose();
    }

    private sealed class CapturingStore(ChannelWriter<MimeMessage> received) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(buffer.ToArray());
            var message = await MimeMessage.LoadAsync(stream, cancellationToken);
            await received.WriteAsync(message, cancellationToken);
            return SmtpResponse.Ok;
        }
    }

    private sealed class FixedUser : IUserAuthenticator
    {
        public Task<bool> AuthenticateAsync(ISessionContext context, string user, string password, CancellationToken cancellationToken) =>
            Task.FromResult(user == User && password == Password);
    }
}
