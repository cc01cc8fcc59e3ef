using System.Globalization;
using ApiGate.Core.Identity;
using ApiGate.Core.Text;
using ApiGate.Core.Storage;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Plans (rate limit, monthly quota, price): validated and written here for the CLI and the admin API alike; a refused change names the field and writes nothing.</summary>
public sealed class PlanService(IIdentityStore store, TimeProvider timeProvider, ConflictBackOff? conflictBackOff = null)
{
    private readonly ConflictBackOff _conflictBackOff = conflictBackOff ?? ConflictBackOff.Default;

    /// <summary>What <c>price_monthly</c> must be, said whether it is below 0 or past what a whole number holds (<see cref="RuleOf"/>).</summary>
    public static readonly string PriceMonthlyRule = CentsRule("the monthly price (2900 = 29.00)");

    /// <summary>What <c>overage_price</c> must be.</summary>
    public static readonly string OveragePriceRule = CentsRule("the price per unit past the quota (1 = 0.01; 0 = none)");

    /// <summary>The rule of a plan field whose range is not its type's alone (a price in cents), for an edge that reads the value; else null.</summary>
    public static string? RuleOf(string field) => field switch
    {
        "price_monthly" => PriceMonthlyRule,
        "overage_price" => OveragePriceRule,
        _ => null,
    };

