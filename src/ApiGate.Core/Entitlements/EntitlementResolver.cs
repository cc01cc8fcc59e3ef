using System.Globalization;
using System.Text;
using ApiGate.Core.Text;

namespace ApiGate.Core.Entitlements;

/// <summary>One header an entitlement resolves to.</summary>
public readonly record struct EntitlementHeader(string Name, string Value);

/// <summary>
/// Resolves a plan's feature flags (SPEC §3.4): every enabled entitlement, valued by the plan's enabled assignment if
/// there is one, else by its default; header <c>X-Entitlement-</c> + Title-Case name with <c>_</c> → <c>-</c>, or the
/// entitlement's own header name. Pure; computed once per plan per config snapshot.
/// </summary>
public static class EntitlementResolver
{
    public static EntitlementHeader[] Resolve(string planId, IEnumerable<EntitlementDefinition> entitlements, IEnumerable<PlanEntitlement> assignments) =>
        ResolveAll([planId], entitlements, assignments)[planId];

    /// <summary>
    /// <see cref="Resolve"/> for each of <paramref name="planIds"/>, with the entitlements ordered and named once and the
    /// assignments read once: resolved plan by plan, every plan read every assignment, so a reload of a config with
    /// 1,000 plans and 40 entitlements each went through 40 million assignments (half a second of CPU).
    /// </summary>
    public static IReadOnlyDictionary<string, EntitlementHeader[]> ResolveAll(
        IEnumerable<string> planIds, IEnumerable<EntitlementDefinition> entitlements, IEnumerable<PlanEntitlement> assignments)
    {
        var values = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var assignment in assignments)
        {
            if (!assignment.Enabled)
            {
                continue;
            }

            if (!values.TryGetValue(assignment.PlanId, out var planValues))
            {
                values[assignment.PlanId] = planValues = new Dictionary<string, string>(StringComparer.Ordinal);
            }

            planValues[assignment.EntitlementId] = assignment.Value;
        }

        // Which entitlements are sent, and as which header, does not depend on the plan; only the values do.
        var sent = new List<(EntitlementDefinition Entitlement, string Name)>();
        var backendNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entitlement in entitlements.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (!entitlement.Enabled)
            {
                continue;
            }

            var name = HeaderNameOf(entitlement);
            if (ReservedHeaders.Problem(name, credential: false) is not null)
            {
                continue; // stored before the rule existed: never sent in place of the gateway's own header
            }

            if (!backendNames.Add(BackendName(name)))
            {
                continue; // another entitlement, first by name, is sent as this header (stored before the rule existed)
            }

            sent.Add((entitlement, name));
        }

        var resolved = new Dictionary<string, EntitlementHeader[]>(StringComparer.Ordinal);
        foreach (var planId in planIds)
        {
            var planValues = values.GetValueOrDefault(planId);
            var headers = new EntitlementHeader[sent.Count];
            for (var i = 0; i < headers.Length; i++)
            {
                var (entitlement, name) = sent[i];
                headers[i] = new EntitlementHeader(
                    name,
                    planValues is not null && planValues.TryGetValue(entitlement.Id, out var assigned) ? assigned : entitlement.DefaultValue);
            }

            resolved[planId] = headers;
        }

        return resolved;
    }

    /// <summary><c>max_api_keys</c> → <c>X-Entitlement-Max-Api-Keys</c>, unless a header name is set.</summary>
    public static string HeaderNameOf(EntitlementDefinition entitlement)
    {
        if (entitlement.HeaderName.Length > 0)
        {
            return entitlement.HeaderName;
        }

        var builder = new StringBuilder("X-Entitlement-");
        var upper = true;
        foreach (var c in entitlement.Name)
        {
            if (c is '_' or '-' or ' ')
            {
                builder.Append('-');
                upper = true;
            }
            else
            {
                builder.Append(upper ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
                upper = false;
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// True when a backend reads <paramref name="a"/> and <paramref name="b"/> as one header: names compared ignoring
    /// case, with '_' read as '-' (as CGI and WSGI backends read them).
    /// </summary>
    public static bool SameHeader(string a, string b) => string.Equals(BackendName(a), BackendName(b), StringComparison.OrdinalIgnoreCase);

    private static string BackendName(string header) => header.Replace('_', '-');

    /// <summary>
    /// Why <paramref name="entitlement"/> cannot be stored beside <paramref name="entitlements"/>: another of them (its
    /// own row excluded) is sent as the same header (<see cref="SameHeader"/>), so the backend would get one header for
    /// both; null when none is.
    /// </summary>
    public static string? HeaderTaken(EntitlementDefinition entitlement, IEnumerable<EntitlementDefinition> entitlements)
    {
        var header = HeaderNameOf(entitlement);
        foreach (var other in entitlements)
        {
            var otherHeader = HeaderNameOf(other);
            if (other.Id != entitlement.Id && SameHeader(otherHeader, header))
            {
                return $"it would be sent as {header}, and entitlement '{other.Name}' is sent as {otherHeader} (a backend reads header names ignoring case, and '_' as '-'): give one of them another header_name";
            }
        }

        return null;
    }

    /// <summary>Null when <paramref name="value"/> is valid for the type; else why not.</summary>
    public static string? ValidateValue(EntitlementValueType type, string value) => type switch
    {
        EntitlementValueType.Boolean when value is not ("true" or "false") => $"'{value}' is not true or false",
        EntitlementValueType.Number when !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number) => $"'{value}' is not a number",
        _ when value.AsSpan().ContainsAny('\r', '\n') => "values cannot contain line breaks",
        _ => null,
    };
}
