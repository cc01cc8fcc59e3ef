using System.Globalization;
using System.Text;

namespace ApiGate.Core.Entitlements;

/// <summary>
/// How much a plan's entitlements may add to every request sent upstream: at most <see cref="MaxHeaders"/> headers and
/// <see cref="MaxHeaderBytes"/> of names plus values. The gateway refuses a request with more than 100 headers or over
/// 32 KiB of them; without a cap a plan made it send upstream what it would refuse itself. Only a change that grows a
/// plan past a cap is refused: a plan stored above one before the cap existed still loads and is served, and changes
/// that keep or shrink it are accepted, so it can be brought under step by step. Pure.
/// </summary>
public static class EntitlementCap
{
    /// <summary>The most entitlement headers a plan sends.</summary>
    public const int MaxHeaders = 64;

    /// <summary>The most bytes of entitlement header names and values (UTF-8) a plan sends.</summary>
    public const int MaxHeaderBytes = 16 * 1024;

    /// <summary>
    /// What ends the refusal of a plan's value deleted or disabled: the plan then sends the entitlement's default, which
    /// is what grew it.
    /// </summary>
    public const string DefaultSentAdvice =
        "; without this value the plan sends the entitlement's default: shorten the default first, or give the plan a shorter value";

    /// <summary>The headers' count and size: names plus values, in UTF-8 bytes.</summary>
    public static (int Count, int Bytes) Measure(EntitlementHeader[] headers)
    {
        var bytes = 0;
        foreach (var header in headers)
        {
            bytes += Encoding.UTF8.GetByteCount(header.Name) + Encoding.UTF8.GetByteCount(header.Value);
        }

        return (headers.Length, bytes);
    }

    /// <summary>
    /// Why the change from the <paramref name="before"/> entitlements and values to the <paramref name="after"/> ones is
    /// refused, or null: a plan of <paramref name="planIds"/> (<c>""</c>: one with no values of its own, which every new
    /// plan is) that the change takes past a cap and grows. <see cref="Problem.TooMany"/> tells the count from the size.
    /// </summary>
    public static Problem? Check(
        IEnumerable<string> planIds,
        (IReadOnlyList<EntitlementDefinition> Entitlements, IReadOnlyList<PlanEntitlement> Values) before,
        (IReadOnlyList<EntitlementDefinition> Entitlements, IReadOnlyList<PlanEntitlement> Values) after)
    {
        var plans = planIds.ToList();
        var wasHeaders = EntitlementResolver.ResolveAll(plans, before.Entitlements, before.Values);
        var nowHeaders = EntitlementResolver.ResolveAll(plans, after.Entitlements, after.Values);
        foreach (var planId in plans)
        {
            var was = Measure(wasHeaders[planId]);
            var now = Measure(nowHeaders[planId]);
            if (now.Count > MaxHeaders && now.Count > was.Count)
            {
                // The same for every plan: every enabled entitlement is sent, with the plan's value or its default.
                return new Problem(true, string.Create(CultureInfo.InvariantCulture,
                    $"{now.Count} entitlements would be sent as headers on every request; at most {MaxHeaders} are allowed per plan: disable or delete one first"));
            }

            if (now.Bytes > MaxHeaderBytes && now.Bytes > was.Bytes)
            {
                var who = planId.Length == 0 ? "a plan with no values of its own (the defaults)" : $"plan '{planId}'";
                return new Problem(false, string.Create(CultureInfo.InvariantCulture,
                    $"{who} would send {now.Bytes} bytes of entitlement headers (names and values); at most {MaxHeaderBytes} are allowed per plan"));
            }
        }

        return null;
    }

    /// <summary>Why a change is refused: <paramref name="TooMany"/> headers, else too many bytes of them.</summary>
    public sealed record Problem(bool TooMany, string Message);
}
