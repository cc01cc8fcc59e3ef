using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>Every <c>apigate … update</c> given none of its flags refuses, as <c>plan-entitlements update</c> always did.</summary>
public sealed class UpdateWithoutFlagsCliTests : CliTestBase
{
    [Theory]
    [InlineData("routes")]
    [InlineData("upstreams")]
    [InlineData("users")]
    [InlineData("plans")]
    [InlineData("entitlements")]
    [InlineData("plan-entitlements")]
    [InlineData("webhooks")]
    public async Task Update_NoChangeFlags_ExitsTwoSayingNothingToChangeAndWritesNothing(string noun)
    {
        // Arrange: one record of each kind
        var id = await CreateAsync(noun);
        var before = await ShownAsync(noun, id);

        // Act: no flag of the command's own; the global --json changes nothing either
        var bare = await RunAsync(noun, "update", id);
        var jsonOnly = await RunAsync("--json", noun, "update", id);

        // Assert
        var expected = $"error: nothing to change: give one or more of its flags (see 'apigate {noun} update --help')" + System.Environment.NewLine;
        Assert.Equal((2, "", expected), (bare.ExitCode, bare.Output, bare.Diagnostics));
        Assert.Equal((2, "", expected), (jsonOnly.ExitCode, jsonOnly.Output, jsonOnly.Diagnostics));
        Assert.Equal(before, await ShownAsync(noun, id));
    }

    [Fact]
    public async Task Update_FlagGivenWithTheStoredValue_IsAnUpdate()
    {
        // Arrange
        var id = await CreateAsync("users");

        // Act: a flag given with the value it already has still counts as given
        var result = await RunAsync("users", "update", id, "--status", "active");

        // Assert
        Assert.Equal((0, ""), (result.ExitCode, result.Diagnostics));
        Assert.Contains("ann@example.com", result.Output, StringComparison.Ordinal);
    }

    private async Task<string> CreateAsync(string noun)
    {
        string[] args = noun switch
        {
            "routes" => ["routes", "create", "--name", "Orders", "--path", "/orders/*", "--upstream", await CreateAsync("upstreams")],
            "upstreams" => ["upstreams", "create", "--name", "Orders API", "--url", "http://127.0.0.1:9"],
            "users" => ["users", "create", "--email", "ann@example.com"],
            "plans" => ["plans", "create", "--id", "pro", "--name", "Pro"],
            "entitlements" => ["entitlements", "create", "--name", "webhooks", "--value-type", "boolean", "--default-value", "false"],
            "plan-entitlements" =>
            [
                "plan-entitlements", "create", "--plan", await CreateAsync("plans"), "--entitlement", await CreateAsync("entitlements"), "--value", "true",
            ],
            "webhooks" => ["webhooks", "create", "--url", "https://example.com/hooks", "--events", "key.created"],
            _ => throw new ArgumentOutOfRangeException(nameof(noun)),
        };
        var created = await RunAsync([.. args, "--json"]);
        Assert.True(created.ExitCode == 0, created.Error);
        return JsonDocument.Parse(created.Output).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>The record as stored (its JSON, updated_at included): what an update that writes nothing leaves as it was.</summary>
    private async Task<string> ShownAsync(string noun, string id)
    {
        if (noun == "plan-entitlements")
        {
            var listed = await RunAsync("plan-entitlements", "list-by-plan", "pro", "--json");
            Assert.Equal(0, listed.ExitCode);
            return listed.Output;
        }

        var shown = await RunAsync(noun, "get", id, "--json");
        Assert.Equal(0, shown.ExitCode);
        return shown.Output;
    }
}
