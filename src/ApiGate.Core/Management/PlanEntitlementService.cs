using ApiGate.Core.Entitlements;
using ApiGate.Core.Text;
using ApiGate.Core.Storage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>A plan's value for an entitlement: assigned, changed (value and enabled flag) and removed.</summary>
public sealed class PlanEntitlementService(IIdentityStore store, TimeProvider timeProvider)
{
    /// <summary>A plan's assignments; every plan's when <paramref name="planId"/> is null.</summary>
    public async Task<ManagementResult<IReadOnlyList<PlanEntitlement>>> ListAsync(string? planId, CancellationToken ct)
    {
        if (planId is not null && await store.FindPlanAsync(planId, ct) is null)
        {
            return NotFound("plan", planId);
        }

        return new ManagementResult<IReadOnlyList<PlanEntitlement>>(await store.ListPlanEntitlementsAsync(planId, ct), null);
    }

    public async Task<ManagementResult<PlanEntitlement>> CreateAsync(PlanEntitlementInput input, CancellationToken ct)
    {
        var plan = string.IsNullOrWhiteSpace(input.Plan) ? null : await store.FindPlanAsync(input.Plan, ct);
        if (plan is null)
        {
            return Invalid("plan_id", string.IsNullOrWhiteSpace(input.Plan) ? "plan is required" : $"unknown plan '{input.Plan}'");
        }

        var entitlement = string.IsNullOrWhiteSpace(input.Entitlement) ? null : await store.FindEntitlementAsync(input.Entitlement, ct);
        if (entitlement is null)
        {
            return Invalid("entitlement_id", string.IsNullOrWhiteSpace(input.Entitlement) ? "entitlement is required" : $"unknown entitlement '{input.Entitlement}'");
        }

        var value = input.Value?.Trim() ?? "";
        if (CheckValue(entitlement, input.Value, value) is { } valueProblem)
        {
            return valueProblem;
        }

        var assignment = new PlanEntitlement
        {
            Id = Ids.New("pe"),
            PlanId = plan.Id,
            EntitlementId = entitlement.Id,
            Value = value,
            Enabled = input.Enabled ?? true,
            CreatedAt = timeProvider.GetUtcNow(),
        };
        if (await OverCapAsync(plan.Id, values => [.. values, assignment], "value", "", ct) is { } overCap)
        {
            return overCap;
        }

        // A conflict on no field is the plan or the entitlement deleted since they were found: the store cannot tell
        // which, so look, and name it as the store names the one row a route, user or key refers to.
        var written = await WriteAsync(assignment, store.CreatePlanEntitlementAsync, ct);
        var gone = written.Error is not { Kind: ManagementErrorKind.Conflict, Field: "" } ? null
            : await store.FindPlanAsync(plan.Id, ct) is null ? StoreConflictException.ReferenceDeleted("plan", "plan_id")
            : await store.FindEntitlementAsync(entitlement.Id, ct) is null ? StoreConflictException.ReferenceDeleted("entitlement", "entitlement_id")
            : null;
        if (gone is not null)
        {
            return new ManagementError(ManagementErrorKind.Conflict, gone.Field, gone.Message);
        }

        // A second value for the same plan and entitlement: name the one there is, so the operator can change it in place
        // (update never lets requests see the default in between, as delete and create would).
        if (written.Error is { Kind: ManagementErrorKind.Conflict, Field: "entitlement_id" }
            && (await store.ListPlanEntitlementsAsync(plan.Id, ct)).FirstOrDefault(v => v.EntitlementId == entitlement.Id) is { } existing)
        {
            return new ManagementError(ManagementErrorKind.Conflict, "entitlement_id",
                $"plan '{plan.Id}' already has a value for entitlement '{entitlement.Name}' ({existing.Id}); update that one instead");
        }

        return written;
    }

