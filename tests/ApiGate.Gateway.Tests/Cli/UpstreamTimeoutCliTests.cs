using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// <c>--timeout</c> is milliseconds or a duration (README), kept in whole milliseconds: a fraction of a millisecond is
/// refused naming the field, never cut off (<c>2.9</c> stored as 2, <c>0.4</c> as 0 = "the gateway default").
/// </summary>
public sealed class UpstreamTimeoutCliTests : CliTestBase
{
    [Theory]
    [InlineData("2.9")]
    [InlineData("0.4")]
    [InlineData("0.5ms")]
    [InlineData("1.0005s")]
    public Task Create_TimeoutWithAFractionOfAMillisecond_ErrorNamesTheField_ExitCode2_NothingStored(string timeout) =>
        AssertCreateRefusedAsync(timeout,
            $"error: --timeout: '{timeout}' has a fraction of a millisecond: the timeout must be a whole number of milliseconds " +
            "(a bare number is milliseconds, e.g. 400) or a duration such as 30s\n");

    [Theory]
    [InlineData("soon")]
    [InlineData("-5")]
    [InlineData("1000h")]
    public Task Create_TimeoutNotADurationInRange_ErrorGivesTheAcceptedFormAndRange_ExitCode2_NothingStored(string timeout) =>
        // 1000h is positive, yet was refused as "not a positive duration"; the range was never said
        AssertCreateRefusedAsync(timeout,
            $"error: --timeout: '{timeout}' is not a duration from 1ms to 596h: milliseconds (e.g. 5000) or a duration such as 30s or 2m; " +
            "0 means the gateway default\n");

    /// <summary>Creating an upstream with <paramref name="timeout"/> exits 2 with <paramref name="expected"/> and stores nothing.</summary>
    private async Task AssertCreateRefusedAsync(string timeout, string expected)
    {
        // Act
        var result = await RunAsync("upstreams", "create", "--name", "tr4", "--url", "http://127.0.0.1:19250", "--timeout", timeout);
        var listed = await RunAsync("upstreams", "list", "--json");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(expected, result.Diagnostics);
        Assert.Equal(0, JsonDocument.Parse(listed.Output).RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("0.4s", 400)]
    [InlineData("2.5s", 2_500)]
    [InlineData("2900", 2_900)]
    public async Task Create_TimeoutOfWholeMilliseconds_StoredExactly(string timeout, int expectedMs)
    {
        // Act
        var result = await RunAsync("upstreams", "create", "--name", "exact", "--url", "http://127.0.0.1:19250", "--timeout", timeout);
        var got = await RunAsync("upstreams", "get", "exact", "--json");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(expectedMs, JsonDocument.Parse(got.Output).RootElement.GetProperty("timeout_ms").GetInt32());
    }

    [Fact]
    public async Task Update_TimeoutWithAFraction_Refused_TheStoredTimeoutIsKept()
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "kept", "--url", "http://127.0.0.1:19250", "--timeout", "5s")).ExitCode);

        // Act
        var result = await RunAsync("upstreams", "update", "kept", "--timeout", "0.4");
        var got = await RunAsync("upstreams", "get", "kept", "--json");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --timeout: '0.4' has a fraction of a millisecond", result.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(5_000, JsonDocument.Parse(got.Output).RootElement.GetProperty("timeout_ms").GetInt32());
    }

    [Fact]
    public async Task Create_HealthTimeoutWithAFraction_ErrorNamesTheField()
    {
        // Act
        var result = await RunAsync("upstreams", "create", "--name", "hc", "--url", "http://127.0.0.1:19250", "--health-path", "/healthz", "--health-timeout", "150.5");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --health-timeout: '150.5' has a fraction of a millisecond", result.Diagnostics, StringComparison.Ordinal);
    }
}
