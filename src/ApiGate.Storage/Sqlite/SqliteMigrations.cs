namespace ApiGate.Storage.Sqlite;

/// <summary>
/// The schema, as an ordered list of migrations. Each runs once, in a transaction, and is recorded in
/// <c>schema_migrations</c>; never edit a released migration, add a new one.
/// </summary>
internal static class SqliteMigrations
{
    public static readonly (int Version, string Name, string Sql)[] All =
    [
        (1, "upstreams and routes", """
            CREATE TABLE config_version (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version INTEGER NOT NULL
            );
            INSERT INTO config_version (id, version) VALUES (1, 1);

            CREATE TABLE upstreams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                slug TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL DEFAULT '',
                base_url TEXT NOT NULL,
                timeout_ms INTEGER NULL,
                max_idle_conns INTEGER NOT NULL DEFAULT 100,
                idle_conn_timeout_ms INTEGER NOT NULL DEFAULT 90000,
                max_conns INTEGER NOT NULL DEFAULT 0,
                auth_type TEXT NOT NULL DEFAULT 'none',
                auth_header TEXT NOT NULL DEFAULT '',
                auth_value TEXT NOT NULL DEFAULT '',
                enabled INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );

            CREATE TABLE routes (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                slug TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL DEFAULT '',
                host_pattern TEXT NOT NULL DEFAULT '',
                host_match_type TEXT NOT NULL DEFAULT 'exact',
                path_pattern TEXT NOT NULL,
                match_type TEXT NOT NULL DEFAULT 'prefix',
                methods TEXT NOT NULL DEFAULT '',
                headers TEXT NOT NULL DEFAULT '{}',
                upstream_id TEXT NULL REFERENCES upstreams (id),
                path_rewrite TEXT NOT NULL DEFAULT '',
                method_override TEXT NOT NULL DEFAULT '',
                request_transform TEXT NOT NULL DEFAULT '',
                response_transform TEXT NOT NULL DEFAULT '',
                protocol TEXT NOT NULL DEFAULT 'http',
                metering_mode TEXT NOT NULL DEFAULT 'request',
                metering_expr TEXT NOT NULL DEFAULT '',
                auth_required INTEGER NOT NULL DEFAULT 1,
                priority INTEGER NOT NULL DEFAULT 0,
                enabled INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE INDEX routes_upstream ON routes (upstream_id);
            """),
    ];
}
