using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// A real ASP.NET Core gRPC service (<see cref="GreeterService"/>) on loopback, HTTP/2 only and cleartext, as the gRPC
/// tests' upstream. It records the <c>grpc-timeout</c> each call arrived with, and lets a call ignore its deadline.
/// </summary>
internal sealed class GreeterUpstream : IAsyncDisposable
{
    /// <summary>
    /// A call with this header (gRPC metadata) has its <c>grpc-timeout</c> removed before the service reads it: the service
    /// then never ends the call for its deadline, as a server that does not enforce deadlines would, so only the gateway's
    /// timeout can end it.
    /// </summary>
    public const string IgnoreDeadlineHeader = "x-ignore-deadline";

    private readonly TaskCompletionSource _reset = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;

    private GreeterUpstream()
    {
    }

    public string Url { get; private set; } = "";

    /// <summary>Path and <c>grpc-timeout</c> header (null when it had none) of every call received, in order.</summary>
    public ConcurrentQueue<(string Path, string? Timeout)> Calls { get; } = new();

    /// <summary>Completes when the test asks streams held for it (<c>THEN_RESET</c>) to be reset.</summary>
    public Task ResetRequested => _reset.Task;

    /// <summary>Resets every <c>THEN_RESET</c> stream, now and later.</summary>
    public void ResetStreams() => _reset.TrySetResult();

    public static async Task<GreeterUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var upstream = new GreeterUpstream();
        builder.Services.AddSingleton(upstream);
        var app = upstream._app = builder.Build();
        app.Use((context, next) =>
        {
            var headers = context.Request.Headers;
            upstream.Calls.Enqueue((context.Request.Path.Value ?? "", headers.TryGetValue("grpc-timeout", out var timeout) ? timeout.ToString() : null));
            if (headers.ContainsKey(IgnoreDeadlineHeader))
            {
                headers.Remove("grpc-timeout");
            }

            return next(context);
        });
        app.MapGrpcService<GreeterService>();
        await app.StartAsync();
        upstream.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