    /// <summary>
    /// A validation error on <paramref name="field"/> when <paramref name="change"/> to the plan's values takes it past
    /// <see cref="EntitlementCap"/>, its message ended by <paramref name="advice"/>; else null.
    /// </summary>
    private async Task<ManagementError?> OverCapAsync(
        string planId, Func<IReadOnlyList<PlanEntitlement>, IReadOnlyList<PlanEntitlement>> change, string field, string advice, CancellationToken ct)
    {
        var entitlements = await store.ListEntitlementsAsync(ct);
        var values = await store.ListPlanEntitlementsAsync(planId, ct);
        return EntitlementCap.Check([planId], (entitlements, values), (entitlements, change(values))) is { } problem
            ? Invalid(field, problem.Message + advice)
            : null;
    }

    /// <summary>
    /// Changes the value and/or the enabled flag in one write (requests never see the entitlement's default in between, as
    /// they would between a delete and a create). The plan and the entitlement are what the assignment is: given and
    /// different, they are refused (delete it and create another).
    /// </summary>
    public async Task<ManagementResult<PlanEntitlement>> UpdateAsync(string id, PlanEntitlementInput input, CancellationToken ct)
    {
        var existing = await store.FindPlanEntitlementAsync(id, ct);
        if (existing is null)
        {
            return NotFound("plan entitlement", id);
        }

        if (!string.IsNullOrWhiteSpace(input.Plan) && (await store.FindPlanAsync(input.Plan, ct))?.Id != existing.PlanId)
        {
            return Invalid("plan_id", $"an assignment's plan cannot be changed (it is '{existing.PlanId}'): delete it and create one for the other plan");
        }

        var entitlement = await store.FindEntitlementAsync(existing.EntitlementId, ct);
        if (!string.IsNullOrWhiteSpace(input.Entitlement) && (await store.FindEntitlementAsync(input.Entitlement, ct))?.Id != existing.EntitlementId)
        {
            return Invalid("entitlement_id",
                $"an assignment's entitlement cannot be changed (it is '{entitlement?.Name ?? existing.EntitlementId}'): delete it and create one for the other entitlement");
        }

        if (input.Value is null && input.Enabled is null)
        {
            return Invalid("value", "nothing to change: give a value, enabled, or both");
        }

        var value = input.Value?.Trim();
        if (value is not null && entitlement is not null && CheckValue(entitlement, input.Value, value) is { } valueProblem)
        {
            return valueProblem;
        }

        if (await OverCapAsync(
                existing.PlanId,
                values => [.. values.Select(v => v.Id == id ? v with { Value = value ?? v.Value, Enabled = input.Enabled ?? v.Enabled } : v)],
                value is not null ? "value" : "enabled",
                input.Enabled == false ? EntitlementCap.DefaultSentAdvice : "", // disabled, it sends the default as if deleted
                ct) is { } overCap)
        {
            return overCap;
        }

        try
        {
            var updated = await store.UpdatePlanEntitlementAsync(id, value, input.Enabled, ct);
            return updated is null ? NotFound("plan entitlement", id) : updated;
        }
        catch (StoreConflictException ex)
        {
            return new ManagementError(ManagementErrorKind.Conflict, ex.Field, ex.Message);
        }
    }

    /// <summary>A value as given (<paramref name="given"/>, checked as text) and trimmed (checked against the entitlement's type), or the problem.</summary>
    private static ManagementError? CheckValue(EntitlementDefinition entitlement, string? given, string value)
    {
        if (TextFields.Check("value", given) is { } textProblem)
        {
            return textProblem;
        }

        return EntitlementResolver.ValidateValue(entitlement.ValueType, value) is { } problem
            ? Invalid("value", $"{problem} (entitlement '{entitlement.Name}' is {WireNames.Of(entitlement.ValueType)})")
            : null;
    }

    public async Task<ManagementResult<PlanEntitlement>> GetAsync(string id, CancellationToken ct) =>
        await store.FindPlanEntitlementAsync(id, ct) is { } assignment ? assignment : NotFound("plan entitlement", id);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<PlanEntitlement>> DeleteAsync(string id, CancellationToken ct) =>
        DeleteFoundAsync("plan entitlement", id, c => store.FindPlanEntitlementAsync(id, c), (p, c) => store.DeletePlanEntitlementAsync(p.Id, c), ct);
}
