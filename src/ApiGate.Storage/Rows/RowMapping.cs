using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using Dapper;

namespace ApiGate.Storage.Rows;

/// <summary>
/// Tells Dapper how the row records map to columns: a property is the column of its name in snake_case
/// (<c>BaseUrl</c> ↔ <c>base_url</c>). Registered once per process for these types only, so nothing else that uses
/// Dapper is affected; every store calls <see cref="Register"/> before its first query.
/// </summary>
internal static class RowMapping
{
    private static readonly Type[] Rows =
    [
        typeof(UpstreamRow), typeof(RouteRow), typeof(PlanRow), typeof(UserRow), typeof(ApiKeyRow), typeof(EntitlementRow),
        typeof(PlanEntitlementRow), typeof(AdminTokenRow), typeof(TargetHealthRow), typeof(UsageEventRow), typeof(NumberedUsageEventRow), typeof(UsageTotalsRow),
        typeof(QuotaUsageRow), typeof(UsageRollupRow),
        typeof(PortalAccountRow), typeof(PortalTokenRow),
        typeof(WebhookEndpointRow), typeof(WebhookDeliveryRow), typeof(WebhookAttemptRow), typeof(WebhookWorkRow),
        typeof(WebhookEventRow), typeof(WebhookDeliveryStateRow), typeof(WebhookUsageMarkRow),
        typeof(BillingCustomerRow), typeof(OverageOutboxRow), typeof(BillingEventRow),
        typeof(RouteCorsRow), typeof(RouteAuthRow), typeof(UserIdentityRow), typeof(WebSessionRow), typeof(AttemptCountRow), typeof(AdminAuditRow),
        typeof(StoredSettingRow),
    ];

    static RowMapping()
    {
        foreach (var row in Rows)
        {
            var byColumn = PropertiesOf(row).ToFrozenDictionary(p => ColumnOf(p.Name), StringComparer.OrdinalIgnoreCase);
            SqlMapper.SetTypeMap(row, new CustomPropertyTypeMap(row, (_, column) => byColumn.GetValueOrDefault(column)!));
        }
    }

    /// <summary>Makes sure the maps are registered (the first call registers them; later calls do nothing).</summary>
    public static void Register()
    {
        // The static constructor did the work.
    }

    /// <summary>The public properties of a row record, in declaration order: its columns.</summary>
    public static PropertyInfo[] PropertiesOf(Type row) => row.GetProperties(BindingFlags.Public | BindingFlags.Instance);

    /// <summary>The column a property maps to.</summary>
    public static string ColumnOf(string property) => JsonNamingPolicy.SnakeCaseLower.ConvertName(property);
}
