using System.Globalization;
using System.Net;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// A plan's entitlements, each an <c>X-Entitlement-*</c> header sent upstream, are capped at 64 headers and 16 KiB of
/// names plus values, in the admin API and the CLI alike; a plan stored above the caps before them is still served.
/// </summary>
public sealed class EntitlementCapTests : AdminTestBase
{
    private const string TooMany = "65 entitlements would be sent as headers on every request; at most 64 are allowed per plan: disable or delete one first";
    private const string TooLarge = "plan 'pro' would send 16385 bytes of entitlement headers (names and values); at most 16384 are allowed per plan";

    private static readonly CancellationToken None = CancellationToken.None;

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None)).Ok);
    }

    /// <summary>Entitlements <c>flag_00</c>, <c>flag_01</c>, … (boolean, default false) through the service.</summary>
    private async Task CreateFlagsAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var created = await Gateway.Entitlements.CreateAsync(
                new EntitlementChanges { Name = string.Create(CultureInfo.InvariantCulture, $"flag_{i:00}"), ValueType = EntitlementValueType.Boolean }, None);
            Assert.True(created.Ok, created.Error?.ToString());
        }
    }

    /// <summary>
    /// Entitlements <c>a</c>, <c>b</c> and <c>c</c> (headers <c>X-Entitlement-A</c>, <c>-B</c>, <c>-C</c>: 15 bytes
    /// each, empty defaults) and plan pro's values for a and b, 8,192 + 8,147 characters: 16,384 bytes in all. Returns
    /// the id of b's value.
    /// </summary>
    private async Task<string> FillProTo16KiBAsync()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = name, ValueType = EntitlementValueType.String }, None)).Ok);
        }

        Assert.True((await Gateway.PlanEntitlements.CreateAsync(new PlanEntitlementInput { Plan = "pro", Entitlement = "a", Value = new string('x', 8192) }, None)).Ok);
        var b = await Gateway.PlanEntitlements.CreateAsync(new PlanEntitlementInput { Plan = "pro", Entitlement = "b", Value = new string('y', 8147) }, None);
        Assert.True(b.Ok, b.Error?.ToString());
        return b.Value!.Id;
    }

    /// <summary>The last line of the CLI's stderr (a line naming the store comes first).</summary>
    private static string LastLine(string error) => error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')[^1];

    [Fact]
    public async Task AdminCreateEntitlement_64thAccepted_65thRefused422NamingTheLimitAndNothingWritten()
    {
        // Arrange
        await CreateFlagsAsync(63);

        // Act
        var sixtyFourth = await PostAsync("/entitlements", new { name = "flag_63", value_type = "boolean" });
        var sixtyFifth = await PostAsync("/entitlements", new { name = "flag_64", value_type = "boolean" });

        // Assert
        AssertData(sixtyFourth, HttpStatusCode.Created);
        var error = AssertError(sixtyFifth, HttpStatusCode.UnprocessableEntity, "validation_error", "/name");
        Assert.Equal(TooMany, error.GetProperty("detail").GetString());
        Assert.Equal(64, (await Gateway.Store.ListEntitlementsAsync(None)).Count);
    }

    [Fact]
    public async Task CliEntitlements_65thCreatedOrEnabled_Exit2NamingTheFieldAndTheLimit()
    {
        // Arrange: 64 enabled, one more disabled
        await CreateFlagsAsync(64);
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "spare", ValueType = EntitlementValueType.Boolean, Enabled = false }, None)).Ok);

        // Act
        var created = await Gateway.CliAsync("entitlements", "create", "--name", "flag_64", "--value-type", "boolean");
        var enabled = await Gateway.CliAsync("entitlements", "update", "spare", "--enabled", "true");

        // Assert
        Assert.Equal((2, "error: --name: " + TooMany), (created.ExitCode, LastLine(created.Error)));
        Assert.Equal((2, "error: --enabled: " + TooMany), (enabled.ExitCode, LastLine(enabled.Error)));
        Assert.False((await Gateway.Store.FindEntitlementAsync("spare", None))!.Enabled);
        Assert.Null(await Gateway.Store.FindEntitlementAsync("flag_64", None));
    }

    [Fact]
    public async Task AdminPlanEntitlementValue_16KiBAccepted_OneByteMoreRefused422AndTheStoredValueKept()
    {
        // Arrange: exactly 16,384 bytes (accepted)
        var id = await FillProTo16KiBAsync();

        // Act
        var grown = await PatchAsync("/plan-entitlements/" + id, new { value = new string('y', 8148) });
        var same = await PatchAsync("/plan-entitlements/" + id, new { value = new string('z', 8147) });

        // Assert
        var error = AssertError(grown, HttpStatusCode.UnprocessableEntity, "validation_error", "/value");
        Assert.Equal(TooLarge, error.GetProperty("detail").GetString());
        AssertData(same);
        Assert.Equal(new string('z', 8147), (await Gateway.Store.FindPlanEntitlementAsync(id, None))!.Value);
    }

    [Fact]
    public async Task AdminPlanEntitlementValue_NonAscii_CountedInUtf8Bytes_16KiBAccepted_OneMoreCharacterRefused()
    {
        // Arrange: exactly 16,384 bytes with b's value of 8,147 ASCII characters
        var id = await FillProTo16KiBAsync();

        // Act: 4,073 'é' (2 bytes each) + 1 is 8,147 bytes again; 4,074 'é' is 8,148 bytes in 4,074 characters
        var same = await PatchAsync("/plan-entitlements/" + id, new { value = new string('é', 4073) + "y" });
        var grown = await PatchAsync("/plan-entitlements/" + id, new { value = new string('é', 4074) });

        // Assert
        AssertData(same);
        var error = AssertError(grown, HttpStatusCode.UnprocessableEntity, "validation_error", "/value");
        Assert.Equal(TooLarge, error.GetProperty("detail").GetString());
        Assert.Equal(new string('é', 4073) + "y", (await Gateway.Store.FindPlanEntitlementAsync(id, None))!.Value);
    }

    [Fact]
    public async Task CliPlanEntitlements_ValueOneBytePast16KiB_Exit2NamingTheValueAndTheLimit()
    {
        // Arrange
        var id = await FillProTo16KiBAsync();

        // Act: a value for c in place of its empty default, and a longer value for b, each one byte more
        var created = await Gateway.CliAsync("plan-entitlements", "create", "--plan-id", "pro", "--entitlement-id", "c", "--value", "y");
        var updated = await Gateway.CliAsync("plan-entitlements", "update", id, "--value", new string('y', 8148));

        // Assert
        Assert.Equal((2, "error: --value: " + TooLarge), (created.ExitCode, LastLine(created.Error)));
        Assert.Equal((2, "error: --value: " + TooLarge), (updated.ExitCode, LastLine(updated.Error)));
        Assert.Equal(new string('y', 8147), (await Gateway.Store.FindPlanEntitlementAsync(id, None))!.Value);
        Assert.Equal(2, (await Gateway.Store.ListPlanEntitlementsAsync("pro", None)).Count);
    }

    /// <summary>
    /// Entitlements <c>a</c> (default of 8,000 characters), <c>b</c> and <c>c</c> (empty defaults), and plan pro's values
    /// "v" for a, 8,190 characters for b and 155 for c: 8,436 bytes with the header names. Without its value for a, pro
    /// would send a's default: 16,390 bytes. Returns the id of pro's value for a.
    /// </summary>
    private async Task<string> GiveProAShortValueForALongDefaultAsync()
    {
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "a", ValueType = EntitlementValueType.String, DefaultValue = new string('d', 8000) }, None)).Ok);
        string? id = null;
        foreach (var (name, value) in new[] { ("a", "v"), ("b", new string('y', 8190)), ("c", new string('z', 155)) })
        {
            if (name != "a")
            {
                Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = name, ValueType = EntitlementValueType.String }, None)).Ok);
            }

            var created = await Gateway.PlanEntitlements.CreateAsync(new PlanEntitlementInput { Plan = "pro", Entitlement = name, Value = value }, None);
            Assert.True(created.Ok, created.Error?.ToString());
            id ??= created.Value!.Id;
        }

        return id!;
    }

    private const string DeleteRefused =
        "plan 'pro' would send 16390 bytes of entitlement headers (names and values); at most 16384 are allowed per plan; " +
        "without this value the plan sends the entitlement's default: shorten the default first, or give the plan a shorter value";

    [Fact]
    public async Task AdminDeletePlanEntitlement_TheDefaultSentInsteadTakesThePlanPastTheCap_409AndTheValueKept()
    {
        // Arrange
        var id = await GiveProAShortValueForALongDefaultAsync();

        // Act
        var refused = await DeleteAsync("/plan-entitlements/" + id);
        var shortened = await PatchAsync("/entitlements/a", new { default_value = new string('d', 7994) });
        var deleted = await DeleteAsync("/plan-entitlements/" + id);

        // Assert: refused while a's default would take pro to 16,390 bytes; deleted once it takes pro to 16,384
        var error = AssertError(refused, HttpStatusCode.Conflict, "conflict", null);
        Assert.Equal(DeleteRefused, error.GetProperty("detail").GetString());
        AssertData(shortened);
        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
        Assert.Equal([155, 8190], (await Gateway.Store.ListPlanEntitlementsAsync("pro", None)).Select(v => v.Value.Length).Order());
    }

    [Fact]
    public async Task CliDeletePlanEntitlement_TheDefaultSentInsteadTakesThePlanPastTheCap_Exit4AndTheValueKept()
    {
        // Arrange
        var id = await GiveProAShortValueForALongDefaultAsync();

        // Act
        var deleted = await Gateway.CliAsync("plan-entitlements", "delete", id);

        // Assert
        Assert.Equal((4, "error: " + DeleteRefused), (deleted.ExitCode, LastLine(deleted.Error)));
        Assert.Equal("v", (await Gateway.Store.FindPlanEntitlementAsync(id, None))!.Value);
    }

    [Fact]
    public async Task DisablePlanEntitlement_TheDefaultSentInsteadTakesThePlanPastTheCap_RefusedAtEnabledWithTheDeletesAdvice()
    {
        // Arrange: disabling pro's value for a sends a's default, as deleting it does
        var id = await GiveProAShortValueForALongDefaultAsync();

        // Act
        var api = await PatchAsync("/plan-entitlements/" + id, new { enabled = false });
        var cli = await Gateway.CliAsync("plan-entitlements", "update", id, "--enabled", "false");

        // Assert: the same reason and advice as the delete, at the field that would change
        var error = AssertError(api, HttpStatusCode.UnprocessableEntity, "validation_error", "/enabled");
        Assert.Equal(DeleteRefused, error.GetProperty("detail").GetString());
        Assert.Equal((2, "error: --enabled: " + DeleteRefused), (cli.ExitCode, LastLine(cli.Error)));
        Assert.True((await Gateway.Store.FindPlanEntitlementAsync(id, None))!.Enabled);
    }

    [Fact]
    public async Task AdminCreateEntitlement_DefaultsPast16KiB_Refused422NamingTheDefaultValue()
    {
        // Arrange: defaults of 8,192 + 8,162 characters under X-Entitlement-A and -B: 16,384 bytes for a plan with no values
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "a", ValueType = EntitlementValueType.String, DefaultValue = new string('x', 8192) }, None)).Ok);
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "b", ValueType = EntitlementValueType.String, DefaultValue = new string('y', 8162) }, None)).Ok);

        // Act: X-Entitlement-C + "0" is 16 bytes more
        var result = await PostAsync("/entitlements", new { name = "c", value_type = "number", default_value = "0" });

        // Assert
        var error = AssertError(result, HttpStatusCode.UnprocessableEntity, "validation_error", "/default_value");
        Assert.Equal(
            "a plan with no values of its own (the defaults) would send 16400 bytes of entitlement headers (names and values); at most 16384 are allowed per plan",
            error.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("enabled_and_longer_header", "/header_name")] // enabled sent again, unchanged: the header name grew it
    [InlineData("same_default_longer_name", "/name")]         // the default sent again, unchanged: the name grew it
    [InlineData("create_empty_default", "/header_name")]      // an empty default (as the console sends it) adds nothing
    public async Task AdminWriteEntitlement_PastTheSizeCap_Refused422NamingTheFieldThatGrewIt_NotAnotherOneSent(string change, string pointer)
    {
        // Arrange: defaults of 8,192 + 8,162 characters under X-Entitlement-A and -B: 16,384 bytes for a plan with no values
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "a", ValueType = EntitlementValueType.String, DefaultValue = new string('x', 8192) }, None)).Ok);
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "b", ValueType = EntitlementValueType.String, DefaultValue = new string('y', 8162) }, None)).Ok);

        // Act: each one byte or more past the cap
        var result = change switch
        {
            "enabled_and_longer_header" => await PatchAsync("/entitlements/b", new { enabled = true, header_name = "X-Entitlement-Bb" }),
            "same_default_longer_name" => await PatchAsync("/entitlements/b", new { default_value = new string('y', 8162), name = "bb" }),
            _ => await PostAsync("/entitlements", new { name = "c", value_type = "string", default_value = "", header_name = "X-C" }),
        };

        // Assert
        var error = AssertError(result, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.StartsWith("a plan with no values of its own (the defaults) would send ", error.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(["a", "b"], (await Gateway.Store.ListEntitlementsAsync(None)).Select(e => e.Name + e.HeaderName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task PlanStoredAboveTheCap_StillServedWithEveryHeader_ChangesThatDoNotGrowItAccepted()
    {
        // Arrange: 70 enabled entitlements, as a store written before the cap may hold them: created disabled (no
        // build stores more than 64 enabled) and enabled in the file itself
        for (var i = 0; i < 70; i++)
        {
            await Gateway.Store.CreateEntitlementAsync(new EntitlementDefinition
            {
                Id = string.Create(CultureInfo.InvariantCulture, $"ent_legacy{i:00}"),
                Name = string.Create(CultureInfo.InvariantCulture, $"legacy_{i:00}"),
                ValueType = EntitlementValueType.Boolean,
                DefaultValue = "true",
                Enabled = false,
            }, "header_name", None);
        }

        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Gateway.DatabasePath))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE entitlements SET enabled = 1; UPDATE config_version SET version = version + 1 WHERE id = 1;";
            Assert.Equal(71, await command.ExecuteNonQueryAsync());
        }

        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "backend", AuthRequired = true }, reload: false);
        var key = (await Gateway.CreateKeyAsync("owner@example.com")).Key;

        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/priv/x", "X-API-Key: " + key);
        var described = await Gateway.Entitlements.UpdateAsync("legacy_00", new EntitlementChanges { Description = "kept" }, None);
        var disabled = await Gateway.Entitlements.UpdateAsync("legacy_01", new EntitlementChanges { Enabled = false }, None);
        var enabledAgain = await Gateway.Entitlements.UpdateAsync("legacy_01", new EntitlementChanges { Enabled = true }, None);

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal(70, Assert.Single(Upstream.Received).Headers.Keys.Count(h => h.StartsWith("X-Entitlement-Legacy-", StringComparison.OrdinalIgnoreCase)));
        Assert.True(described.Ok, described.Error?.ToString());
        Assert.True(disabled.Ok, disabled.Error?.ToString());
        Assert.Equal((ManagementErrorKind.Validation, "enabled"), (enabledAgain.Error!.Kind, enabledAgain.Error.Field));
        Assert.Equal("70 entitlements would be sent as headers on every request; at most 64 are allowed per plan: disable or delete one first", enabledAgain.Error.Message);
    }
}
