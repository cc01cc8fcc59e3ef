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
/// tests' upstream. It records the path of each call it receives.
/// </summary>
internal sealed class GreeterUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GreeterUpstream(WebApplication app, string url, ConcurrentQueue<string> calls)
    {
        _app = app;
        Url = url;
        Calls = calls;
    }

    public string Url { get; }

    /// <summary>The path of every call received, in order.</summary>
    public ConcurrentQueue<string> Calls { get; }

    public static async Task<GreeterUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var app = builder.Build();
        var calls = new ConcurrentQueue<string>();
        app.Use((context, next) =>
        {
            calls.Enqueue(context.Request.Path.Value ?? "");
            return next(context);
        });
        app.MapGrpcService<GreeterService>();
        await app.StartAsync();
        return new GreeterUpstream(app, app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(), calls);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
