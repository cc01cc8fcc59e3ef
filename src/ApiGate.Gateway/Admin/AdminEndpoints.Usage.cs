using System.Globalization;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Admin;

/// <summary>Usage queries (the queries <c>apigate usage</c> runs) and the effective settings.</summary>
internal static partial class AdminEndpoints
{
    private const string UserParameter = "the user's id or email (a deleted user's usage is read by its id)";

    /// <summary>The names in the cursors of <c>/usage/recent</c> and <c>/audit</c>, so one list's cursor is refused by the other (the CLI's <c>--after</c> takes the same).</summary>
    private const string RecentUsageCursor = Core.Management.UsageService.RecentCursorKind, AuditCursor = Core.Management.AdminAuditService.CursorKind;

    private static void MapUsage(IEndpointRouteBuilder e, UsageService usage)
    {
        e.MapGet("/usage/summary", async (HttpContext context, CancellationToken ct) =>
            {
                var (user, error) = await UserOfAsync(context, usage, ct);
                return error ?? Results.Json(new DataDocument<UsageReport>(await usage.SummaryAsync(user!, ct)), WireJson.Options, AdminApi.JsonContentType);
            })
            .WithName("Usage_summary").WithTags("usage").Produces<DataDocument<UsageReport>>().Query("user", UserParameter, required: true).Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);

