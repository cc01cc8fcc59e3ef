namespace ApiGate.Storage.Sql;

/// <summary>
/// The tables a config snapshot is built from (<c>LoadConfigAsync</c>), whose every change draws a new content token
/// (migrations 21 and 22 of each engine; <see cref="Core.Storage.ConfigData.ContentToken"/>). A table added to the snapshot's
/// reads needs its triggers too, in a migration of its own.
/// </summary>
internal static class ConfigContentTriggers
{
    private static readonly string[] Tables = ["upstreams", "routes", "route_cors", "route_auth", "plans", "entitlements", "plan_entitlements"];

    /// <summary>SQLite: a row trigger per table and statement kind (SQLite has no statement triggers).</summary>
    public static string Sqlite() => string.Concat(
        from table in Tables
        from change in (string[])["INSERT", "UPDATE", "DELETE"]
        select $"CREATE TRIGGER IF NOT EXISTS {table}_content_{change.ToLowerInvariant()} AFTER {change} ON {table} " +
            "BEGIN UPDATE config_content SET token = random() WHERE id = 1; END;\n");

    /// <summary>
    /// PostgreSQL: a statement trigger per table calling <c>apigate_config_content_changed()</c>, on TRUNCATE too: a
    /// table emptied by hand with TRUNCATE fires no INSERT, UPDATE or DELETE trigger, and the token left as it was kept
    /// gateways on routes (and route lists on rows) that were gone (migration 22).
    /// </summary>
    public static string Postgres() => string.Concat(
        from table in Tables
        select $"DROP TRIGGER IF EXISTS {table}_content ON {table};\n" +
            $"CREATE TRIGGER {table}_content AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION apigate_config_content_changed();\n");
}
