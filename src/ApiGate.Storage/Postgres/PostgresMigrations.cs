namespace ApiGate.Storage.Postgres;

/// <summary>
/// The PostgreSQL schema as an ordered list of migrations, numbered like SQLite's (same tables, same columns, same
/// row records): timestamps stay ISO 8601 UTC text of fixed width (text order is time order) so both engines share
/// one mapping, except raw usage event times and rollup buckets, integers from migration 7 on as in SQLite; flags are booleans; case-insensitive uniqueness is a unique index on <c>lower(…)</c>. Each runs once,
/// in a transaction, under an advisory lock, recorded in <c>schema_migrations</c>; never edit a released migration.
/// </summary>
internal static class PostgresMigrations
{
    public static readonly (int Version, string Name, string Sql)[] All =
    [
        (1, "upstreams and routes", """
            CREATE TABLE config_version (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version BIGINT NOT NULL
            );
            INSERT INTO config_version (id, version) VALUES (1, 1);

            CREATE TABLE upstreams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
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
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX upstreams_name ON upstreams (lower(name));

            CREATE TABLE routes (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
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
                auth_required BOOLEAN NOT NULL DEFAULT TRUE,
                priority INTEGER NOT NULL DEFAULT 0,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX routes_name ON routes (lower(name));
            CREATE INDEX routes_upstream ON routes (upstream_id);
            """),
        (2, "plans, users, api keys, entitlements, quota usage", """
            CREATE TABLE plans (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                rate_limit_per_minute INTEGER NOT NULL DEFAULT 0,
                requests_per_month BIGINT NOT NULL DEFAULT 0,
                price_monthly BIGINT NOT NULL DEFAULT 0,
                overage_price BIGINT NOT NULL DEFAULT 0,
                is_default BOOLEAN NOT NULL DEFAULT FALSE,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            INSERT INTO plans (id, name, description, rate_limit_per_minute, requests_per_month, is_default, created_at, updated_at)
            VALUES ('free', 'Free', 'Default plan for new users', 60, 1000, TRUE,
                to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));

            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT '',
                plan_id TEXT NOT NULL REFERENCES plans (id),
                status TEXT NOT NULL DEFAULT 'active',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX users_email ON users (lower(email));
            CREATE INDEX users_plan ON users (plan_id);

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
            CREATE INDEX api_keys_prefix ON api_keys (prefix);
            CREATE INDEX api_keys_user ON api_keys (user_id);

            CREATE TABLE entitlements (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL DEFAULT '',
                category TEXT NOT NULL DEFAULT '',
                value_type TEXT NOT NULL DEFAULT 'boolean',
                default_value TEXT NOT NULL DEFAULT '',
                header_name TEXT NOT NULL DEFAULT '',
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );

            CREATE TABLE plan_entitlements (
                id TEXT PRIMARY KEY,
                plan_id TEXT NOT NULL REFERENCES plans (id),
                entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
                value TEXT NOT NULL,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TEXT NOT NULL,
                UNIQUE (plan_id, entitlement_id)
            );

            CREATE TABLE quota_usage (
                user_id TEXT NOT NULL,
                period_start TEXT NOT NULL,
                used BIGINT NOT NULL DEFAULT 0,
                overage BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (user_id, period_start)
            );
            """),
        // No foreign keys: usage is a billing record and outlives deleted users, keys and routes.
        (3, "usage events", """
            CREATE TABLE usage_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                user_id TEXT NOT NULL,
                key_id TEXT NOT NULL,
                route_id TEXT NOT NULL,
                upstream_id TEXT NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                status INTEGER NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                request_bytes BIGINT NOT NULL,
                response_bytes BIGINT NOT NULL,
                units BIGINT NOT NULL,
                client_ip TEXT NOT NULL,
                request_id TEXT NOT NULL,
                timestamp TEXT NOT NULL
            );
            CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
            """),
        (4, "admin tokens", """
            CREATE TABLE admin_tokens (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                prefix TEXT NOT NULL,
                hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                last_used_at TEXT NULL,
                revoked_at TEXT NULL
            );
            CREATE UNIQUE INDEX admin_tokens_name ON admin_tokens (lower(name));
            CREATE INDEX admin_tokens_prefix ON admin_tokens (prefix);
            """),
        (5, "upstream targets, load balancing, target health", """
            ALTER TABLE upstreams ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';
            ALTER TABLE upstreams ADD COLUMN lb_policy TEXT NOT NULL DEFAULT 'round_robin';
            ALTER TABLE upstreams ADD COLUMN hash_on TEXT NOT NULL DEFAULT '';
            ALTER TABLE upstreams ADD COLUMN health_check TEXT NOT NULL DEFAULT '{}';

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
            CREATE INDEX target_health_upstream ON target_health (upstream_id);
            """),
        (6, "upstream http version", """
            ALTER TABLE upstreams ADD COLUMN http_version TEXT NOT NULL DEFAULT '1.1';
            """),

        // Usage at volume (docs/usage.md), as SQLite's migration 7: raw events keep their time as Unix microseconds (the
        // text column converted in place, digits past the sixth dropped as SQLite's conversion drops them), indexed for
        // pruning by age; rollups per (bucket, user, key, route, status class) at minute (60), hour (3600) and day (86400)
        // granularity with bucket starts in Unix seconds; the compaction watermarks. Existing raw events are rolled up
        // into minute rows, so usage reads stay the same.
        (7, "usage rollups, compaction, retention", $"""
            ALTER TABLE usage_events ALTER COLUMN timestamp TYPE BIGINT USING
                CAST(EXTRACT(EPOCH FROM CAST(substr(timestamp, 1, 19) AS TIMESTAMP)) AS BIGINT) * 1000000 + CAST(substr(timestamp, 21, 6) AS BIGINT);
            CREATE INDEX usage_events_time ON usage_events (timestamp);

            CREATE TABLE usage_rollups (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                granularity BIGINT NOT NULL,
                bucket BIGINT NOT NULL,
                user_id TEXT NOT NULL,
                key_id TEXT NOT NULL,
                route_id TEXT NOT NULL,
                status_class BIGINT NOT NULL,
                requests BIGINT NOT NULL,
                units BIGINT NOT NULL,
                request_bytes BIGINT NOT NULL,
                response_bytes BIGINT NOT NULL,
                latency_ms_sum DOUBLE PRECISION NOT NULL,
                {string.Join(",\n    ", Enumerable.Range(0, ApiGate.Core.Usage.UsageLatencyBuckets.Count).Select(i => $"lat_{i} BIGINT NOT NULL"))},
                UNIQUE (user_id, granularity, bucket, key_id, route_id, status_class)
            );
            CREATE INDEX usage_rollups_age ON usage_rollups (granularity, bucket);

            CREATE TABLE usage_compaction (
                granularity BIGINT PRIMARY KEY,
                compacted_until BIGINT NOT NULL
            );
            INSERT INTO usage_compaction (granularity, compacted_until) VALUES (3600, 0), (86400, 0);

            INSERT INTO usage_rollups ({ApiGate.Storage.Usage.UsageSql.RollupColumns})
            SELECT 60, timestamp / 60000000 * 60, user_id, key_id, route_id,
                CASE WHEN status BETWEEN 0 AND 999 THEN status / 100 ELSE 9 END,
                COUNT(*), SUM(units), SUM(request_bytes), SUM(response_bytes), SUM(latency_ms),
                {ApiGate.Storage.Usage.UsageSql.LatencyHistogram("latency_ms")}
            FROM usage_events GROUP BY 2, 3, 4, 5, 6;
            """),

        // The customer portal (docs/portal.md): a password hash and verification time per portal user (users who
        // signed up; the user row itself is an ordinary user), one-time link tokens stored as hashes only, and the
        // plans' visible flag (which plans the portal offers).
        (8, "portal accounts, one-time tokens, visible plans", """
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
            CREATE INDEX portal_tokens_user ON portal_tokens (user_id);

            ALTER TABLE plans ADD COLUMN visible BOOLEAN NOT NULL DEFAULT FALSE;
            """),
        (9, "outgoing webhooks", """
            CREATE TABLE webhook_endpoints (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                secret TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );

            CREATE TABLE webhook_events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                user_id TEXT NULL,
                body TEXT NOT NULL,
                created_at TEXT NOT NULL
            );

            CREATE TABLE webhook_deliveries (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
            CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, id);
            CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

            CREATE TABLE webhook_attempts (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                delivery_id BIGINT NOT NULL,
                attempted_at TEXT NOT NULL,
                status_code INTEGER NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                error TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

            CREATE TABLE webhook_usage_marks (
                user_id TEXT NOT NULL,
                period_start TEXT NOT NULL,
                kind TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (user_id, period_start, kind)
            );
            """),

        // Billing (docs/billing.md): the Stripe prices and meter of a plan; the billing customer and subscription state of
        // a user; the provider events already processed (by event id, so a replay changes nothing); the overage outbox,
        // written in the usage batch's transaction and reported by the billing worker with the row id as idempotency key.
        // Times the worker compares are Unix seconds.
        (10, "billing: stripe prices, customers, events, overage outbox", """
            ALTER TABLE plans ADD COLUMN stripe_price_id TEXT NOT NULL DEFAULT '';
            ALTER TABLE plans ADD COLUMN stripe_overage_price_id TEXT NOT NULL DEFAULT '';
            ALTER TABLE plans ADD COLUMN stripe_meter_event TEXT NOT NULL DEFAULT '';

            CREATE TABLE billing_customers (
                user_id TEXT PRIMARY KEY,
                provider TEXT NOT NULL,
                customer_id TEXT NOT NULL UNIQUE,
                subscription_id TEXT NOT NULL DEFAULT '',
                subscription_status TEXT NOT NULL DEFAULT '',
                subscription_created BIGINT NOT NULL DEFAULT 0,
                last_event_created BIGINT NOT NULL DEFAULT 0,
                suspended_by_billing BOOLEAN NOT NULL DEFAULT FALSE,
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
            );
            CREATE INDEX billing_usage_outbox_pending ON billing_usage_outbox (sent_at, next_attempt_at);
            """),
        (11, "route cors, route auth scheme, external identities", """
            CREATE TABLE route_cors (
                id TEXT PRIMARY KEY REFERENCES routes (id) ON DELETE CASCADE,
                origins TEXT NOT NULL,
                methods TEXT NOT NULL DEFAULT '',
                headers TEXT NOT NULL DEFAULT '',
                expose_headers TEXT NOT NULL DEFAULT '',
                credentials BOOLEAN NOT NULL DEFAULT FALSE,
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
            CREATE INDEX user_identities_user ON user_identities (user_id);
            """),
        (12, "console and portal sessions, the forms' protection key, attempt counts, admin audit", """
            CREATE TABLE web_sessions (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                binding TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                last_seen_at TEXT NOT NULL
            );
            CREATE INDEX web_sessions_idle ON web_sessions (kind, last_seen_at);
            CREATE INDEX web_sessions_subject ON web_sessions (kind, subject_id);

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
            CREATE INDEX attempt_counts_window ON attempt_counts (window_start);

            CREATE TABLE admin_audit (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TEXT NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                status INTEGER NOT NULL,
                token_id TEXT NOT NULL,
                token_name TEXT NOT NULL,
                client_ip TEXT NOT NULL,
                note TEXT NOT NULL
            );
            CREATE INDEX admin_audit_at ON admin_audit (at);
            """),
        (13, "overage rows held past the provider's de-duplication window", """
            ALTER TABLE billing_usage_outbox ADD COLUMN first_attempt_at BIGINT NOT NULL DEFAULT 0;
            ALTER TABLE billing_usage_outbox ADD COLUMN held_at BIGINT NOT NULL DEFAULT 0;
            """),
        // Migrations 11 and 12 were extended after builds that applied their first form had shipped: such a store
        // records both as applied but lacks the tables and indexes added to them later (route_auth, user_identities;
        // attempt_counts, admin_audit, an index on web_sessions), and every start failed on the missing table. This
        // creates whatever of those is missing and leaves stores that have them as they are.
        (14, "tables missing from early builds of migrations 11 and 12", """
            CREATE TABLE IF NOT EXISTS route_auth (
                id TEXT PRIMARY KEY REFERENCES routes (id) ON DELETE CASCADE,
                scheme TEXT NOT NULL
            );

            CREATE TABLE IF NOT EXISTS user_identities (
                issuer TEXT NOT NULL,
                subject TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                created_at TEXT NOT NULL,
                PRIMARY KEY (issuer, subject)
            );
            CREATE INDEX IF NOT EXISTS user_identities_user ON user_identities (user_id);

            CREATE INDEX IF NOT EXISTS web_sessions_subject ON web_sessions (kind, subject_id);

            CREATE TABLE IF NOT EXISTS attempt_counts (
                name TEXT PRIMARY KEY,
                window_start TEXT NOT NULL,
                attempts INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS attempt_counts_window ON attempt_counts (window_start);

            CREATE TABLE IF NOT EXISTS admin_audit (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TEXT NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                status INTEGER NOT NULL,
                token_id TEXT NOT NULL,
                token_name TEXT NOT NULL,
                client_ip TEXT NOT NULL,
                note TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS admin_audit_at ON admin_audit (at);
            """),
        // Who a credential belongs to is cached by the gateways for as long as this number stays put; the database moves
        // it on every change to keys, users and their identity links, whatever writes them (an older build still
        // running during a rolling upgrade too), so route, upstream and plan changes no longer empty that cache. A key's
        // last-used time is not such a change. Safe to apply again.
        (15, "identity version moved by triggers on keys, users and identity links", """
            CREATE TABLE IF NOT EXISTS identity_version (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version BIGINT NOT NULL
            );
            INSERT INTO identity_version (id, version) VALUES (1, 1) ON CONFLICT (id) DO NOTHING;

            CREATE OR REPLACE FUNCTION apigate_identity_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                UPDATE identity_version SET version = version + 1 WHERE id = 1;
                RETURN NULL;
            END
            $$;

            DROP TRIGGER IF EXISTS api_keys_identity ON api_keys;
            CREATE TRIGGER api_keys_identity AFTER INSERT OR DELETE OR UPDATE OF user_id, prefix, hash, expires_at, revoked_at ON api_keys
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            DROP TRIGGER IF EXISTS users_identity ON users;
            CREATE TRIGGER users_identity AFTER INSERT OR DELETE OR UPDATE ON users
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            DROP TRIGGER IF EXISTS user_identities_identity ON user_identities;
            CREATE TRIGGER user_identities_identity AFTER INSERT OR DELETE OR UPDATE ON user_identities
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            """),
        // The console and the admin API list keys newest first a page at a time; without this index every page sorted
        // every key of the store (hundreds of milliseconds at 200,000 keys).
        (16, "keys listed newest first through an index", """
            CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at DESC, id);
            """),
        // Settings an operator keeps in the store (`apigate config set`), read by every process at its start beneath the
        // config file, the environment and the flags.
        (17, "stored settings", """
            CREATE TABLE IF NOT EXISTS stored_settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            """),
        // A long backlog for one endpoint (a receiver down while many events were recorded): a delivery is claimed by
        // seeking each endpoint's oldest pending one and any of its pending ones still leased, and `webhooks deliveries`
        // reads the endpoint's newest ones; without these indexes every claim went through all of the endpoint's pending
        // deliveries, and every listing sorted all of its deliveries (SQLite).
        (18, "webhook deliveries: indexes for claiming and listing a long backlog", """
            CREATE INDEX IF NOT EXISTS webhook_deliveries_leased ON webhook_deliveries (endpoint_id, status, lease_until);
            CREATE INDEX IF NOT EXISTS webhook_deliveries_listed ON webhook_deliveries (endpoint_id, id);
            """),
        // Webhook history past webhook.retention is pruned: an event is deleted once no delivery refers to it, which this
        // index answers per event instead of a search of every delivery.
        (19, "webhook deliveries: index by event, for pruning old history", """
            CREATE INDEX IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (event_id);
            """),
        // SQLite's migration 20 converts raw usage times that a first build of its migration 7 left as text. PostgreSQL's
        // migration 7 converted them from its first build on, so there is nothing to do; the number keeps both engines'
        // schema versions in step.
        (20, "usage events: times the first build of migration 7 kept as text", """
            SELECT 1;
            """),
        // A token the database draws anew on every change to the tables a config snapshot is built from, whatever writes
        // them (a CLI, another instance, an older build, a hand edit): a gateway whose config version moved while the
        // token stayed (a key, a user changed) keeps its compiled routes instead of reading and compiling them all again.
        (21, "config content token moved by triggers on the tables snapshots are built from", """
            CREATE TABLE IF NOT EXISTS config_content (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                token BIGINT NOT NULL
            );
            INSERT INTO config_content (id, token) VALUES (1, floor(random() * 9007199254740991)::bigint) ON CONFLICT (id) DO NOTHING;

            CREATE OR REPLACE FUNCTION apigate_config_content_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                UPDATE config_content SET token = floor(random() * 9007199254740991)::bigint WHERE id = 1;
                RETURN NULL;
            END
            $$;

            """ + Sql.ConfigContentTriggers.Postgres()),
        // TRUNCATE fires no INSERT, UPDATE or DELETE trigger: a config table emptied by hand left the token, and with it
        // every gateway's routes and every route list, as they were. The triggers are made again with TRUNCATE among
        // their events (a store migrated to 21 before they had it).
        (22, "config content token moved by TRUNCATE too (PostgreSQL; SQLite triggers re-checked)", Sql.ConfigContentTriggers.Postgres()),
        // Quota units a gateway counted on its own while Redis was unavailable to it and could not add there before it
        // stopped, per Redis data set, user and quota period: the next instance that reaches that data set adds them.
        (23, "quota units handed over to the next instance that reaches Redis", """
            CREATE TABLE IF NOT EXISTS redis_handover (
                data_set TEXT NOT NULL,
                user_id TEXT NOT NULL,
                period_start TEXT NOT NULL,
                units BIGINT NOT NULL,
                PRIMARY KEY (data_set, user_id, period_start)
            );
            """),
        // Gateways cache with each key whether its user pays (a subscription active or trialing), so a subscription that
        // starts, ends or changes moves the identity version; until now only this build's webhook handling moved it, and
        // an older build writing billing customers during a rolling upgrade (or a hand edit) left keys cached with the
        // old answer. A customer's other columns (the last event seen, the suspension mark) are not such a change; a
        // TRUNCATE is (it fires no DELETE trigger). Row triggers, not statement ones: an INSERT … ON CONFLICT DO UPDATE
        // fires the statement's INSERT trigger even when it only updated a row, so every webhook's upsert would have
        // moved the version. Safe to apply again.
        (24, "identity version moved by a trigger on billing customers' subscriptions", """
            DROP TRIGGER IF EXISTS billing_customers_identity ON billing_customers;
            CREATE TRIGGER billing_customers_identity AFTER INSERT OR DELETE ON billing_customers
                FOR EACH ROW EXECUTE FUNCTION apigate_identity_changed();
            DROP TRIGGER IF EXISTS billing_customers_identity_truncate ON billing_customers;
            CREATE TRIGGER billing_customers_identity_truncate AFTER TRUNCATE ON billing_customers
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            DROP TRIGGER IF EXISTS billing_customers_identity_update ON billing_customers;
            CREATE TRIGGER billing_customers_identity_update AFTER UPDATE OF subscription_id, subscription_status ON billing_customers
                FOR EACH ROW WHEN (OLD.subscription_id IS DISTINCT FROM NEW.subscription_id OR OLD.subscription_status IS DISTINCT FROM NEW.subscription_status)
                EXECUTE FUNCTION apigate_identity_changed();
            """),
        // A TRUNCATE fires no INSERT, UPDATE or DELETE trigger, so emptying the keys (say, to stop every key at once in an
        // emergency), the users or the identity links by hand left every gateway's cached keys and subjects working until
        // some other change moved the identity version. Safe to apply again.
        (25, "identity version moved by TRUNCATE of keys, users and identity links too (PostgreSQL; SQLite triggers re-checked)", """
            DROP TRIGGER IF EXISTS api_keys_identity_truncate ON api_keys;
            CREATE TRIGGER api_keys_identity_truncate AFTER TRUNCATE ON api_keys
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            DROP TRIGGER IF EXISTS users_identity_truncate ON users;
            CREATE TRIGGER users_identity_truncate AFTER TRUNCATE ON users
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            DROP TRIGGER IF EXISTS user_identities_identity_truncate ON user_identities;
            CREATE TRIGGER user_identities_identity_truncate AFTER TRUNCATE ON user_identities
                FOR EACH STATEMENT EXECUTE FUNCTION apigate_identity_changed();
            """),
        // The mailbox each address names (Emails.Key), so that an account stored before the spelling rules under another
        // spelling of it (a punycode domain, an ideographic full stop, fullwidth letters) is found, by one indexed look-up,
        // from the spelling its owner types now. Filled for the rows there are as this migration runs (SqlGatewayStore.
        // FillEmailKeysAsync: the key needs IDNA and NFKC, which SQL has not). Not unique: two accounts stored under two
        // spellings of one mailbox before the rules both stay, and are reported (docs/portal.md).
        (26, "users: the mailbox each address names, indexed", """
            ALTER TABLE users ADD COLUMN IF NOT EXISTS email_key TEXT NOT NULL DEFAULT '';
            CREATE INDEX IF NOT EXISTS users_email_key ON users (email_key);
            """),
    ];
}
