//! The SQLite schema, as migrations applied in order on open.
//!
//! A small runner of our own instead of `sqlx::migrate!`: that macro needs
//! sqlx's `macros` feature (a proc-macro build we do not otherwise need), and
//! a list of SQL strings with a `schema_version` table is all we use of it.
//!
//! The SQL is portable except where marked `SQLite:`; a PostgreSQL backend
//! can copy these statements with those lines changed. Never edit a released
//! migration: append a new one.

use super::StateError;
use sqlx::SqlitePool;
use vigil_core::Timestamp;

/// Migration `i` brings the schema from version `i` to `i + 1`.
///
/// Timestamps are BIGINT microseconds since the epoch (`Timestamp`); roles
/// are their kebab-case names.
const MIGRATIONS: &[&str] = &[
    r#"
-- SQLite: INTEGER PRIMARY KEY AUTOINCREMENT (a rowid that is never reused,
-- so a revoked token's id never comes back); PostgreSQL:
-- BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY.
CREATE TABLE tenants (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    retention_days BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN
                  ('msp-admin', 'noc-operator', 'soc-analyst', 'client-viewer')),
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_tenants (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX user_tenants_tenant ON user_tenants (tenant_id);

-- token_hash is the lowercase hex SHA-256 of the token; the token itself is
-- never stored. A token is bound to a tenant or to a user (whose role and
-- tenants apply), or to neither for an MSP admin.
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('msp-admin', 'noc-operator',
               'soc-analyst', 'client-viewer', 'ingest', 'read', 'admin')),
    tenant_id  BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    label      TEXT,
    created_at BIGINT NOT NULL,
    CHECK (tenant_id IS NULL OR user_id IS NULL)
);
CREATE INDEX tokens_tenant ON tokens (tenant_id);
CREATE INDEX tokens_user ON tokens (user_id);
"#,
    r#"
-- Tokens can expire (login sessions do): NULL lasts until revoked. The
-- index serves the periodic purge of expired tokens.
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
CREATE INDEX tokens_expires ON tokens (expires_at);
"#,
    r#"
-- Alerts: one row per open problem. A repeated hit of the same rule on the
-- same entities (dedup_key) counts into the open alert instead of adding a
-- row, so a storm of evidence is one alert with a count. An alert whose
-- condition cleared is resolved (by itself, with the reason); one a person
-- ended is closed; either way the next hit opens a new alert. A suppressed
-- alert holds but pages nobody (its parent is down, a maintenance window):
-- it is shown, with the reason, and opens if it still holds later.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    team          TEXT NOT NULL CHECK (team IN ('soc', 'noc')),
    rule_id       TEXT NOT NULL,
    rule_title    TEXT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN
                  ('info', 'low', 'medium', 'high', 'critical')),
    tags          TEXT NOT NULL,
    host          TEXT,
    user_name     TEXT,
    source_ip     TEXT,
    resource      TEXT,
    dedup_key     TEXT NOT NULL,
    event_id      TEXT,
    last_event_id TEXT,
    description   TEXT NOT NULL,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                  ('open', 'acknowledged', 'suppressed', 'resolved', 'closed')),
    -- Why a resolved alert resolved ("cleared: 72% < 80%").
    resolution    TEXT,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX alerts_open ON alerts (tenant_id, rule_id, dedup_key)
    WHERE status IN ('open', 'acknowledged', 'suppressed');
CREATE INDEX alerts_tenant_seen ON alerts (tenant_id, last_seen);
-- The queue's filters: by entity and by rule.
CREATE INDEX alerts_tenant_host ON alerts (tenant_id, host, last_seen);
CREATE INDEX alerts_tenant_user ON alerts (tenant_id, user_name, last_seen);
CREATE INDEX alerts_tenant_source ON alerts (tenant_id, source_ip, last_seen);
CREATE INDEX alerts_tenant_rule ON alerts (tenant_id, rule_id, last_seen);

-- Sigma rules uploaded through the API, each owned by one tenant.
CREATE TABLE rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    yaml       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, rule_id)
);

-- Rules a tenant switched off (any rule: from the folders or uploaded).
CREATE TABLE disabled_rules (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    rule_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);

-- Where each user logged in from: the memory of the "login from a new
-- source" detection.
CREATE TABLE login_sources (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_name  TEXT NOT NULL,
    source     TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_name, source)
);
-- "When was this user first seen": one index step, however many sources.
CREATE INDEX login_sources_first ON login_sources (tenant_id, user_name, first_seen);
"#,
    r#"
