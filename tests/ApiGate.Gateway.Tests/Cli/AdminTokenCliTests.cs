using System.Text.Json;
using ApiGate.Core.Identity;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate admin tokens create|list|revoke</c> against a real store in a temp directory.</summary>
public sealed class AdminTokenCliTests : CliTestBase
{
    [Fact]
    public async Task Create_PrintsTheTokenOnceAndStoresOnlyItsHash()
    {
        var created = await RunAsync("admin", "tokens", "create", "--name", "deploy-bot");
        var token = TokenFrom(created.Output);
        var listed = await RunAsync("admin", "tokens", "list");
        var listedJson = await RunAsync("--json", "admin", "tokens", "list");

        Assert.Equal(0, created.ExitCode);
        Assert.True(AdminTokens.IsWellFormed(token), token);
        Assert.Equal(token + "\n", created.Output.ReplaceLineEndings("\n")); // only the token: TOKEN=$(apigate admin tokens create ...)
        Assert.Contains("will not be shown again", created.Error);
        Assert.Contains("deploy-bot", created.Error);
        Assert.Contains("deploy-bot", listed.Output);
        Assert.Contains(token[..12], listed.Output);
        Assert.DoesNotContain(token, listed.Output);
        Assert.DoesNotContain(token, listedJson.Output);
        var row = Assert.Single(JsonDocument.Parse(listedJson.Output).RootElement.EnumerateArray().ToList());
        Assert.Equal("deploy-bot", row.GetProperty("name").GetString());
        Assert.False(row.TryGetProperty("hash", out _));
        Assert.Equal(JsonValueKind.Null, row.GetProperty("revoked_at").ValueKind);
        Assert.DoesNotContain(token, await File.ReadAllTextAsync(Path.Combine(TestDirectory, "cli.db")));
    }

