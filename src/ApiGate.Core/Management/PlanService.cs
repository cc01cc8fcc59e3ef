using ApiGate.Core.Identity;
using ApiGate.Core.Text;
using ApiGate.Core.Storage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Plans (rate limit, monthly quota, price): validated and written here for the CLI and the admin API alike; a refused change names the field and writes nothing.</summary>
public sealed class PlanService(IIdentityStore store, TimeProvider timeProvider)
{
    public Task<IReadOnlyList<PlanDefinition>> ListAsync(CancellationToken ct) => store.ListPlansAsync(ct);

    public async Task<ManagementResult<PlanDefinition>> GetAsync(string id, CancellationToken ct) =>
        await store.FindPlanAsync(id, ct) is { } plan ? plan : NotFound("plan", id);

    public async Task<ManagementResult<PlanDefinition>> CreateAsync(PlanInput input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Name))
        {
            return Invalid("name", "name is required");
        }

        var id = string.IsNullOrWhiteSpace(input.Id) ? Slug.From(input.Name) : input.Id.Trim();
        if (id.Length == 0 || Slug.From(id) != id)
        {
            return Invalid("id", $"'{id}' is not a valid plan id (lower-case letters, digits and '-')");
        }

        var now = timeProvider.GetUtcNow();
        var built = ApplyPlan(new PlanDefinition { Id = id, Name = "", CreatedAt = now, UpdatedAt = now }, input);
        return built.Error ?? await WriteAsync(built.Value!, store.CreatePlanAsync, ct);
    }

    public async Task<ManagementResult<PlanDefinition>> UpdateAsync(string id, PlanInput input, CancellationToken ct)
    {
        var existing = await store.FindPlanAsync(id, ct);
        if (existing is null)
        {
            return NotFound("plan", id);
        }

        var built = ApplyPlan(existing with { UpdatedAt = timeProvider.GetUtcNow() }, input with { Id = null });
        return built.Error ?? await WriteAsync(built.Value!, store.UpdatePlanAsync, ct);
    }

    public async Task<ManagementResult<PlanDefinition>> DeleteAsync(string id, CancellationToken ct)
    {
        var existing = await store.FindPlanAsync(id, ct);
        return existing is null ? NotFound("plan", id) : await WriteAsync(existing, (p, c) => store.DeletePlanAsync(p.Id, c), ct);
    }

    private static ManagementResult<PlanDefinition> ApplyPlan(PlanDefinition p, PlanInput input)
    {
        if (TextFields.Check(("name", input.Name), ("description", input.Description)) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Name is not null)
        {
            if (input.Name.Trim().Length == 0)
            {
                return Invalid("name", "name cannot be empty");
            }

            p = p with { Name = input.Name.Trim() };
        }

        if (input.Description is not null)
        {
            p = p with { Description = input.Description };
        }

        if (input.RateLimitPerMinute is { } rate)
        {
            if (rate < 0)
            {
                return Invalid("rate_limit_per_minute", "must be 0 (unlimited) or more");
            }

            p = p with { RateLimitPerMinute = rate };
        }

        if (input.RequestsPerMonth is { } requests)
        {
            if (requests < -1)
            {
                return Invalid("requests_per_month", "must be 0 or -1 (unlimited) or more");
            }

            p = p with { RequestsPerMonth = Math.Max(0, requests) };
        }

        if (input.PriceMonthly is { } price)
        {
            if (price < 0)
            {
                return Invalid("price_monthly", "must be 0 or more (cents)");
            }

            p = p with { PriceMonthly = price };
        }

        if (input.OveragePrice is { } overage)
        {
            if (overage < 0)
            {
                return Invalid("overage_price", "must be 0 or more (cents per unit)");
            }

            p = p with { OveragePrice = overage };
        }

        if (input.IsDefault is { } isDefault)
        {
            p = p with { IsDefault = isDefault };
        }

        if (input.Enabled is { } enabled)
        {
            p = p with { Enabled = enabled };
        }

        if (input.Visible is { } visible)
        {
            p = p with { Visible = visible };
        }

        return p;
    }
}
