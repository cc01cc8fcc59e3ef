PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES(1,'upstreams and routes','2026-12-05T15:53:49.9814537+00:00');
INSERT INTO schema_migrations VALUES(2,'plans, users, api keys, entitlements, quota usage','2026-12-05T15:53:49.9870589+00:00');
INSERT INTO schema_migrations VALUES(3,'usage events','2026-12-05T15:53:49.9905538+00:00');
CREATE TABLE config_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version VALUES(1,12);
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
INSERT INTO upstreams VALUES('up_159d8cfe13e42d34','backend','backend','','http://127.0.0.1:48051',NULL,100,90000,0,'none','','',1,'2026-12-05T15:53:49.9955106+00:00','2026-12-05T15:53:49.9955106+00:00');
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
INSERT INTO routes VALUES('rt_545644b112f46d6f','public','public','','','exact','/pub/*','prefix','','{}','up_159d8cfe13e42d34','','','','','http','request','',0,0,1,'2026-12-05T15:53:50.2921044+00:00','2026-12-05T15:53:50.2921044+00:00');
INSERT INTO routes VALUES('rt_e1698eaffa880c2f','api','api','','','exact','/api/*','prefix','','{}','up_159d8cfe13e42d34','','','','','http','request','',1,0,1,'2026-12-05T15:53:51.3810614+00:00','2026-12-05T15:53:51.3810614+00:00');
CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    rate_limit_per_minute INTEGER NOT NULL DEFAULT 0,
    requests_per_month INTEGER NOT NULL DEFAULT 0,
    price_monthly INTEGER NOT NULL DEFAULT 0,
    overage_price INTEGER NOT NULL DEFAULT 0,
    is_default INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO plans VALUES('free','Free','Default plan for new users',60,1000,0,0,1,1,'2026-12-05T15:53:49.986Z','2026-12-05T15:53:49.986Z');
INSERT INTO plans VALUES('pro','Pro','',600,1000,0,0,0,1,'2026-12-05T15:53:52.5531226+00:00','2026-12-05T15:53:52.5531226+00:00');
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    plan_id TEXT NOT NULL REFERENCES plans (id),
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO users VALUES('usr_2f5c718cc1c4d150','alice@example.com','Alice','pro','active','2026-12-05T15:53:54.5579967+00:00','2026-12-05T15:53:54.5579967+00:00');
INSERT INTO users VALUES('usr_2c1d6a73d65baae7','bob@example.com','Bob','pro','active','2026-12-05T15:53:55.1294493+00:00','2026-12-05T15:53:55.1294493+00:00');
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL REFERENCES users (id),
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    expires_at TEXT NULL,
    revoked_at TEXT NULL,
    last_used_at TEXT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO api_keys VALUES('key_ca039436884f871b','alice-key','usr_2f5c718cc1c4d150','ak_f592739f4','6f8820ddd62614ad2a59521da52e43ab381eed661213e8a45560ac1c15d66b12',NULL,NULL,'2026-12-05T15:54:05.0666282+00:00','2026-12-05T15:53:56.1151019+00:00');
INSERT INTO api_keys VALUES('key_0c02a4b66e67a2e3','bob-key','usr_2c1d6a73d65baae7','ak_30fc4a4db','cd82340f6537bc02da408e68c15b7b79829701142c20e44abba83ea4cf05254c',NULL,'2026-12-05T15:54:07.9833362+00:00','2026-12-05T15:54:04.4483152+00:00','2026-12-05T15:53:56.8414420+00:00');
CREATE TABLE entitlements (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    value_type TEXT NOT NULL DEFAULT 'boolean',
    default_value TEXT NOT NULL DEFAULT '',
    header_name TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO entitlements VALUES('ent_4ea5430125d8ccd0','webhooks','','','','boolean','false','',1,'2026-12-05T15:53:52.8901503+00:00','2026-12-05T15:53:52.8901503+00:00');
CREATE TABLE plan_entitlements (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
    value TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    UNIQUE (plan_id, entitlement_id)
);
INSERT INTO plan_entitlements VALUES('pe_e37b5fa0ca6da969','pro','ent_4ea5430125d8ccd0','true',1,'2026-12-05T15:53:53.7558596+00:00');
CREATE TABLE quota_usage (
    user_id TEXT NOT NULL,
    period_start TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    overage INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period_start)
);
INSERT INTO quota_usage VALUES('usr_2f5c718cc1c4d150','2026-12-01T00:00:00.0000000+00:00',4,0);
INSERT INTO quota_usage VALUES('usr_2c1d6a73d65baae7','2026-12-01T00:00:00.0000000+00:00',2,0);
CREATE TABLE usage_events (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    route_id TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    units INTEGER NOT NULL,
    client_ip TEXT NOT NULL,
    request_id TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX routes_upstream ON routes (upstream_id);
CREATE INDEX users_plan ON users (plan_id);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
COMMIT;
