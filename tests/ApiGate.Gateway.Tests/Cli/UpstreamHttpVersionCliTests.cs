using System.Text.Json;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate upstreams … --http-version 1.1|2</c>.</summary>
public sealed class UpstreamHttpVersionCliTests : CliTestBase
{
    [Fact]
    public async Task CreateUpdateGet_HttpVersion_ShownInGetAndJson()
    {
        var created = await RunAsync("upstreams", "create", "--name", "Grpc", "--url", "http://127.0.0.1:9", "--http-version", "2");
        var shown = await RunAsync("upstreams", "get", "grpc");
        var json = await RunAsync("--json", "upstreams", "get", "grpc");
        var updated = await RunAsync("upstreams", "update", "grpc", "--http-version", "1.1");
        var after = await RunAsync("--json", "upstreams", "get", "grpc");
        var defaulted = await RunAsync("--json", "upstreams", "create", "--name", "Plain", "--url", "http://127.0.0.1:10");

        Assert.Equal(0, created.ExitCode);
        Assert.Matches(@"(?m)^http_version\s+2\s*$", shown.Output);
        Assert.Equal("2", JsonDocument.Parse(json.Output).RootElement.GetProperty("http_version").GetString());
        Assert.Equal(0, updated.ExitCode);
        Assert.Equal("1.1", JsonDocument.Parse(after.Output).RootElement.GetProperty("http_version").GetString());
        Assert.Equal("1.1", JsonDocument.Parse(defaulted.Output).RootElement.GetProperty("http_version").GetString());
    }

    [Theory]
    [InlineData("3")]
    [InlineData("2.0")]
    [InlineData("http/2")]
    public async Task Create_InvalidHttpVersion_RefusedNamingTheField(string value)
    {
        var result = await RunAsync("upstreams", "create", "--name", "Bad", "--url", "http://127.0.0.1:9", "--http-version", value);
        var listed = await RunAsync("--json", "upstreams", "list");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"error: --http-version: '{value}' is not one of 1.1, 2", result.Error);
        Assert.Equal(0, JsonDocument.Parse(listed.Output).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task H2cPortSetting_FromEnvironment_IsResolved()
    {
        Environment["APIGATE_SERVER_H2C_PORT"] = "8081";

        var shown = await RunAsync("config", "show", "--json");

        var setting = JsonDocument.Parse(shown.Output).RootElement.GetProperty("server.h2c_port");
        Assert.Equal(0, shown.ExitCode);
        Assert.Equal("8081", setting.GetProperty("value").GetString());
        Assert.Equal("environment", setting.GetProperty("source").GetString());
    }

    [Fact]
    public void H2cPort_SameAsMainPort_RefusedAtStart()
    {
        var options = new Configuration.GatewayOptions { Port = 8080, H2cPort = 8080 };

        var error = Assert.Throws<ArgumentException>(() => new GatewayOptionsValidator().ThrowIfInvalid(options));

        Assert.Contains("server.h2c_port (APIGATE_SERVER_H2C_PORT): 8080 is the same as the main port", error.Message, StringComparison.Ordinal);
    }
}
