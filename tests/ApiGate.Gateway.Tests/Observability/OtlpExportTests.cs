using System.Collections.Concurrent;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Observability;

/// <summary>
/// OTLP export is configured by the standard environment variables, which are process-wide: this runs in the
/// non-parallel collection and sets them only while the gateway is built.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class OtlpExportTests
{
    [Fact]
    public async Task OtlpEndpointSet_RequestSpanIsExportedToTheCollector()
    {
        // Arrange
        await using var collector = await Collector.StartAsync();
        await using var upstream = await TestUpstream.StartAsync();
        var variables = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "apigate-otlp-test",
        };
        TestGateway gateway;
        foreach (var (name, value) in variables)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        try
        {
            gateway = await TestGateway.StartAsync();
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
        }

        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        await using (gateway)
        {
            await gateway.AddUpstreamAsync("backend", upstream.Url);
            await gateway.AddRouteAsync(new RouteInput { Name = "exported", Path = "/exported/*", Upstream = "backend" });
            using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/exported/x");
            request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

            // Act
            Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(request)).StatusCode);
            await gateway.StopAsync(); // the tracer provider flushes its batch on shutdown
        }

        // Assert: one OTLP/HTTP protobuf export carrying the service name, the source, the route and the trace id.
        var export = Assert.Single(collector.Received, r => r.Path == "/v1/traces");
        Assert.Equal("application/x-protobuf", export.ContentType);
        Assert.True(Contains(export.Body, "apigate-otlp-test"u8.ToArray()), "service name");
        Assert.True(Contains(export.Body, "ApiGate.Gateway"u8.ToArray()), "activity source");
        Assert.True(Contains(export.Body, "exported"u8.ToArray()), "route attribute");
        Assert.True(Contains(export.Body, Convert.FromHexString(traceId)), "client's trace id");
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4317", "is not an absolute http:// or https:// URL")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http//u:otlp-secret-51@collector", "is not an absolute http:// or https:// URL")]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "is not grpc or http/protobuf")]
    public async Task ExporterSettingUnusable_StartupWarningNamesTheVariable(string name, string value, string problem)
    {
        // Arrange: tracing on (an endpoint), and one setting the SDK would ignore.
        var log = new CapturedLog();
        var variables = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1", [name] = value };
        foreach (var (key, setting) in variables)
        {
            Environment.SetEnvironmentVariable(key, setting);
        }

        // Act
        try
        {
            await using var gateway = await TestGateway.StartAsync(o =>
            {
                log.TakeJsonFrom(o);
            });
            await gateway.StopAsync();
        }
        finally
        {
            foreach (var key in variables.Keys)
            {
                Environment.SetEnvironmentVariable(key, null);
            }
        }

        // Assert: one warning naming the variable and what is wrong, never a password from the URL.
        var output = log.Text;
        var line = Assert.Single(output.Split('\n'), line => line.Contains("\"EventId\":9003", StringComparison.Ordinal));
        using var warning = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("Warning", warning.RootElement.GetProperty("LogLevel").GetString());
        var message = warning.RootElement.GetProperty("Message").GetString()!;
        Assert.Contains(name + ": '", message);
        Assert.Contains(problem, message);
        Assert.DoesNotContain("otlp-secret-51", output);
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    private sealed record Export(string Path, string? ContentType, byte[] Body);

    /// <summary>A loopback HTTP server that accepts OTLP/HTTP exports and keeps their bodies.</summary>
    private sealed class Collector : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Collector(WebApplication app, string url)
        {
            _app = app;
            Url = url;
        }

        public string Url { get; }

        public ConcurrentQueue<Export> Received { get; } = new();

        public static async Task<Collector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            Collector? self = null;
            app.Run(async context =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body, context.RequestAborted);
                self!.Received.Enqueue(new Export(context.Request.Path.Value ?? "", context.Request.ContentType, body.ToArray()));
                context.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync();
            self = new Collector(app, app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return self;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