    [Fact]
    public async Task CreateJson_OneFlatObjectWithTheTokenAsKeysCreateHasTheKey()
    {
        var created = await RunAsync("admin", "tokens", "create", "--name", "ci", "--json");

        Assert.Equal(0, created.ExitCode);
        var root = JsonDocument.Parse(created.Output).RootElement;
        Assert.Equal("ci", root.GetProperty("name").GetString());
        var token = root.GetProperty("token").GetString();
        Assert.True(AdminTokens.IsWellFormed(token));
        Assert.StartsWith(root.GetProperty("prefix").GetString()!, token, StringComparison.Ordinal);
        Assert.StartsWith("adm_", root.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("revoked_at").ValueKind);
        Assert.False(root.TryGetProperty("hash", out _));
        Assert.Equal(["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "token"], root.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Create_WithoutOrWithDuplicateName_Fails()
    {
        await RunAsync("admin", "tokens", "create", "--name", "ci");

        var missing = await RunAsync("admin", "tokens", "create");
        var blank = await RunAsync("admin", "tokens", "create", "--name", " ");
        var duplicate = await RunAsync("admin", "tokens", "create", "--name", "CI");

        Assert.NotEqual(0, missing.ExitCode);
        Assert.Equal(2, blank.ExitCode);
        Assert.Contains("name", blank.Error);
        Assert.Equal(4, duplicate.ExitCode);
        Assert.Contains("already exists", duplicate.Error);
    }

    [Fact]
    public async Task Revoke_ByNameOrId_MarksItRevoked()
    {
        await RunAsync("admin", "tokens", "create", "--name", "one");
        await RunAsync("admin", "tokens", "create", "--name", "two");
        var two = JsonDocument.Parse((await RunAsync("admin", "tokens", "list", "--json")).Output).RootElement.EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == "two").GetProperty("id").GetString()!;

        var byName = await RunAsync("admin", "tokens", "revoke", "one");
        var byId = await RunAsync("admin", "tokens", "revoke", two, "--json");
        var unknown = await RunAsync("admin", "tokens", "revoke", "three");
        var listed = JsonDocument.Parse((await RunAsync("admin", "tokens", "list", "--json")).Output).RootElement;

        Assert.Equal(0, byName.ExitCode);
        Assert.Contains("revoked admin token one", byName.Output);
        Assert.Equal(0, byId.ExitCode);
        Assert.NotEqual(JsonValueKind.Null, JsonDocument.Parse(byId.Output).RootElement.GetProperty("revoked_at").ValueKind);
        Assert.Equal(3, unknown.ExitCode);
        Assert.All(listed.EnumerateArray(), t => Assert.NotEqual(JsonValueKind.Null, t.GetProperty("revoked_at").ValueKind));
    }

    [Fact]
    public async Task Revoke_AlreadyRevokedToken_ExitsZeroSayingWhenItWasRevokedAndKeepsThatTime()
    {
        // Arrange: a token revoked once
        await RunAsync("admin", "tokens", "create", "--name", "deploy-bot");
        var first = await RunAsync("admin", "tokens", "revoke", "deploy-bot", "--json");
        var firstJson = JsonDocument.Parse(first.Output).RootElement;
        var (id, prefix, revokedAt) = (firstJson.GetProperty("id").GetString()!, firstJson.GetProperty("prefix").GetString()!,
            firstJson.GetProperty("revoked_at").GetDateTimeOffset());
        var shown = revokedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        // Act: revoked again, by name and by id, as text and as JSON
        var again = await RunAsync("admin", "tokens", "revoke", "deploy-bot");
        var againJson = await RunAsync("admin", "tokens", "revoke", id, "--json");
        var listed = JsonDocument.Parse((await RunAsync("admin", "tokens", "list", "--json")).Output).RootElement;

        // Assert: success, saying it changed nothing and when the token was revoked, which is kept
        Assert.Equal(0, first.ExitCode);
        Assert.False(firstJson.GetProperty("already_revoked").GetBoolean());
        Assert.Equal(0, again.ExitCode);
        Assert.Equal($"admin token deploy-bot ({id}, {prefix}…) was already revoked at {shown}; nothing changed\n", again.Output.ReplaceLineEndings("\n"));
        Assert.Equal(0, againJson.ExitCode);
        var againRoot = JsonDocument.Parse(againJson.Output).RootElement;
        Assert.True(againRoot.GetProperty("already_revoked").GetBoolean());
        Assert.Equal(revokedAt, againRoot.GetProperty("revoked_at").GetDateTimeOffset());
        Assert.Equal(["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "already_revoked"], againRoot.EnumerateObject().Select(p => p.Name));
        Assert.Equal(revokedAt, Assert.Single(listed.EnumerateArray().ToList()).GetProperty("revoked_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Revoke_GivenAnUnknownTokenItself_NamesOnlyItsPrefix()
    {
        // Arrange: a token that is not in this store (another store's, or mistyped), pasted whole
        var other = AdminTokens.Generate();

        // Act
        var revoked = await RunAsync("admin", "tokens", "revoke", other);

        // Assert
        Assert.Equal(3, revoked.ExitCode);
        Assert.Equal($"error: no admin token with id or name '{other[..12]}***'", revoked.Error.ReplaceLineEndings("\n").Trim().Split('\n')[^1]);
        Assert.DoesNotContain(other, revoked.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_NamedAsAnotherTokensId_ExitsTwoAndRevokeByThatIdStillMeansTheOther()
    {
        // Arrange: tokens are revoked by id or name, the id first
        await RunAsync("admin", "tokens", "create", "--name", "deploy-bot");
        var id = JsonDocument.Parse((await RunAsync("admin", "tokens", "list", "--json")).Output).RootElement[0].GetProperty("id").GetString()!;

        // Act
        var created = await RunAsync("admin", "tokens", "create", "--name", id.ToUpperInvariant());
        var listed = JsonDocument.Parse((await RunAsync("admin", "tokens", "list", "--json")).Output).RootElement;

        // Assert
        Assert.Equal(2, created.ExitCode);
        Assert.Equal(
            $"error: --name: '{id.ToUpperInvariant()}' has the form of an admin token id (adm_ and 16 hex digits), and a token is revoked by id or name: choose another name",
            created.Error.ReplaceLineEndings("\n").Trim().Split('\n')[^1]);
        Assert.Equal("deploy-bot", Assert.Single(listed.EnumerateArray().ToList()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task AdminBasePathSetting_FromEnvironment_IsResolvedAndValidated()
    {
        Environment["APIGATE_ADMIN_BASE_PATH"] = "/ops/gateway";
        var shown = await RunAsync("config", "show", "--json");
        Environment["APIGATE_ADMIN_BASE_PATH"] = "/health/admin";
        var refused = await RunAsync("config", "show");

        var setting = JsonDocument.Parse(shown.Output).RootElement.GetProperty("admin.base_path");
        Assert.Equal("/ops/gateway", setting.GetProperty("value").GetString());
        Assert.Equal("environment", setting.GetProperty("source").GetString());
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("admin.base_path (from APIGATE_ADMIN_BASE_PATH): ", refused.Error, StringComparison.Ordinal);
    }

    private static string TokenFrom(string output) => output.Trim();
}
