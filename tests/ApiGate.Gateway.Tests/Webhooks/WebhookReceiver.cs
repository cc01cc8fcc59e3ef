using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using StandardWebhooks;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>One webhook the receiver accepted: its signature verified, its body parsed, the request's other headers as sent.</summary>
internal sealed record ReceivedWebhook(string Id, string Type, string Body, JsonElement Data, string ContentType = "", string UserAgent = "");

/// <summary>
/// The operator's system: a real HTTP server on a loopback port that verifies each request the way a customer does,
/// with the Standard Webhooks library and the secret <c>webhooks create</c> printed. It can answer 503 to the next
/// requests (<see cref="FailNext"/>), and be started on a port chosen before it listens (to be down, then up).
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _failNext;
    private int _requests;
    private int _rejected;
    private int _elsewhere;

    private WebhookReceiver(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hooks";

    /// <summary>The endpoint's signing secret; set once the endpoint exists.</summary>
    public string Secret { get; set; } = "";

    /// <summary>Verified webhooks, in arrival order (answered 2xx or 503 alike).</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>Webhooks answered 204, in arrival order.</summary>
    public ConcurrentQueue<ReceivedWebhook> Accepted { get; } = new();

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests whose signature did not verify.</summary>
    public int Rejected => Volatile.Read(ref _rejected);

    /// <summary>Answers <c>307</c> to <c>/elsewhere</c> to this many of the next requests.</summary>
    public int RedirectNext;

    /// <summary>Waits this long before answering the next request (once).</summary>
    public int StallNextMs;

    /// <summary>Requests that arrived at <c>/elsewhere</c> (a client that followed a redirect).</summary>
    public int Elsewhere => Volatile.Read(ref _elsewhere);

    /// <summary>Answers 503 to this many of the next verified requests.</summary>
    public void FailNext(int count) => Volatile.Write(ref _failNext, count);

    /// <summary>A loopback port nothing listens on (yet).</summary>
    public static int FreePort() => Infrastructure.Ports.Free();

    public static async Task<WebhookReceiver> StartAsync(int? port = null)
    {
        var chosen = port ?? FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, chosen));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, chosen);
        app.MapPost("/hooks", (Func<HttpContext, Task<IResult>>)receiver.HandleAsync);
        app.MapPost("/elsewhere", () =>
        {
            Interlocked.Increment(ref receiver._elsewhere);
            return Results.NoContent();
        });
        await app.StartAsync();
        return receiver;
    }

    /// <summary>Waits (bounded: 30 s) until <paramref name="done"/> holds for the accepted webhooks.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> done, string what)
    {
        for (var i = 0; i < 600; i++)
        {
            if (done(Accepted.ToList()))
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"timed out waiting for {what}; accepted: {string.Join(", ", Accepted.Select(w => w.Type))}; requests {Requests}, rejected {Rejected}");
    }

    /// <summary>Waits until a webhook of <paramref name="type"/> matching <paramref name="match"/> was accepted, and returns it.</summary>
    public async Task<ReceivedWebhook> WaitForAsync(string type, Func<ReceivedWebhook, bool>? match = null)
    {
        await WaitUntilAsync(list => list.Any(w => w.Type == type && (match is null || match(w))), type);
        return Accepted.First(w => w.Type == type && (match is null || match(w)));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        if (Interlocked.Exchange(ref StallNextMs, 0) is > 0 and var stall)
        {
            await Task.Delay(stall); // the sender has given up by now: whatever is answered, nobody reads it
            return Results.StatusCode(StatusCodes.Status504GatewayTimeout);
        }

        if (Interlocked.Decrement(ref RedirectNext) >= 0)
        {
            context.Response.Headers.Location = "/elsewhere";
            return Results.StatusCode(StatusCodes.Status307TemporaryRedirect);
        }

        Interlocked.Exchange(ref RedirectNext, 0);
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        try
        {
            new StandardWebhook(Secret).Verify(body, context.Request.Headers);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _rejected);
            return Results.StatusCode(StatusCodes.Status401Unauthorized);
        }

        using var json = JsonDocument.Parse(body);
        var webhook = new ReceivedWebhook(
            context.Request.Headers["webhook-id"].ToString(), json.RootElement.GetProperty("type").GetString()!, body, json.RootElement.GetProperty("data").Clone(),
            context.Request.ContentType ?? "", context.Request.Headers.UserAgent.ToString());
        Received.Enqueue(webhook);
        if (Interlocked.Decrement(ref _failNext) >= 0)
        {
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }

        Interlocked.Exchange(ref _failNext, 0);
        Accepted.Enqueue(webhook);
        return Results.NoContent();
    }
}
