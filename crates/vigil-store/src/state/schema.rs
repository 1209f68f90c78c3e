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
const MIGRATIONS: &[&str] = &[r#"
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
"#];

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
