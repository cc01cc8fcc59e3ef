PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES(1,'upstreams and routes','2026-12-05T15:54:35.3048454+00:00');
INSERT INTO schema_migrations VALUES(2,'plans, users, api keys, entitlements, quota usage','2026-12-05T15:54:35.3180145+00:00');
INSERT INTO schema_migrations VALUES(3,'usage events','2026-12-05T15:54:35.3202406+00:00');
INSERT INTO schema_migrations VALUES(4,'admin tokens','2026-12-05T15:54:35.3242802+00:00');
INSERT INTO schema_migrations VALUES(5,'upstream targets, load balancing, target health','2026-12-05T15:54:35.3259415+00:00');
INSERT INTO schema_migrations VALUES(6,'upstream http version','2026-12-05T15:54:35.3279880+00:00');
INSERT INTO schema_migrations VALUES(7,'usage rollups, compaction, retention','2026-12-05T15:54:35.3360963+00:00');
INSERT INTO schema_migrations VALUES(8,'portal accounts, one-time tokens, visible plans','2026-12-05T15:54:35.3443160+00:00');
INSERT INTO schema_migrations VALUES(9,'outgoing webhooks','2026-12-05T15:54:35.3487275+00:00');
INSERT INTO schema_migrations VALUES(10,'billing: stripe prices, customers, events, overage outbox','2026-12-05T15:54:35.3605941+00:00');
INSERT INTO schema_migrations VALUES(11,'route cors, route auth scheme, external identities','2026-12-05T15:54:35.3725388+00:00');
INSERT INTO schema_migrations VALUES(12,'console and portal sessions, the forms'' protection key, attempt counts, admin audit','2026-12-05T15:54:35.3765790+00:00');
INSERT INTO schema_migrations VALUES(13,'overage rows held past the provider''s de-duplication window','2026-12-05T15:54:35.3849653+00:00');
INSERT INTO schema_migrations VALUES(14,'tables missing from early builds of migrations 11 and 12','2026-12-05T15:54:35.3881735+00:00');
INSERT INTO schema_migrations VALUES(15,'identity version moved by triggers on keys, users and identity links','2026-12-05T15:54:35.3965161+00:00');
INSERT INTO schema_migrations VALUES(16,'keys listed newest first through an index','2026-12-05T15:54:35.4001658+00:00');
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
, targets TEXT NOT NULL DEFAULT '[]', lb_policy TEXT NOT NULL DEFAULT 'round_robin', hash_on TEXT NOT NULL DEFAULT '', health_check TEXT NOT NULL DEFAULT '{}', http_version TEXT NOT NULL DEFAULT '1.1');
INSERT INTO upstreams VALUES('up_0185426bebfa3bc4','backend','backend','','http://127.0.0.1:48051',NULL,100,90000,0,'none','','',1,'2026-12-05T15:54:35.7954607+00:00','2026-12-05T15:54:35.7954607+00:00','[{"url":"http://127.0.0.1:48051","weight":1}]','round_robin','','{"path":"","interval_ms":10000,"timeout_ms":2000,"healthy_threshold":2,"unhealthy_threshold":3,"passive_cooldown_ms":30000}','1.1');
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
INSERT INTO routes VALUES('rt_85f0986d88528ea0','public','public','','','exact','/pub/*','prefix','','{}','up_0185426bebfa3bc4','','','','','http','request','',0,0,1,'2026-12-05T15:54:36.4929460+00:00','2026-12-05T15:54:36.4929460+00:00');
INSERT INTO routes VALUES('rt_078aa42a37cff998','api','api','','','exact','/api/*','prefix','','{}','up_0185426bebfa3bc4','','','','','http','request','',1,0,1,'2026-12-05T15:54:37.1737846+00:00','2026-12-05T15:54:37.1737846+00:00');
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
, visible INTEGER NOT NULL DEFAULT 0, stripe_price_id TEXT NOT NULL DEFAULT '', stripe_overage_price_id TEXT NOT NULL DEFAULT '', stripe_meter_event TEXT NOT NULL DEFAULT '');
INSERT INTO plans VALUES('free','Free','Default plan for new users',60,1000,0,0,1,1,'2026-12-05T15:54:35.317Z','2026-12-05T15:54:35.317Z',0,'','','');
INSERT INTO plans VALUES('pro','Pro','',600,1000,0,0,0,1,'2026-12-05T15:54:38.0660952+00:00','2026-12-05T15:54:38.0660952+00:00',0,'','','');
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    plan_id TEXT NOT NULL REFERENCES plans (id),
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO users VALUES('usr_8db0a5ab3d87b47f','alice@example.com','Alice','pro','active','2026-12-05T15:54:39.3083579+00:00','2026-12-05T15:54:39.3083579+00:00');
INSERT INTO users VALUES('usr_53be1de9ee782ee2','bob@example.com','Bob','pro','active','2026-12-05T15:54:39.7730901+00:00','2026-12-05T15:54:39.7730901+00:00');
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
INSERT INTO api_keys VALUES('key_f347d47d2721fdc8','alice-key','usr_8db0a5ab3d87b47f','ak_5cc04de5f','5edd13680eda10455ec9af8a1bac72ca1306301006e84d61ef82e33f65050ebb',NULL,NULL,'2026-12-05T15:54:43.5127826+00:00','2026-12-05T15:54:40.4769695+00:00');
INSERT INTO api_keys VALUES('key_f2259b0416083ef9','bob-key','usr_53be1de9ee782ee2','ak_f041936a6','9ab42d622ddf19d531c7dcb3875d3b35c7fe8ecd1c49e48fefe970375fd06098',NULL,'2026-12-05T15:54:46.4780978+00:00','2026-12-05T15:54:43.4924682+00:00','2026-12-05T15:54:41.1227392+00:00');
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
INSERT INTO entitlements VALUES('ent_e612b0b8fdb050a1','webhooks','','','','boolean','false','',1,'2026-12-05T15:54:38.4604463+00:00','2026-12-05T15:54:38.4604463+00:00');
CREATE TABLE plan_entitlements (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
    value TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    UNIQUE (plan_id, entitlement_id)
);
INSERT INTO plan_entitlements VALUES('pe_1551690500c49619','pro','ent_e612b0b8fdb050a1','true',1,'2026-12-05T15:54:38.9109768+00:00');
CREATE TABLE quota_usage (
    user_id TEXT NOT NULL,
    period_start TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    overage INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period_start)
);
INSERT INTO quota_usage VALUES('usr_8db0a5ab3d87b47f','2026-12-01T00:00:00.0000000+00:00',4,0);
INSERT INTO quota_usage VALUES('usr_53be1de9ee782ee2','2026-12-01T00:00:00.0000000+00:00',2,0);
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NULL,
    revoked_at TEXT NULL
);
CREATE TABLE target_health (
    instance_id TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    target_url TEXT NOT NULL,
    state TEXT NOT NULL,
    since TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    reported_at TEXT NOT NULL,
    PRIMARY KEY (instance_id, upstream_id, target_url)
);
CREATE TABLE IF NOT EXISTS "usage_events" (
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
    timestamp INTEGER NOT NULL
);
INSERT INTO usage_events VALUES(1,'usr_8db0a5ab3d87b47f','key_f347d47d2721fdc8','rt_078aa42a37cff998','up_0185426bebfa3bc4','GET','/api/hello',200,74.369100000000003094,0,6,1,'127.0.0.1','4b8d2c2af98a745c21484a222644f5c6',1796486083240662);
INSERT INTO usage_events VALUES(2,'usr_8db0a5ab3d87b47f','key_f347d47d2721fdc8','rt_078aa42a37cff998','up_0185426bebfa3bc4','GET','/api/hello',200,51.288899999999998159,0,6,1,'127.0.0.1','99d7359838980a218ebd3071939c9ac1',1796486083350191);
INSERT INTO usage_events VALUES(3,'usr_8db0a5ab3d87b47f','key_f347d47d2721fdc8','rt_078aa42a37cff998','up_0185426bebfa3bc4','GET','/api/hello',200,26.975600000000000023,0,6,1,'127.0.0.1','297ef59db27f47c1f649fe76ec6edb7c',1796486083415328);
INSERT INTO usage_events VALUES(4,'usr_53be1de9ee782ee2','key_f2259b0416083ef9','rt_078aa42a37cff998','up_0185426bebfa3bc4','GET','/api/hello',200,1.6980999999999999428,0,6,1,'127.0.0.1','bfef14651415d2fc43ba3483e63fc76b',1796486083464356);
INSERT INTO usage_events VALUES(5,'usr_53be1de9ee782ee2','key_f2259b0416083ef9','rt_078aa42a37cff998','up_0185426bebfa3bc4','GET','/api/hello',200,1.892200000000000104,0,6,1,'127.0.0.1','02b62ef8f0094d73b09a0a37a2587835',1796486083492497);
INSERT INTO usage_events VALUES(6,'usr_8db0a5ab3d87b47f','key_f347d47d2721fdc8','rt_078aa42a37cff998','up_0185426bebfa3bc4','GET','/api/hello',200,1.2842999999999999971,0,6,1,'127.0.0.1','15c45dfeafc150d6312de05fb7cfb955',1796486083512815);
CREATE TABLE usage_rollups (
    id INTEGER PRIMARY KEY,
    granularity INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    route_id TEXT NOT NULL,
    status_class INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    units INTEGER NOT NULL,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    latency_ms_sum REAL NOT NULL,
    lat_0 INTEGER NOT NULL,
    lat_1 INTEGER NOT NULL,
    lat_2 INTEGER NOT NULL,
    lat_3 INTEGER NOT NULL,
    lat_4 INTEGER NOT NULL,
    lat_5 INTEGER NOT NULL,
    lat_6 INTEGER NOT NULL,
    lat_7 INTEGER NOT NULL,
    lat_8 INTEGER NOT NULL,
    lat_9 INTEGER NOT NULL,
    lat_10 INTEGER NOT NULL,
    lat_11 INTEGER NOT NULL,
    UNIQUE (user_id, granularity, bucket, key_id, route_id, status_class)
);
INSERT INTO usage_rollups VALUES(1,60,1796486040,'usr_8db0a5ab3d87b47f','key_f347d47d2721fdc8','rt_078aa42a37cff998',2,4,4,0,24,153.91790000000000304,1,0,0,1,2,0,0,0,0,0,0,0);
INSERT INTO usage_rollups VALUES(2,60,1796486040,'usr_53be1de9ee782ee2','key_f2259b0416083ef9','rt_078aa42a37cff998',2,2,2,0,12,3.5903000000000000468,2,0,0,0,0,0,0,0,0,0,0,0);
INSERT INTO usage_rollups VALUES(3,60,1796486040,'anonymous','anonymous','rt_85f0986d88528ea0',2,1,1,0,6,1.3362000000000000543,1,0,0,0,0,0,0,0,0,0,0,0);
CREATE TABLE usage_compaction (
    granularity INTEGER PRIMARY KEY,
    compacted_until INTEGER NOT NULL
);
INSERT INTO usage_compaction VALUES(3600,1796479200);
INSERT INTO usage_compaction VALUES(86400,1796428800);
CREATE TABLE portal_accounts (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    password_hash TEXT NOT NULL,
    email_verified_at TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE portal_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT NULL
);
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    user_id TEXT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO webhook_events VALUES(1,'msg_f756ee50f54b7b99','user.created','usr_8db0a5ab3d87b47f','{"type":"user.created","timestamp":"2026-12-05T15:54:39.308Z","data":{"user_id":"usr_8db0a5ab3d87b47f","email":"alice@example.com","name":"Alice","plan_id":"pro","status":"active","created_at":"2026-12-05T15:54:39.308Z"}}','2026-12-05T15:54:39.3083579+00:00');
INSERT INTO webhook_events VALUES(2,'msg_68170dfe6983bb18','user.created','usr_53be1de9ee782ee2','{"type":"user.created","timestamp":"2026-12-05T15:54:39.773Z","data":{"user_id":"usr_53be1de9ee782ee2","email":"bob@example.com","name":"Bob","plan_id":"pro","status":"active","created_at":"2026-12-05T15:54:39.773Z"}}','2026-12-05T15:54:39.7730901+00:00');
INSERT INTO webhook_events VALUES(3,'msg_08637653b4e107d7','key.created','usr_8db0a5ab3d87b47f','{"type":"key.created","timestamp":"2026-12-05T15:54:40.476Z","data":{"key_id":"key_f347d47d2721fdc8","user_id":"usr_8db0a5ab3d87b47f","name":"alice-key","prefix":"ak_5cc04de5f","expires_at":null,"created_at":"2026-12-05T15:54:40.476Z"}}','2026-12-05T15:54:40.4769695+00:00');
INSERT INTO webhook_events VALUES(4,'msg_bf2fe66688bcc8b9','key.created','usr_53be1de9ee782ee2','{"type":"key.created","timestamp":"2026-12-05T15:54:41.122Z","data":{"key_id":"key_f2259b0416083ef9","user_id":"usr_53be1de9ee782ee2","name":"bob-key","prefix":"ak_f041936a6","expires_at":null,"created_at":"2026-12-05T15:54:41.122Z"}}','2026-12-05T15:54:41.1227392+00:00');
INSERT INTO webhook_events VALUES(5,'msg_0ad1ad4da12c40a7','key.revoked','usr_53be1de9ee782ee2','{"type":"key.revoked","timestamp":"2026-12-05T15:54:46.478Z","data":{"key_id":"key_f2259b0416083ef9","user_id":"usr_53be1de9ee782ee2","name":"bob-key","prefix":"ak_f041936a6","revoked_at":"2026-12-05T15:54:46.478Z"}}','2026-12-05T15:54:46.4780978+00:00');
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE webhook_usage_marks (
    user_id TEXT NOT NULL,
    period_start TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, period_start, kind)
);
CREATE TABLE billing_customers (
    user_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    customer_id TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL DEFAULT '',
    subscription_status TEXT NOT NULL DEFAULT '',
    subscription_created BIGINT NOT NULL DEFAULT 0,
    last_event_created BIGINT NOT NULL DEFAULT 0,
    suspended_by_billing INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE TABLE billing_events (
    event_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE billing_usage_outbox (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    meter_event TEXT NOT NULL,
    units BIGINT NOT NULL,
    period_start TEXT NOT NULL,
    usage_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at BIGINT NULL
, first_attempt_at BIGINT NOT NULL DEFAULT 0, held_at BIGINT NOT NULL DEFAULT 0);
CREATE TABLE route_cors (
    id TEXT PRIMARY KEY REFERENCES routes (id) ON DELETE CASCADE,
    origins TEXT NOT NULL,
    methods TEXT NOT NULL DEFAULT '',
    headers TEXT NOT NULL DEFAULT '',
    expose_headers TEXT NOT NULL DEFAULT '',
    credentials INTEGER NOT NULL DEFAULT 0,
    max_age INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE route_auth (
    id TEXT PRIMARY KEY REFERENCES routes (id) ON DELETE CASCADE,
    scheme TEXT NOT NULL
);
CREATE TABLE user_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE TABLE web_sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    binding TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE TABLE web_keys (
    slot TEXT PRIMARY KEY,
    xml TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE attempt_counts (
    name TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE admin_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    token_id TEXT NOT NULL,
    token_name TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE identity_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO identity_version VALUES(1,6);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('webhook_events',5);
INSERT INTO sqlite_sequence VALUES('webhook_deliveries',0);
CREATE INDEX routes_upstream ON routes (upstream_id);
CREATE INDEX users_plan ON users (plan_id);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX admin_tokens_prefix ON admin_tokens (prefix);
CREATE INDEX target_health_upstream ON target_health (upstream_id);
CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
CREATE INDEX usage_events_time ON usage_events (timestamp);
CREATE INDEX usage_rollups_age ON usage_rollups (granularity, bucket);
CREATE INDEX portal_tokens_user ON portal_tokens (user_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
CREATE INDEX billing_usage_outbox_pending ON billing_usage_outbox (sent_at, next_attempt_at);
CREATE INDEX user_identities_user ON user_identities (user_id);
CREATE INDEX web_sessions_idle ON web_sessions (kind, last_seen_at);
CREATE INDEX web_sessions_subject ON web_sessions (kind, subject_id);
CREATE INDEX attempt_counts_window ON attempt_counts (window_start);
CREATE INDEX admin_audit_at ON admin_audit (at);
CREATE INDEX api_keys_created ON api_keys (created_at DESC, id);
CREATE TRIGGER api_keys_identity_insert AFTER INSERT ON api_keys BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_identity_update AFTER UPDATE OF user_id, prefix, hash, expires_at, revoked_at ON api_keys BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_identity_delete AFTER DELETE ON api_keys BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_identity_insert AFTER INSERT ON users BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_identity_update AFTER UPDATE ON users BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_identity_delete AFTER DELETE ON users BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER user_identities_identity_insert AFTER INSERT ON user_identities BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER user_identities_identity_update AFTER UPDATE ON user_identities BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER user_identities_identity_delete AFTER DELETE ON user_identities BEGIN UPDATE identity_version SET version = version + 1 WHERE id = 1; END;
COMMIT;
