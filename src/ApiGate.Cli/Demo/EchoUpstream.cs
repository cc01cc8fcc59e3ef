using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace ApiGate.Cli.Demo;

/// <summary>The demo's backend: answers every request with a JSON echo of what it received (method, path, query, headers).</summary>
internal static class EchoUpstream
{
    // Written as received: an HTML-safe encoder would show '&' and '+' as \u0026 and \u002B.
    private static readonly JsonSerializerOptions EchoJson = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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
                path = PathAsSent(context),
                query = request.QueryString.Value,
                headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString()),
            };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(echo, EchoJson) + "\n");
        });
        return app;
    }

    // The path as it arrived, escapes included (%3B stays %3B): Request.Path is decoded, so it would show what the
    // gateway forwarded differently from how it forwarded it.
    private static string PathAsSent(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target) || target[0] != '/')
        {
            return context.Request.Path.Value ?? "";
        }

        var query = target.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? target : target[..query];
    }
}
