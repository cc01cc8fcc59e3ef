PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES(1,'upstreams and routes','2026-12-05T15:54:17.1542577+00:00');
INSERT INTO schema_migrations VALUES(2,'plans, users, api keys, entitlements, quota usage','2026-12-05T15:54:17.1652341+00:00');
INSERT INTO schema_migrations VALUES(3,'usage events','2026-12-05T15:54:17.1681659+00:00');
INSERT INTO schema_migrations VALUES(4,'admin tokens','2026-12-05T15:54:17.1762872+00:00');
INSERT INTO schema_migrations VALUES(5,'upstream targets, load balancing, target health','2026-12-05T15:54:17.1777374+00:00');
INSERT INTO schema_migrations VALUES(6,'upstream http version','2026-12-05T15:54:17.1782982+00:00');
INSERT INTO schema_migrations VALUES(7,'usage rollups, compaction, retention','2026-12-05T15:54:17.1788272+00:00');
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
INSERT INTO upstreams VALUES('up_700ead662736592e','backend','backend','','http://127.0.0.1:48051',NULL,100,90000,0,'none','','',1,'2026-12-05T15:54:17.2231458+00:00','2026-12-05T15:54:17.2231458+00:00','[{"url":"http://127.0.0.1:48051","weight":1}]','round_robin','','{"path":"","interval_ms":10000,"timeout_ms":2000,"healthy_threshold":2,"unhealthy_threshold":3,"passive_cooldown_ms":30000}','1.1');
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
INSERT INTO routes VALUES('rt_5afd4cb47b2d5299','public','public','','','exact','/pub/*','prefix','','{}','up_700ead662736592e','','','','','http','request','',0,0,1,'2026-12-05T15:54:18.2653725+00:00','2026-12-05T15:54:18.2653725+00:00');
INSERT INTO routes VALUES('rt_c8c8c08be7211abb','api','api','','','exact','/api/*','prefix','','{}','up_700ead662736592e','','','','','http','request','',1,0,1,'2026-12-05T15:54:18.9111523+00:00','2026-12-05T15:54:18.9111523+00:00');
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
INSERT INTO plans VALUES('free','Free','Default plan for new users',60,1000,0,0,1,1,'2026-12-05T15:54:17.164Z','2026-12-05T15:54:17.164Z');
INSERT INTO plans VALUES('pro','Pro','',600,1000,0,0,0,1,'2026-12-05T15:54:19.4735645+00:00','2026-12-05T15:54:19.4735645+00:00');
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    plan_id TEXT NOT NULL REFERENCES plans (id),
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO users VALUES('usr_666cf507f297c398','alice@example.com','Alice','pro','active','2026-12-05T15:54:20.9313317+00:00','2026-12-05T15:54:20.9313317+00:00');
INSERT INTO users VALUES('usr_29fb0b72a7fe9647','bob@example.com','Bob','pro','active','2026-12-05T15:54:21.4083549+00:00','2026-12-05T15:54:21.4083549+00:00');
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
INSERT INTO api_keys VALUES('key_80211b15ae66e85a','alice-key','usr_666cf507f297c398','ak_0611c32c4','196ecb8d891772b9f200b49aacf402164b7ca447b0ba5eed605bed92c3ef7dcd',NULL,NULL,'2026-12-05T15:54:31.7980566+00:00','2026-12-05T15:54:21.8770586+00:00');
INSERT INTO api_keys VALUES('key_b30ffa508b20c402','bob-key','usr_29fb0b72a7fe9647','ak_b832d2cb7','b50f597f9bc5ff888e61c62a62c83b9a71ce49a1f9ec0266e93a0a8a90485473',NULL,'2026-12-05T15:54:34.7068648+00:00','2026-12-05T15:54:31.7518325+00:00','2026-12-05T15:54:22.5492224+00:00');
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
INSERT INTO entitlements VALUES('ent_455886d87f51081a','webhooks','','','','boolean','false','',1,'2026-12-05T15:54:20.0011237+00:00','2026-12-05T15:54:20.0011237+00:00');
CREATE TABLE plan_entitlements (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
    value TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    UNIQUE (plan_id, entitlement_id)
);
INSERT INTO plan_entitlements VALUES('pe_1e44db90290e9981','pro','ent_455886d87f51081a','true',1,'2026-12-05T15:54:20.5076458+00:00');
CREATE TABLE quota_usage (
    user_id TEXT NOT NULL,
    period_start TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    overage INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period_start)
);
INSERT INTO quota_usage VALUES('usr_666cf507f297c398','2026-12-01T00:00:00.0000000+00:00',4,0);
INSERT INTO quota_usage VALUES('usr_29fb0b72a7fe9647','2026-12-01T00:00:00.0000000+00:00',2,0);
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
INSERT INTO usage_events VALUES(1,'usr_666cf507f297c398','key_80211b15ae66e85a','rt_c8c8c08be7211abb','up_700ead662736592e','GET','/api/hello',200,119.40219999999999345,0,6,1,'127.0.0.1','d2a7520ff23d4f7b8aca53cdd1c0cd6d','2026-12-05T15:54:31.4986969+00:00');
INSERT INTO usage_events VALUES(2,'usr_666cf507f297c398','key_80211b15ae66e85a','rt_c8c8c08be7211abb','up_700ead662736592e','GET','/api/hello',200,27.662600000000001187,0,6,1,'127.0.0.1','1289e6ef59f54da2ac90d868990ff723','2026-12-05T15:54:31.6749764+00:00');
INSERT INTO usage_events VALUES(3,'usr_666cf507f297c398','key_80211b15ae66e85a','rt_c8c8c08be7211abb','up_700ead662736592e','GET','/api/hello',200,2.3980000000000001314,0,6,1,'127.0.0.1','0072f968247c45309bc3ec5932434981','2026-12-05T15:54:31.7231566+00:00');
INSERT INTO usage_events VALUES(4,'usr_29fb0b72a7fe9647','key_b30ffa508b20c402','rt_c8c8c08be7211abb','up_700ead662736592e','GET','/api/hello',200,2.017199999999999882,0,6,1,'127.0.0.1','6345113d4cb046f1b1fe472942c22be9','2026-12-05T15:54:31.7373138+00:00');
INSERT INTO usage_events VALUES(5,'usr_29fb0b72a7fe9647','key_b30ffa508b20c402','rt_c8c8c08be7211abb','up_700ead662736592e','GET','/api/hello',200,5.2812000000000001165,0,6,1,'127.0.0.1','2b1cdd2e72c3414cbc45c21e04053590','2026-12-05T15:54:31.7518660+00:00');
INSERT INTO usage_events VALUES(6,'anonymous','anonymous','rt_5afd4cb47b2d5299','up_700ead662736592e','GET','/pub/hello',200,1.5294000000000000927,0,6,1,'127.0.0.1','7399ab53663641849d17880ce1ed4eae','2026-12-05T15:54:31.7768448+00:00');
INSERT INTO usage_events VALUES(7,'usr_666cf507f297c398','key_80211b15ae66e85a','rt_c8c8c08be7211abb','up_700ead662736592e','GET','/api/hello',200,2.9113000000000002209,0,6,1,'127.0.0.1','1e652547d7ec4349ac1f2aeb402c2192','2026-12-05T15:54:31.7980885+00:00');
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
INSERT INTO usage_rollups VALUES(1,60,1796486040,'usr_666cf507f297c398','key_80211b15ae66e85a','rt_c8c8c08be7211abb',2,4,4,0,24,152.37409999999999854,2,0,0,1,0,1,0,0,0,0,0,0);
INSERT INTO usage_rollups VALUES(2,60,1796486040,'usr_29fb0b72a7fe9647','key_b30ffa508b20c402','rt_c8c8c08be7211abb',2,2,2,0,12,7.2983999999999999985,1,1,0,0,0,0,0,0,0,0,0,0);
INSERT INTO usage_rollups VALUES(3,60,1796486040,'anonymous','anonymous','rt_5afd4cb47b2d5299',2,1,1,0,6,1.5294000000000000927,1,0,0,0,0,0,0,0,0,0,0,0);
CREATE TABLE usage_compaction (
    granularity INTEGER PRIMARY KEY,
    compacted_until INTEGER NOT NULL
);
INSERT INTO usage_compaction VALUES(3600,1796479200);
INSERT INTO usage_compaction VALUES(86400,1796428800);
CREATE INDEX routes_upstream ON routes (upstream_id);
CREATE INDEX users_plan ON users (plan_id);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
CREATE INDEX admin_tokens_prefix ON admin_tokens (prefix);
CREATE INDEX target_health_upstream ON target_health (upstream_id);
CREATE INDEX usage_rollups_age ON usage_rollups (granularity, bucket);
CREATE INDEX usage_events_time ON usage_events (timestamp);
COMMIT;
