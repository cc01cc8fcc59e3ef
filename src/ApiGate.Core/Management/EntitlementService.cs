using System.Text;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Text;
using ApiGate.Core.Storage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Entitlements (features a plan grants, with a default value): validated and written here for the CLI and the admin API alike.</summary>
public sealed class EntitlementService(IIdentityStore store, TimeProvider timeProvider, ConflictBackOff? conflictBackOff = null)
{
    private readonly ConflictBackOff _conflictBackOff = conflictBackOff ?? ConflictBackOff.Default;

    public Task<IReadOnlyList<EntitlementDefinition>> ListAsync(CancellationToken ct) => store.ListEntitlementsAsync(ct);

    public async Task<ManagementResult<EntitlementDefinition>> GetAsync(string idOrName, CancellationToken ct) =>
        await store.FindEntitlementAsync(idOrName, ct) is { } e ? e : NotFound("entitlement", idOrName);

    public async Task<ManagementResult<EntitlementDefinition>> CreateAsync(EntitlementChanges input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Name))
        {
            return Invalid("name", "name is required");
        }

        var now = timeProvider.GetUtcNow();
        var built = ApplyEntitlement(new EntitlementDefinition { Id = Ids.New("ent"), Name = "", CreatedAt = now, UpdatedAt = now }, input, creating: true);
        return built.Error ?? await HeaderTakenAsync(built.Value!, input, ct) ?? await OverCapAsync(built.Value!, creating: true, ct)
            ?? await WriteAsync(built.Value!, (entitlement, c) => store.CreateEntitlementAsync(entitlement, HeaderField(entitlement, input), c), ct);
    }

    /// <summary>
    /// A validation error when storing <paramref name="entitlement"/> takes a plan past <see cref="EntitlementCap"/>
    /// (every plan sends every enabled entitlement), naming the field that grew it; else null.
    /// </summary>
    private async Task<ManagementError?> OverCapAsync(EntitlementDefinition entitlement, bool creating, CancellationToken ct)
    {
        var entitlements = await store.ListEntitlementsAsync(ct);
        var values = await store.ListPlanEntitlementsAsync(null, ct);
        var after = entitlements.Where(e => e.Id != entitlement.Id).Append(entitlement).ToList();
        var plans = values.Select(v => v.PlanId).Distinct(StringComparer.Ordinal).Prepend("");
        if (EntitlementCap.Check(plans, (entitlements, values), (after, values)) is not { } problem)
        {
            return null;
        }

        return Invalid(GrownBy(creating ? null : entitlements.FirstOrDefault(e => e.Id == entitlement.Id), entitlement, problem.TooMany), problem.Message);
    }

    /// <summary>
    /// The field whose change made <paramref name="after"/> send more than <paramref name="before"/> (null: a new one):
    /// turned on, a longer default, a longer header (its own name, or the one derived from the entitlement's name). A
    /// field sent again unchanged is not it. <paramref name="tooMany"/>: the count grew, which only a header sent where
    /// none was does (turned on, or moved off a header that is not sent).
    /// </summary>
    private static string GrownBy(EntitlementDefinition? before, EntitlementDefinition after, bool tooMany)
    {
        var header = EntitlementResolver.HeaderNameOf(after);
        var headerField = after.HeaderName.Length > 0 ? "header_name" : "name";
        if (before is null)
        {
            return tooMany ? "name" : Encoding.UTF8.GetByteCount(after.DefaultValue) > 0 ? "default_value" : headerField;
        }

        if (!before.Enabled && after.Enabled)
        {
            return "enabled";
        }

        if (!tooMany && Encoding.UTF8.GetByteCount(after.DefaultValue) > Encoding.UTF8.GetByteCount(before.DefaultValue))
        {
            return "default_value";
        }

        // The header moved: by its own name (set, changed or cleared), else by the entitlement's name it is derived from.
        return header != EntitlementResolver.HeaderNameOf(before) && after.HeaderName != before.HeaderName ? "header_name" : headerField;
    }

    /// <summary>
    /// A conflict when another entitlement is sent as the same header as <paramref name="entitlement"/> (its own header
    /// name, or <c>X-Entitlement-&lt;Name&gt;</c>), compared as a backend reads names; else null. Both would reach the
    /// backend as one header: their values joined, or one replacing the other.
    /// </summary>
    private async Task<ManagementError?> HeaderTakenAsync(EntitlementDefinition entitlement, EntitlementChanges input, CancellationToken ct) =>
        EntitlementResolver.HeaderTaken(entitlement, await store.ListEntitlementsAsync(ct)) is { } taken
            ? new ManagementError(ManagementErrorKind.Conflict, HeaderField(entitlement, input), taken)
            : null;

    /// <summary>
    /// The field a clash of <paramref name="entitlement"/>'s header points at: <c>name</c> when the header is derived from a
    /// name <paramref name="input"/> sets, else <c>header_name</c> (also when the input sent neither: a member it never sent is no pointer).
    /// </summary>
    private static string HeaderField(EntitlementDefinition entitlement, EntitlementChanges input) =>
        entitlement.HeaderName.Length == 0 && input.Name is not null ? "name" : "header_name";

    /// <summary>
    /// Applies the given fields to the entitlement as stored; written only if nobody changed it meanwhile, else applied
    /// again to the newer one (a few times, then a conflict), so concurrent updates of different fields all land.
    /// </summary>
    public Task<ManagementResult<EntitlementDefinition>> UpdateAsync(string idOrName, EntitlementChanges input, CancellationToken ct) =>
        UpdateAsync(idOrName, input, null, ct);

    /// <summary>Applies <paramref name="input"/> while <paramref name="condition"/> (when given) holds for the row as stored.</summary>
    public Task<ManagementResult<EntitlementDefinition>> UpdateAsync(string idOrName, EntitlementChanges input, RowCondition? condition, CancellationToken ct) =>
        RetryWhenChangedAsync(async () =>
        {
            var existing = await store.FindEntitlementAsync(idOrName, ct);
            if (existing is null)
            {
                return NotFound("entitlement", idOrName);
            }

            if (condition?.Refuse("entitlement", idOrName, existing.UpdatedAt) is { } stale)
            {
                return stale;
            }

            var built = ApplyEntitlement(existing with { UpdatedAt = Storage.RowVersion.ChangedAt(timeProvider, existing.UpdatedAt) }, input, creating: false);
            if (built.Error is not null)
            {
                return built.Error;
            }

            if (Unchanged.Same(existing, built.Value!))
            {
                return existing;
            }

            // A type change must not strand plan values that no longer fit.
            foreach (var assignment in await store.ListPlanEntitlementsAsync(null, ct))
            {
                if (assignment.EntitlementId == existing.Id && EntitlementResolver.ValidateValue(built.Value!.ValueType, assignment.Value) is { } problem)
                {
                    return Invalid("value_type", $"plan '{assignment.PlanId}' has value {problem}; change or delete it first");
                }
            }

            if (await HeaderTakenAsync(built.Value!, input, ct) is { } taken)
            {
                return taken;
            }

            if (await OverCapAsync(built.Value!, creating: false, ct) is { } overCap)
            {
                return overCap;
            }

            return await WriteAsync(built.Value!, (entitlement, c) => store.UpdateEntitlementAsync(entitlement, existing.UpdatedAt, HeaderField(entitlement, input), c), ct);
        }, _conflictBackOff, ct);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<EntitlementDefinition>> DeleteAsync(string idOrName, CancellationToken ct) =>
        DeleteAsync(idOrName, null, ct);

    /// <summary>Deletes it while <paramref name="condition"/> (when given) holds for the row as read.</summary>
    public Task<ManagementResult<EntitlementDefinition>> DeleteAsync(string idOrName, RowCondition? condition, CancellationToken ct) =>
        DeleteFoundAsync("entitlement", idOrName, c => store.FindEntitlementAsync(idOrName, c), x => x.UpdatedAt, condition, (e, readAt, c) => store.DeleteEntitlementAsync(e.Id, readAt, c), ct);

    private static ManagementResult<EntitlementDefinition> ApplyEntitlement(EntitlementDefinition e, EntitlementChanges input, bool creating)
    {
        if ((TextFields.Check(
                ("name", input.Name), ("display_name", input.DisplayName), ("description", input.Description), ("category", input.Category),
                ("default_value", input.DefaultValue), ("header_name", input.HeaderName)) ?? TextFields.CheckInvisible("name", input.Name, e.Name) ?? TextFields.CheckName("name", input.Name?.Trim())) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Name is not null)
        {
            var name = input.Name.Trim();
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                return Invalid("name", $"'{input.Name}' is not a valid name (lower-case letters, digits and '_', e.g. max_api_keys)");
            }

            if (name != e.Name && Ids.HasFormOf("ent", name))
            {
                return Invalid("name", $"'{name}' has the form of an entitlement id (ent_ and 16 hex digits), and an entitlement is found by id or name: choose another name");
            }

            e = e with { Name = name };
        }

        if (input.DisplayName is not null)
        {
            e = e with { DisplayName = input.DisplayName };
        }

        if (input.Description is not null)
        {
            e = e with { Description = input.Description };
        }

        if (input.Category is not null)
        {
            e = e with { Category = input.Category };
        }

        if (input.ValueType is { } type)
        {
            e = e with { ValueType = type };
        }

        if (input.DefaultValue is not null)
        {
            e = e with { DefaultValue = input.DefaultValue.Trim() };
        }
        else if (creating)
        {
            e = e with { DefaultValue = e.ValueType switch { EntitlementValueType.Boolean => "false", EntitlementValueType.Number => "0", _ => "" } };
        }

        if (EntitlementResolver.ValidateValue(e.ValueType, e.DefaultValue) is { } problem)
        {
            // The type changed under a stored default that no longer fits: the field sent is the one to point at.
            return input.DefaultValue is null && !creating
                ? Invalid("value_type", $"the default value {problem}; send a default_value that fits the new type with it")
                : Invalid("default_value", problem);
        }

        if (input.HeaderName is not null)
        {
            var header = input.HeaderName.Trim();
            if (header.Length > 0 && !header.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return Invalid("header_name", $"'{input.HeaderName}' is not a valid header name");
            }

            if (header.Length > 0 && ReservedHeaders.Problem(header, credential: false) is { } reserved)
            {
                return Invalid("header_name", reserved);
            }

            e = e with { HeaderName = header };
        }

        if (input.Enabled is { } enabled)
        {
            e = e with { Enabled = enabled };
        }

        return e;
    }
}