-- The NOC's inventory. An asset's parent is the device in front of it
-- (same tenant); deleting a parent leaves its children without one.
CREATE TABLE assets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    address     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    tags        TEXT NOT NULL,
    criticality TEXT NOT NULL CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
    parent_id   BIGINT REFERENCES assets (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX assets_parent ON assets (parent_id);

-- Checks: the columns every kind has, and the whole specification as JSON.
CREATE TABLE checks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    asset_id    BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    interval_ms BIGINT NOT NULL,
    spec        TEXT NOT NULL,
    enabled     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX checks_tenant ON checks (tenant_id);
CREATE INDEX checks_asset ON checks (asset_id);
"#,
    r#"
-- How a tenant tunes its NOC: maintenance windows and alert rules, each a
-- JSON document the NOC engine reads, named by its id within the tenant.
CREATE TABLE noc_definitions (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('window', 'rule')),
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, name)
);
"#,
    r#"
-- People: a user name is unique whatever its case or Unicode form.
-- name_key is vigil_core::names::key(name), filled in by the server on
-- open (SQL cannot compute NFKC); a legacy name that collides with
-- another's key, or that the rules refuse, keeps NULL (both rows are
-- kept, a warning is logged) and is found by its exact name only.
ALTER TABLE users ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX users_name_key ON users (name_key);
-- A disabled user cannot log in; their tokens were deleted on disabling.
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
-- Login sessions are tokens bound to a user with session = 1; they may
-- end when unused for idle_micros, counted from last_used_at (written at
-- most once a minute) or else created_at. source is the login's address.
ALTER TABLE tokens ADD COLUMN session BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN idle_micros BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
ALTER TABLE tokens ADD COLUMN source TEXT;
"#,
    r#"
-- The audit log: every change made through the API or the CLI. No
-- foreign key on tenant_id: an entry outlives its tenant. Append-only: the
-- triggers refuse to change or remove an entry (PostgreSQL: the same with
-- a trigger function, and no UPDATE/DELETE grant to the server's role).
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    token_id  BIGINT,
    role      TEXT,
    tenant_id BIGINT,
    source    TEXT,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    status    BIGINT,
    detail    TEXT
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_at ON audit_log (at);
-- SQLite: RAISE in a BEFORE trigger.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
"#,
    r#"
-- Alerts that end, keep their evidence, and list by detection time.
-- previous_id: the alert of the same rule and entities before this one (a
-- hit after the open alert's window opens a new alert linked to it).
-- detected_at / last_detected_at: wall-clock time of the first and latest
-- hit (first_seen / last_seen are event times: a replay of 2019 logs is
-- detected today). evidence_first / evidence_latest: JSON arrays of event
-- ids, the first ones and a ring of the latest (bounds in detection.rs),
-- evidence_count how many in all. Rows from before this version take their
-- event times as detection times and their two event ids as evidence.
ALTER TABLE alerts ADD COLUMN previous_id BIGINT REFERENCES alerts (id) ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN detected_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN last_detected_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN evidence_first TEXT NOT NULL DEFAULT '[]';
ALTER TABLE alerts ADD COLUMN evidence_latest TEXT NOT NULL DEFAULT '[]';
ALTER TABLE alerts ADD COLUMN evidence_count BIGINT NOT NULL DEFAULT 0;
-- user_key: vigil_core::identity::user_identity(user_name), written by the
-- server (SQL has no NFKC nor domain split; older rows get lower()), so the
-- `user` filter finds WORKSTATION5\wardog under wardog.
ALTER TABLE alerts ADD COLUMN user_key TEXT;
-- SQLite: json_array (PostgreSQL: jsonb_build_array(...)::text).
UPDATE alerts SET detected_at = first_seen, last_detected_at = last_seen,
    user_key = lower(user_name),
    evidence_first = CASE
        WHEN event_id IS NULL THEN '[]'
        WHEN last_event_id IS NULL OR last_event_id = event_id THEN json_array(event_id)
        ELSE json_array(event_id, last_event_id) END,
    evidence_count = CASE
        WHEN event_id IS NULL THEN 0
        WHEN last_event_id IS NULL OR last_event_id = event_id THEN 1
        ELSE 2 END;
-- The list: newest detection first, per tenant and across tenants.
CREATE INDEX alerts_tenant_detected ON alerts (tenant_id, detected_at, id);
CREATE INDEX alerts_detected ON alerts (detected_at, id);
-- An ended alert of a key whose span holds a late hit.
CREATE INDEX alerts_key ON alerts (tenant_id, rule_id, dedup_key, last_seen);
CREATE INDEX alerts_tenant_user_key ON alerts (tenant_id, user_key);

-- A tenant's alert window (how long an open alert absorbs hits after its
-- last one), when it set one; microseconds.
CREATE TABLE alert_settings (
    tenant_id     BIGINT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    window_micros BIGINT NOT NULL
);
"#,
];