    private static string CentsRule(string what) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"must be a whole number of cents from 0 to {long.MaxValue}: {what}");

    /// <summary>The longest plan id: an identifier, sent upstream in <c>X-Plan-ID</c> with every request of the plan's users.</summary>
    public const int MaxIdLength = 64;

    public Task<IReadOnlyList<PlanDefinition>> ListAsync(CancellationToken ct) => store.ListPlansAsync(ct);

    public async Task<ManagementResult<PlanDefinition>> GetAsync(string id, CancellationToken ct) =>
        await store.FindPlanAsync(id, ct) is { } plan ? plan : NotFound("plan", id);

    public async Task<ManagementResult<PlanDefinition>> CreateAsync(PlanInput input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Name))
        {
            return Invalid("name", "name is required");
        }

        // An id made from the name is refused on the name: the field the caller sent (an admin API pointer to /id would
        // point at nothing).
        var derived = string.IsNullOrWhiteSpace(input.Id);
        var id = derived ? Slug.From(input.Name) : input.Id!.Trim();
        if (id.Length > MaxIdLength)
        {
            // The id goes upstream in X-Plan-ID on every request of the plan's users: a 100 kB one made each of them a 431.
            return derived
                ? Invalid("name", $"the id made from the name is longer than {MaxIdLength} characters (it is sent upstream in X-Plan-ID): give a shorter id")
                : Invalid("id", $"is longer than {MaxIdLength} characters (it is sent upstream in X-Plan-ID)");
        }

        if (derived && id.Length == 0)
        {
            return Invalid("name", $"'{input.Name}' has no letter or digit to make the plan's id from; give an id");
        }

        if (id.Length == 0 || Slug.From(id) != id)
        {
            return Invalid("id", $"'{id}' is not a valid plan id (lower-case letters, digits and '-')");
        }

        var now = timeProvider.GetUtcNow();
        var built = ApplyPlan(new PlanDefinition { Id = id, Name = "", CreatedAt = now, UpdatedAt = now }, input);
        if (built.Error is not null)
        {
            return built.Error;
        }

        var written = await WriteAsync(built.Value!, store.CreatePlanAsync, ct);
        return derived && written.Error is { Kind: ManagementErrorKind.Conflict, Field: "id" }
            ? new ManagementError(ManagementErrorKind.Conflict, "name", $"a plan with id '{id}' (made from the name) already exists; give this one another name or an id")
            : written;
    }

    /// <summary>
    /// Applies the given fields to the plan as stored; written only if nobody changed it meanwhile, else applied again
    /// to the newer plan (a few times, then a conflict), so concurrent updates of different fields all land.
    /// </summary>
    public Task<ManagementResult<PlanDefinition>> UpdateAsync(string id, PlanInput input, CancellationToken ct) =>
        UpdateAsync(id, input, null, ct);

    /// <summary>Applies <paramref name="input"/> while <paramref name="condition"/> (when given) holds for the row as stored.</summary>
    public Task<ManagementResult<PlanDefinition>> UpdateAsync(string id, PlanInput input, RowCondition? condition, CancellationToken ct) =>
        RetryWhenChangedAsync(async () =>
        {
            var existing = await store.FindPlanAsync(id, ct);
            if (existing is null)
            {
                return NotFound("plan", id);
            }

            if (condition?.Refuse("plan", id, existing.UpdatedAt) is { } stale)
            {
                return stale;
            }

            if (!string.IsNullOrWhiteSpace(input.Id) && input.Id.Trim() != existing.Id)
            {
                // Users, keys' quotas and Stripe prices refer to the id: a different one is refused, not dropped with a 200.
                return Invalid("id", $"a plan's id cannot be changed (it is '{existing.Id}'): create a plan with the new id and move its users to it");
            }

            var built = ApplyPlan(existing with { UpdatedAt = Storage.RowVersion.ChangedAt(timeProvider, existing.UpdatedAt) }, input with { Id = null });
            return built.Error
                ?? (Unchanged.Same(existing, built.Value!) ? existing
                : await WriteAsync(built.Value!, (plan, c) => store.UpdatePlanAsync(plan, existing.UpdatedAt, c), ct));
        }, _conflictBackOff, ct);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<PlanDefinition>> DeleteAsync(string id, CancellationToken ct) =>
        DeleteAsync(id, null, ct);

    /// <summary>Deletes it while <paramref name="condition"/> (when given) holds for the row as read.</summary>
    public Task<ManagementResult<PlanDefinition>> DeleteAsync(string id, RowCondition? condition, CancellationToken ct) =>
        DeleteFoundAsync("plan", id, c => store.FindPlanAsync(id, c), x => x.UpdatedAt, condition, (p, readAt, c) => store.DeletePlanAsync(p.Id, readAt, c), ct);

    private static ManagementResult<PlanDefinition> ApplyPlan(PlanDefinition p, PlanInput input)
    {
        if ((TextFields.Check(("name", input.Name), ("description", input.Description)) ?? TextFields.CheckInvisible("name", input.Name, p.Name)) is { } textProblem)
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
                return Invalid("price_monthly", PriceMonthlyRule);
            }

            p = p with { PriceMonthly = price };
        }

        if (input.OveragePrice is { } overage)
        {
            if (overage < 0)
            {
                return Invalid("overage_price", OveragePriceRule);
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

        return ApplyBilling(p, input);
    }

    /// <summary>
    /// The Stripe fields: ids of the shape Stripe gives them, a meter only with a metered price and an overage price, and
    /// the subscription price wherever there is a monthly price to charge (docs/billing.md).
    /// </summary>
    private static ManagementResult<PlanDefinition> ApplyBilling(PlanDefinition p, PlanInput input)
    {
        if (input.StripePriceId is { } price)
        {
            if (BadStripeId(price, "price_") is { } problem)
            {
                return Invalid("stripe_price_id", problem);
            }

            p = p with { StripePriceId = price.Trim() };
        }

        if (input.StripeOveragePriceId is { } overagePrice)
        {
            if (BadStripeId(overagePrice, "price_") is { } problem)
            {
                return Invalid("stripe_overage_price_id", problem);
            }

            p = p with { StripeOveragePriceId = overagePrice.Trim() };
        }

        if (input.StripeMeterEvent is { } meter)
        {
            meter = meter.Trim();
            if (BadMeterEvent(meter) is { } problem)
            {
                return Invalid("stripe_meter_event", problem);
            }

            p = p with { StripeMeterEvent = meter };
        }

        // A plan with no monthly price may be sold with its metered price alone (Stripe takes a subscription of only a
        // metered price); one with a monthly price needs the recurring price that charges it, or its subscribers would
        // pay only for their overage.
        if ((p.StripeOveragePriceId.Length > 0 || p.StripeMeterEvent.Length > 0) && p.StripePriceId.Length == 0 && p.PriceMonthly > 0)
        {
            return Invalid("stripe_price_id", "a plan with a monthly price (price_monthly above 0) billed for overage needs its subscription price (stripe_price_id) too");
        }

        if ((p.StripeOveragePriceId.Length > 0) != (p.StripeMeterEvent.Length > 0))
        {
            return Invalid(p.StripeMeterEvent.Length == 0 ? "stripe_meter_event" : "stripe_overage_price_id",
                "overage is billed with both a metered price (stripe_overage_price_id) and its meter's event name (stripe_meter_event)");
        }

        if (p.StripeMeterEvent.Length > 0 && p.OveragePrice <= 0)
        {
            return Invalid("overage_price", "a plan that reports overage to Stripe must allow overage (overage_price above 0), or no unit is ever over the quota");
        }

        return p;
    }

    /// <summary>The longest meter event name Stripe takes.</summary>
    private const int MaxMeterEventLength = 100;

    /// <summary>
    /// Why <paramref name="meter"/> (trimmed) is not a meter event name, or null. The message names the rule and the first
    /// character breaking it by its code point and position, never the value typed: it is shown on the console's page,
    /// in the CLI's error and the admin API's, where a value of any length and any character would be repeated as sent.
    /// </summary>
    private static string? BadMeterEvent(string meter)
    {
        const string Rule = "a meter event name is letters, digits, '_', '-' and '.'";
        if (meter.Length > MaxMeterEventLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is longer than {MaxMeterEventLength} characters ({Rule}, at most {MaxMeterEventLength})");
        }

        var at = meter.AsSpan().IndexOfAnyExcept(MeterEventCharacters);
        return at < 0 ? null : string.Create(CultureInfo.InvariantCulture, $"is not a meter event name: U+{(int)meter[at]:X4} at position {at + 1} is not allowed ({Rule})");
    }

    private static readonly System.Buffers.SearchValues<char> MeterEventCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");

    private static string? BadStripeId(string value, string prefix)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            return null; // clears the field
        }

        return trimmed.StartsWith(prefix, StringComparison.Ordinal) && trimmed.Length <= 255 && trimmed.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')
            ? null
            : $"is not a Stripe price id ('{prefix}' then letters, digits and '_'; at most 255 characters)"; // the value not repeated, as BadMeterEvent
    }
}
