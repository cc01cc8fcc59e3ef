using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Cli.Demo;

/// <summary>The demo's backend: answers every request with a JSON echo of what it received (method, path, query, headers).</summary>
internal static class EchoUpstream
{
    public static WebApplication Build(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(async context =>
        {
            var request = context.Request;
            var echo = new
            {
                upstream = "apigate demo echo",
                method = request.Method,
                path = request.Path.Value,
                query = request.QueryString.Value,
                headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString()),
            };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(echo, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        });
        return app;
    }
}