        e.MapGet("/usage/history", async (HttpContext context, CancellationToken ct) =>
            {
                var (user, error) = await UserOfAsync(context, usage, ct);
                if (error is not null || !TryInt(context, "months", out var months, out error))
                {
                    return error!;
                }

                var result = await usage.HistoryAsync(user!, months, ct);
                return result.Ok ? AdminPaging.Page(context, result.Value!) : AdminErrors.FromQuery(result.Error!);
            })
            .WithName("Usage_history").WithTags("usage").Produces<ListDocument<UsageSummary>>().Paged().Query("user", UserParameter, required: true)
            .Query("months", $"calendar months, this one included (default {UsageService.DefaultMonths}, 1 to {UsageService.MaxMonths})", integer: true)
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity);

        e.MapGet("/usage/recent", async (HttpContext context, CancellationToken ct) =>
            {
                var (user, error) = await UserOfAsync(context, usage, ct);
                if (error is not null || !TryInt(context, "limit", out var limit, out error))
                {
                    return error!;
                }

                if (!AdminPaging.TryRead(context, RecentUsageCursor, out var page, out error, windowed: true))
                {
                    return error!;
                }

                // Only the page is read: a limit of 10,000 with page[size]=1 reads one event, not 10,000.
                var result = await usage.RecentPageAsync(user!, limit, page.Skip, page.Size, ct, page.After);
                return result.Ok
                    ? AdminPaging.Page(context, page, new StorePage<UsageEvent>(result.Value!.Events, result.Value.Total, result.Value.Next), RecentUsageCursor)
                    : AdminErrors.FromQuery(result.Error!);
            })
            .WithName("Usage_recent").WithTags("usage").Produces<ListDocument<UsageEvent>>().Paged().ByCursor().Query("user", UserParameter, required: true)
            .Query("limit", $"how many events (default {UsageService.DefaultLimit}, 1 to {UsageService.MaxLimit})", integer: true)
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity);
    }

    /// <summary><c>GET /audit</c>: the store's audit trail, every instance's admitted changes, newest first.</summary>
    private static void MapAudit(IEndpointRouteBuilder e, AdminAuditService audit)
    {
        e.MapGet("/audit", async (HttpContext context, CancellationToken ct) =>
            {
                if (!TryInt(context, "limit", out var limit, out var error) || !AdminPaging.TryRead(context, AuditCursor, out var page, out error, windowed: true))
                {
                    return error!;
                }

                var result = await audit.RecentPageAsync(limit, page.Skip, page.Size, ct, page.After);
                return result.Ok ? AdminPaging.Page(context, page, result.Value!, AuditCursor) : AdminErrors.FromQuery(result.Error!);
            })
            .WithName("Audit_recent").WithTags("audit").Produces<ListDocument<AdminAuditRecord>>().Paged().ByCursor()
            .Query("limit", $"how many changes (default {AdminAuditService.DefaultLimit}, 1 to {AdminAuditService.MaxLimit})", integer: true)
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status422UnprocessableEntity);
    }

    /// <summary>
    /// <c>GET /settings</c>: the settings this process runs with (from flags, environment, config file, stored settings
    /// and defaults, read at start). <c>GET /settings/stored</c> and <c>PATCH /settings/stored</c>: the settings kept in
    /// the store, which every gateway on it applies when it starts (<see cref="StoredSettingsEditor"/>).
    /// </summary>
    private static void MapSettings(IEndpointRouteBuilder e)
    {
        var options = e.ServiceProvider.GetRequiredService<GatewayOptions>();
        var store = e.ServiceProvider.GetRequiredService<IGatewayStore>();
        var editor = e.ServiceProvider.GetService<StoredSettingsEditor>();
        e.MapGet("/settings", () => Results.Json(new DataDocument<IReadOnlyDictionary<string, object?>>(AdminSettings.Of(options)), WireJson.Options, AdminApi.JsonContentType))
            .WithName("Get_settings").WithTags("settings").Produces<DataDocument<IReadOnlyDictionary<string, object?>>>().Describe();

        e.MapGet("/settings/stored", async (CancellationToken ct) =>
                Results.Json(new DataDocument<IReadOnlyList<StoredSetting>>([.. (await store.ListStoredSettingsAsync(ct)).Select(StoredSettingsEditor.Shown)]), WireJson.Options, AdminApi.JsonContentType))
            .WithName("List_stored_settings").WithTags("settings").Produces<DataDocument<IReadOnlyList<StoredSetting>>>().Describe();

        e.MapPatch("/settings/stored", async (HttpContext context, CancellationToken ct) =>
            {
                var (input, body, error) = await AdminBody.ReadAsync<StoredSettingsInput>(context, ct);
                if (error is not null)
                {
                    return error;
                }

                if ((input!.Set ?? []).FirstOrDefault(pair => !pair.Contains('=', StringComparison.Ordinal)) is { } bare)
                {
                    return AdminErrors.FromBody(new ManagementError(ManagementErrorKind.Validation, "set",
                        $"'{bare}' has no value: give each setting as key=value, or as {{\"key\": \"value\"}}"), body!);
                }

                var set = (input.Set ?? []).Select(pair => pair.Split('=', 2)).Select(pair => (Key: pair[0], Value: (string?)pair[1])).ToList();
                var unset = input.Unset ?? [];
                var changes = StoredSettingsEditor.Parse([.. set, .. unset.Select(key => (key, (string?)null))], "set", "unset");
                if (!changes.Ok)
                {
                    return AdminErrors.FromBody(changes.Error!, body!);
                }

                if (editor is null)
                {
                    return AdminErrors.Write(StatusCodes.Status409Conflict, "conflict", "Conflict",
                        "this gateway was started without its settings sources (an embedded host), so a change cannot be checked against them; use apigate config set", null);
                }

                var result = await editor.ChangeAsync(changes.Value!, ct);
                if (result.Error is { Kind: ManagementErrorKind.Validation, Field.Length: 0 } refused)
                {
                    // A start would refuse the settings the change leaves: the message names the settings at fault; the
                    // pointer names the list that changed one of them (a forgotten value can uncover a conflict too).
                    static bool Named(string message, string key) => message.Contains(key.Trim(), StringComparison.Ordinal);
                    var fromUnset = set.Count == 0 || (!set.Any(pair => Named(refused.Message, pair.Key)) && unset.Any(key => Named(refused.Message, key)));
                    result = refused with { Field = fromUnset ? "unset" : "set" };
                }

                if (!result.Ok)
                {
                    return AdminErrors.FromBody(result.Error!, body!);
                }

                context.Features.Set(new AdminAuditNote(StoredSettingsEditor.Described(changes.Value!)));
                return Results.Json(new DataDocument<StoredSettingsChanged>(result.Value!), WireJson.Options, AdminApi.JsonContentType);
            })
            .WithName("Change_stored_settings").WithTags("settings").WithMetadata(new AdminRequestBody(typeof(StoredSettingsInput)))
            .Produces<DataDocument<StoredSettingsChanged>>().Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);
    }

    /// <summary>The user named by <c>?user=</c> (id or email; a deleted user by its id while its usage is stored).</summary>
    private static async Task<(UsageSubject? User, IResult? Error)> UserOfAsync(HttpContext context, UsageService usage, CancellationToken ct)
    {
        var reference = context.Request.Query["user"].ToString().Trim();
        if (reference.Length == 0)
        {
            return (null, AdminErrors.InvalidParameter("user", "give the user's id or email as ?user="));
        }

        var user = await usage.FindSubjectAsync(reference, emailOnly: false, ct);
        return user.Ok ? (user.Value, null) : (null, AdminErrors.From(user.Error!, new ErrorSource(Parameter: "user")));
    }

    private static bool TryInt(HttpContext context, string name, out int? value, out IResult? error)
    {
        value = null;
        error = null;
        var raw = context.Request.Query[name];
        if (raw.Count == 0)
        {
            return true;
        }

        // One value, and none holding a NUL: int.TryParse reads trailing NULs as the end of the text ("5\0" as 5).
        var text = raw.Count == 1 && !raw[0]!.Contains('\0', StringComparison.Ordinal) ? raw[0] : null;
        if (text is not null && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
            return true;
        }

        if (text is not null && System.Numerics.BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var huge))
        {
            // A whole number too large for the range check to see: it is out of every allowed range, so let that
            // check say which range (not "must be a whole number", which it is).
            value = huge.Sign < 0 ? int.MinValue : int.MaxValue;
            return true;
        }

        error = AdminErrors.InvalidParameter(name, $"{name} must be a whole number");
        return false;
    }
}