/// Applies the migrations the database has not seen yet, in one transaction.
pub(super) async fn migrate(pool: &SqlitePool) -> Result<(), StateError> {
    // SQLite: BEGIN IMMEDIATE takes the write lock up front, so two processes
    // opening a new file migrate one after the other instead of failing on a
    // lock upgrade (PostgreSQL: pg_advisory_xact_lock in the transaction).
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
    let known = MIGRATIONS.len();
    let Some(pending) = usize::try_from(current)
        .ok()
        .and_then(|c| MIGRATIONS.get(c..))
    else {
        return Err(StateError::Backend(format!(
            "state database has schema version {current}, newer than the {known} this vigil knows; upgrade vigil"
        )));
    };
    let now = Timestamp::now().micros();
    for (i, sql) in pending.iter().enumerate() {
        let version = current + 1 + i as i64;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StateError::Backend(format!("state migration {version} failed: {e}")))?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    tx.commit().await.map_err(failed)
}

fn failed(e: sqlx::Error) -> StateError {
    StateError::Backend(format!("state schema migration failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{token, Role, SqliteState, StateStore, TenantScope};
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::path::Path;
    use vigil_core::TenantId;

    async fn pool(path: &Path) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open sqlite file")
    }

    async fn version(path: &Path) -> i64 {
        let pool = pool(path).await;
        let v = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
            .fetch_one(&pool)
            .await
            .expect("read schema_version");
        pool.close().await;
        v
    }

    #[tokio::test]
    async fn a_new_database_gets_the_latest_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.db");
        SqliteState::open(&path).await.expect("open").close().await;
        assert_eq!(version(&path).await, 8);
        assert_eq!(MIGRATIONS.len(), 8);
    }

    /// A file written by a vigil that knew only version 1 (its tables made
    /// by hand from the released first migration) opens, upgrades, and
    /// keeps its tokens, which then last until revoked.
    #[tokio::test]
    async fn a_version_1_database_upgrades_and_keeps_its_tokens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.db");
        let secret = token::generate();
        {
            let v1 = pool(&path).await;
            sqlx::raw_sql(
                "CREATE TABLE schema_version (
                     version    BIGINT PRIMARY KEY,
                     applied_at BIGINT NOT NULL
                 )",
            )
            .execute(&v1)
            .await
            .expect("schema_version");
            sqlx::raw_sql(MIGRATIONS[0])
                .execute(&v1)
                .await
                .expect("v1 schema");
            sqlx::raw_sql(&format!(
                "INSERT INTO schema_version (version, applied_at) VALUES (1, 0);
                 INSERT INTO tenants (name, retention_days, created_at) VALUES ('acme', 30, 1);
                 INSERT INTO tokens (token_hash, role, tenant_id, user_id, label, created_at)
                 VALUES ('{}', 'read', 1, NULL, 'old', 2);",
                token::hash(&secret)
            ))
            .execute(&v1)
            .await
            .expect("v1 rows");
            v1.close().await;
        }
        assert_eq!(version(&path).await, 1);

        let store = SqliteState::open(&path).await.expect("upgrade");
        let listed = store.list_tokens(None).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].label.as_deref(), listed[0].expires_at),
            (Some("old"), None)
        );
        let p = store
            .authenticate(&secret)
            .await
            .expect("authenticate")
            .expect("a version 1 token still authenticates");
        assert_eq!(
            (p.role, p.scope),
            (Role::Read, TenantScope::Only(vec![TenantId(1)]))
        );
        assert_eq!(
            store
                .purge_expired_tokens(Timestamp(i64::MAX))
                .await
                .expect("purge"),
            0,
            "a token without expiry is never purged"
        );
        store.close().await;
        assert_eq!(version(&path).await, 8);
        SqliteState::open(&path)
            .await
            .expect("reopen at the latest version")
            .close()
            .await;
        assert_eq!(version(&path).await, 8);
    }

    /// Two users of a version 5 database whose names differ only in case
    /// both survive the upgrade: the first keeps the name (and gets the
    /// key), the other is found by its exact spelling only.
    #[tokio::test]
    async fn colliding_legacy_names_keep_both_users() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.db");
        let phc = crate::state::password::hash("correct horse battery staple")
            .await
            .expect("hash");
        {
            let v5 = pool(&path).await;
            sqlx::raw_sql(
                "CREATE TABLE schema_version (
                     version    BIGINT PRIMARY KEY,
                     applied_at BIGINT NOT NULL
                 )",
            )
            .execute(&v5)
            .await
            .expect("schema_version");
            for (i, sql) in MIGRATIONS[..5].iter().enumerate() {
                sqlx::raw_sql(sql).execute(&v5).await.expect("old schema");
                sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)")
                    .bind(i as i64 + 1)
                    .execute(&v5)
                    .await
                    .expect("version");
            }
            for name in ["noc_a", "NOC_A", "odd\u{200B}name"] {
                sqlx::query(
                    "INSERT INTO users (name, password_hash, role, created_at)
                     VALUES ($1, $2, 'msp-admin', 1)",
                )
                .bind(name)
                .bind(&phc)
                .execute(&v5)
                .await
                .expect("old user");
            }
            v5.close().await;
        }
        let store = SqliteState::open(&path).await.expect("upgrade");
        let names: Vec<String> = store
            .list_users()
            .await
            .expect("list")
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(
            names,
            vec!["NOC_A", "noc_a", "odd\u{200B}name"],
            "no row lost"
        );
        let pw = "correct horse battery staple";
        let first = store.verify_password("noc_a", pw).await.expect("verify");
        let second = store.verify_password("NOC_A", pw).await.expect("verify");
        let odd = store
            .verify_password("odd\u{200B}name", pw)
            .await
            .expect("verify");
        assert_eq!(first.map(|u| u.id), Some(1));
        assert_eq!(
            second.map(|u| u.id),
            Some(2),
            "exact spelling finds the other"
        );
        assert_eq!(odd.map(|u| u.id), Some(3));
        assert_eq!(
            store
                .user_by_name("Noc_A")
                .await
                .expect("by name")
                .map(|u| u.id),
            Some(1),
            "any other spelling finds the one with the key"
        );
        store.close().await;
    }

    /// An alert of a version 7 database upgrades: its event times stand in
    /// for detection times, its two event ids become its evidence, and a
    /// new hit still counts into it.
    #[tokio::test]
    async fn a_version_7_alert_upgrades_with_its_evidence() {
        use crate::state::{AlertFilter, DetectionStore, Entities, NewAlert, Severity, Team};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.db");
        {
            let v7 = pool(&path).await;
            sqlx::raw_sql(
                "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .execute(&v7)
            .await
            .expect("schema_version");
            for (i, sql) in MIGRATIONS[..7].iter().enumerate() {
                sqlx::raw_sql(sql).execute(&v7).await.expect("old schema");
                sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)")
                    .bind(i as i64 + 1)
                    .execute(&v7)
                    .await
                    .expect("version");
            }
            sqlx::raw_sql(
                "INSERT INTO tenants (name, retention_days, created_at) VALUES ('acme', 30, 1);
                 INSERT INTO alerts (tenant_id, team, rule_id, rule_title, severity, tags, host,
                     user_name, source_ip, dedup_key, event_id, last_event_id, description,
                     first_seen, last_seen, count, status, updated_at)
                 VALUES (1, 'soc', 'r1', 'R1', 'high', '[]', 'h', 'Root', NULL, 'h|root|',
                     'e1', 'e2', 'd', 100, 200, 2, 'open', 200);",
            )
            .execute(&v7)
            .await
            .expect("v7 rows");
            v7.close().await;
        }
        let store = SqliteState::open(&path).await.expect("upgrade");
        let filter = AlertFilter {
            limit: 10,
            user: Some("ROOT".into()),
            ..AlertFilter::default()
        };
        let page = store
            .list_alerts(&[TenantId(1)], &filter)
            .await
            .expect("list");
        assert_eq!(page.total, 1, "found by its user key");
        let old = &page.alerts[0];
        assert_eq!(
            (old.detected_at, old.last_detected_at),
            (Timestamp(100), Timestamp(200))
        );
        assert_eq!(old.evidence.first, ["e1", "e2"]);
        assert_eq!(old.evidence.count, 2);
        let hit = NewAlert {
            tenant: TenantId(1),
            team: Team::Soc,
            rule_id: "r1".into(),
            rule_title: "R1".into(),
            severity: Severity::High,
            tags: Vec::new(),
            entities: Entities {
                host: Some("h".into()),
                user: Some("root".into()),
                ..Entities::default()
            },
            event_id: Some("e3".into()),
            evidence: Vec::new(),
            window: None,
            description: "d".into(),
            time: Timestamp(300),
        };
        let (after, opened) = store.record_alerts(&[hit]).await.expect("record")[0].clone();
        assert!(!opened, "counts into the upgraded alert");
        assert_eq!(
            (after.id, after.count, after.evidence.count),
            (old.id, 3, 3)
        );
        store.close().await;
        assert_eq!(version(&path).await, 8);
    }

    /// No statement can change or remove an audit entry, whatever a
    /// backend's code does.
    #[tokio::test]
    async fn the_audit_log_refuses_update_and_delete() {
        use crate::state::{AuditStore, NewAuditEntry};
        let store = SqliteState::in_memory().await.expect("memory");
        let entry = store
            .append(NewAuditEntry::cli("admin set-password admin", None))
            .await
            .expect("append");
        for sql in [
            "UPDATE audit_log SET actor = 'someone else'",
            "DELETE FROM audit_log",
            "DELETE FROM audit_log WHERE id = 1",
        ] {
            let err = sqlx::query(sql).execute(&store.pool).await.expect_err(sql);
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'cli'")
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!((kept, entry.id), (1, 1));
    }
}
