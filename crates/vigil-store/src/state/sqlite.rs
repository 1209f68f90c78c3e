//! The embedded [`StateStore`]: one SQLite file in the data directory.
//!
//! Queries use `$n` parameters and standard SQL (`RETURNING`, `COALESCE`,
//! `LEFT JOIN`), so the PostgreSQL backend can reuse their text; the schema's
//! SQLite-only parts are marked in `schema.rs`.

use super::{
    password, schema, token, validate, NewSession, NewToken, Principal, Role, SessionInfo,
    StateError, StateStore, Tenant, TenantScope, TokenInfo, User,
};
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow,
};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;
use vigil_core::{TenantId, TenantName, Timestamp};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a file database: WAL lets readers run beside the writer.
const FILE_CONNECTIONS: u32 = 4;

const TENANT_COLUMNS: &str = "id, name, retention_days, created_at";

/// State in SQLite. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqliteState {
    pub(super) pool: SqlitePool,
    /// Seals the secrets of checks at rest; none: they are stored as given
    /// (tests in memory).
    pub(super) sealer: Option<std::sync::Arc<crate::secrets::Sealer>>,
}

impl SqliteState {
    /// Opens (creating it if needed) the database at `path` and brings its
    /// schema up to date. WAL journal, foreign keys on, a busy timeout so
    /// that concurrent writers wait instead of failing.
    pub async fn open(path: &Path) -> Result<Self, StateError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            // A secret sealed over an old plaintext leaves no copy in a
            // free page.
            .pragma("secure_delete", "ON")
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| {
                StateError::Backend(format!(
                    "opening state database {} failed: {e}",
                    path.display()
                ))
            })?;
        Self::start(pool).await
    }

    /// A private database in memory, for tests. Each SQLite connection to
    /// `:memory:` would get its own empty database, so the pool holds exactly
    /// one connection and never lets it expire.
    pub async fn in_memory() -> Result<Self, StateError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| StateError::Backend(format!("opening in-memory state failed: {e}")))?;
        Self::start(pool).await
    }

    /// Closes every connection, checkpointing the WAL into the main file.
    /// Later calls on this store (or its clones) fail with `Backend`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn start(pool: SqlitePool) -> Result<Self, StateError> {
        schema::migrate(&pool).await?;
        password::warm_up().await?;
        let state = SqliteState { pool, sealer: None };
        state.fill_name_keys().await?;
        Ok(state)
    }

    /// Seals the secrets of checks with `sealer` from now on (and opens
    /// them when read).
    pub fn with_sealer(mut self, sealer: crate::secrets::Sealer) -> Self {
        self.sealer = Some(std::sync::Arc::new(sealer));
        self
    }

    /// A transaction that writes. SQLite: `BEGIN IMMEDIATE` takes the write
    /// lock up front, so the busy timeout applies; a deferred transaction
    /// that reads first and then writes fails at once ("database is
    /// locked") when another connection wrote in between.
    pub(super) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StateError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }

    async fn user_tenants(&self, user_id: i64) -> Result<Vec<TenantId>, StateError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT tenant_id FROM user_tenants WHERE user_id = $1 ORDER BY tenant_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(ids.into_iter().map(TenantId).collect())
    }

    /// Links a user (with no links yet) to `tenants`, relying on the foreign
    /// key rather than a read first, so that a write transaction never has
    /// to upgrade a read lock. `NotFound` names the first unknown tenant.
    async fn insert_user_tenants(
        conn: &mut SqliteConnection,
        user_id: i64,
        tenants: &[TenantId],
    ) -> Result<(), StateError> {
        for &tenant in tenants {
            sqlx::query("INSERT INTO user_tenants (user_id, tenant_id) VALUES ($1, $2)")
                .bind(user_id)
                .bind(tenant.0)
                .execute(&mut *conn)
                .await
                .map_err(tenant_must_exist(tenant))?;
        }
        Ok(())
    }

    /// The current role and name of a user, `None` if there is no such user.
    async fn user_role_and_name(&self, id: i64) -> Result<Option<(Role, String)>, StateError> {
        let row = sqlx::query("SELECT role, name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| Ok((role_of(&r, "role")?, get(&r, "name")?)))
            .transpose()
    }

    pub(super) async fn user_from_row(&self, row: &SqliteRow) -> Result<User, StateError> {
        let id: i64 = get(row, "id")?;
        Ok(User {
            id,
            name: get(row, "name")?,
            role: role_of(row, "role")?,
            tenants: self.user_tenants(id).await?,
            created_at: Timestamp(get(row, "created_at")?),
            disabled: get::<i64>(row, "disabled")? != 0,
        })
    }
}

#[async_trait::async_trait]
impl StateStore for SqliteState {
    async fn create_tenant(
        &self,
        name: &TenantName,
        retention_days: u32,
    ) -> Result<Tenant, StateError> {
        validate::retention(retention_days)?;
        let created_at = Timestamp::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tenants (name, retention_days, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name.as_str())
        .bind(i64::from(retention_days))
        .bind(created_at.micros())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match kind(&e) {
            Some(ErrorKind::UniqueViolation) => {
                StateError::Conflict(format!("tenant {:?} already exists", name.as_str()))
            }
            _ => db(e),
        })?;
        Ok(Tenant {
            id: TenantId(id),
            name: name.clone(),
            retention_days,
            created_at,
        })
    }

    async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StateError> {
        sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|r| tenant_from_row(&r))
        .transpose()
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StateError> {
        // Tenant names are lowercase ASCII; `ACME` and `ａｃｍｅ` name `acme`.
        let Some(key) = vigil_core::names::key(name) else {
            return Ok(None);
        };
        sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|r| tenant_from_row(&r))
        .transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StateError> {
        sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(tenant_from_row)
        .collect()
    }

    async fn set_retention(&self, id: TenantId, days: u32) -> Result<(), StateError> {
        validate::retention(days)?;
        let done = sqlx::query("UPDATE tenants SET retention_days = $1 WHERE id = $2")
            .bind(i64::from(days))
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(tenant_not_found(id));
        }
        Ok(())
    }

    async fn create_user(
        &self,
        name: &str,
        password: &str,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<User, StateError> {
        let name = validate::user_name(name)?;
        let key = vigil_core::names::key_of_normalized(&name);
        validate::password(password, &[&name])?;
        let tenants = validate::user_tenants(role, tenants)?;
        let phc = password::hash(password).await?;
        let created_at = Timestamp::now();
        // The first statement writes, so the transaction takes SQLite's write
        // lock at once (waiting up to the busy timeout) instead of failing
        // later on a read-to-write upgrade.
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (name, name_key, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&name)
        .bind(&key)
        .bind(&phc)
        .bind(role.as_str())
        .bind(created_at.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match kind(&e) {
            Some(ErrorKind::UniqueViolation) => StateError::Conflict(format!(
                "user {name:?} already exists (names are compared ignoring case and width)"
            )),
            _ => db(e),
        })?;
        Self::insert_user_tenants(&mut tx, id, &tenants).await?;
        tx.commit().await.map_err(db)?;
        Ok(User {
            id,
            name,
            role,
            tenants,
            created_at,
            disabled: false,
        })
    }

    async fn update_user(
        &self,
        id: i64,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<User, StateError> {
        let tenants = validate::user_tenants(role, tenants)?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE users SET role = $1 WHERE id = $2 RETURNING name, created_at, disabled",
        )
        .bind(role.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| user_not_found(id))?;
        // Keeps the stored role of the user's tokens truthful; `authenticate`
        // reads the user's role anyway.
        sqlx::query("UPDATE tokens SET role = $1 WHERE user_id = $2")
            .bind(role.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM user_tenants WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Self::insert_user_tenants(&mut tx, id, &tenants).await?;
        tx.commit().await.map_err(db)?;
        Ok(User {
            id,
            name: get(&row, "name")?,
            role,
            tenants,
            created_at: Timestamp(get(&row, "created_at")?),
            disabled: get::<i64>(&row, "disabled")? != 0,
        })
    }

    async fn list_users(&self) -> Result<Vec<User>, StateError> {
        let rows = sqlx::query(
            "SELECT u.id, u.name, u.role, u.created_at, u.disabled, ut.tenant_id
             FROM users u LEFT JOIN user_tenants ut ON ut.user_id = u.id
             ORDER BY u.name, ut.tenant_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut users: Vec<User> = Vec::new();
        for row in &rows {
            let id: i64 = get(row, "id")?;
            if users.last().is_none_or(|u| u.id != id) {
                users.push(User {
                    id,
                    name: get(row, "name")?,
                    role: role_of(row, "role")?,
                    tenants: Vec::new(),
                    created_at: Timestamp(get(row, "created_at")?),
                    disabled: get::<i64>(row, "disabled")? != 0,
                });
            }
            if let (Some(user), Some(tenant)) =
                (users.last_mut(), get::<Option<i64>>(row, "tenant_id")?)
            {
                user.tenants.push(TenantId(tenant));
            }
        }
        Ok(users)
    }

    async fn count_users(&self) -> Result<u64, StateError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        u64::try_from(n).map_err(|_| StateError::Backend(format!("negative user count {n}")))
    }

    async fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, StateError> {
        let row = self.user_row_by_name(name).await?;
        let phc = row.as_ref().map(|r| get(r, "password_hash")).transpose()?;
        if !password::verify(password, phc).await? {
            return Ok(None);
        }
        match row {
            Some(row) => {
                let user = self.user_from_row(&row).await?;
                Ok((!user.disabled).then_some(user))
            }
            None => Ok(None),
        }
    }

    async fn create_token(&self, new: NewToken) -> Result<(TokenInfo, String), StateError> {
        let user = match new.user_id {
            Some(id) => self.user_role_and_name(id).await?,
            None => None,
        };
        validate::new_token(&new, user.as_ref().map(|(role, _)| *role))?;
        let secret = token::generate();
        let created_at = Timestamp::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (token_hash, role, tenant_id, user_id, label, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(token::hash(&secret))
        .bind(new.role.as_str())
        .bind(new.tenant.map(|t| t.0))
        .bind(new.user_id)
        .bind(new.label.as_deref())
        .bind(created_at.micros())
        .bind(new.expires_at.map(Timestamp::micros))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match (kind(&e), new.tenant, new.user_id) {
            (Some(ErrorKind::ForeignKeyViolation), Some(t), _) => tenant_not_found(t),
            (Some(ErrorKind::ForeignKeyViolation), None, Some(u)) => user_not_found(u),
            _ => db(e),
        })?;
        let info = TokenInfo {
            id,
            role: new.role,
            tenant: new.tenant,
            user: user.map(|(_, name)| name),
            label: new.label,
            created_at,
            expires_at: new.expires_at,
        };
        Ok((info, secret))
    }

    async fn list_tokens(&self, tenant: Option<TenantId>) -> Result<Vec<TokenInfo>, StateError> {
        // Two texts rather than `$1 IS NULL OR t.tenant_id = $1`: a prepared
        // statement gets one plan for both cases, which cannot use the index.
        const SELECT: &str = "SELECT t.id, COALESCE(u.role, t.role) AS role, t.tenant_id,
                u.name AS user_name, t.label, t.created_at, t.expires_at
             FROM tokens t LEFT JOIN users u ON u.id = t.user_id";
        let rows = match tenant {
            Some(t) => {
                sqlx::query(&format!("{SELECT} WHERE t.tenant_id = $1 ORDER BY t.id"))
                    .bind(t.0)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!("{SELECT} ORDER BY t.id"))
                    .fetch_all(&self.pool)
                    .await
            }
        };
        rows.map_err(db)?.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, id: i64) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        found(&done, || format!("token {id} not found"))?;
        Ok(())
    }

    async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StateError> {
        if !token::is_well_formed(token) {
            return Ok(None);
        }
        // One query through the unique index on token_hash and the primary
        // keys of users and user_tenants: one row per tenant of a user-bound
        // token, one row otherwise, none once the token has expired.
        // A user's token stops with the user's disabling; a session also
        // when unused for its idle timeout.
        let now = Timestamp::now().micros();
        let rows = sqlx::query(
            "SELECT t.id, t.role, t.tenant_id, t.user_id, u.name AS user_name,
                    u.role AS user_role, ut.tenant_id AS user_tenant,
                    COALESCE(t.last_used_at, t.created_at) AS used_at
             FROM tokens t
             LEFT JOIN users u ON u.id = t.user_id
             LEFT JOIN user_tenants ut ON ut.user_id = t.user_id
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)
               AND (t.user_id IS NULL OR u.disabled = 0)
               AND (t.idle_micros IS NULL
                    OR COALESCE(t.last_used_at, t.created_at) + t.idle_micros > $2)
             ORDER BY ut.tenant_id",
        )
        .bind(token::hash(token))
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        if let Some(first) = rows.first() {
            if get::<Option<i64>>(first, "user_id")?.is_some() {
                self.touch(get(first, "id")?, get(first, "used_at")?, now);
            }
        }
        principal_from_rows(&rows)
    }

    async fn purge_expired_tokens(&self, now: Timestamp) -> Result<u64, StateError> {
        let done = sqlx::query(
            "DELETE FROM tokens WHERE expires_at <= $1
                OR (idle_micros IS NOT NULL
                    AND COALESCE(last_used_at, created_at) + idle_micros <= $1)",
        )
        .bind(now.micros())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn user(&self, id: i64) -> Result<Option<User>, StateError> {
        self.user_by_id(id).await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StateError> {
        match self.user_row_by_name(name).await? {
            Some(row) => Ok(Some(self.user_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn set_password(
        &self,
        id: i64,
        password: &str,
        keep: Option<i64>,
    ) -> Result<(), StateError> {
        self.change_password(id, password, keep).await
    }

    async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<User, StateError> {
        self.change_disabled(id, disabled).await
    }

    async fn delete_user(&self, id: i64) -> Result<(), StateError> {
        self.remove_user(id).await
    }

    async fn create_session(&self, new: NewSession) -> Result<(SessionInfo, String), StateError> {
        self.insert_session(new).await
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StateError> {
        self.select_sessions().await
    }

    async fn revoke_session(&self, id: i64) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id IS NOT NULL")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        found(&done, || format!("session {id} not found"))
    }
}

/// Builds the caller from the rows of `authenticate`'s query.
fn principal_from_rows(rows: &[SqliteRow]) -> Result<Option<Principal>, StateError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let token_id: i64 = get(first, "id")?;
    let user: Option<String> = get(first, "user_name")?;
    let (role, scope) = match (&user, get::<Option<i64>>(first, "tenant_id")?) {
        (Some(_), _) => {
            let role = role_of(first, "user_role")?;
            let tenants = rows
                .iter()
                .filter_map(|r| get::<Option<i64>>(r, "user_tenant").transpose())
                .map(|t| t.map(TenantId))
                .collect::<Result<Vec<_>, _>>()?;
            (role, scope_of(role, tenants))
        }
        (None, Some(tenant)) => (
            role_of(first, "role")?,
            TenantScope::Only(vec![TenantId(tenant)]),
        ),
        (None, None) => {
            let role = role_of(first, "role")?;
            if role != Role::MspAdmin || get::<Option<i64>>(first, "user_id")?.is_some() {
                // Cannot be created through the API; refuse rather than guess.
                tracing::warn!(token_id, %role, "token without tenant or user refused");
                return Ok(None);
            }
            (role, TenantScope::All)
        }
    };
    Ok(Some(Principal {
        token_id,
        role,
        scope,
        user,
    }))
}

/// A user's scope: an MSP admin sees every tenant, others their own.
fn scope_of(role: Role, tenants: Vec<TenantId>) -> TenantScope {
    match role {
        Role::MspAdmin => TenantScope::All,
        _ => TenantScope::Only(tenants),
    }
}

fn tenant_from_row(row: &SqliteRow) -> Result<Tenant, StateError> {
    let name: String = get(row, "name")?;
    let days: i64 = get(row, "retention_days")?;
    Ok(Tenant {
        id: TenantId(get(row, "id")?),
        name: TenantName::new(&name)
            .map_err(|e| StateError::Backend(format!("stored tenant name is invalid: {e}")))?,
        retention_days: u32::try_from(days).map_err(|_| {
            StateError::Backend(format!(
                "stored retention of tenant {name:?} is out of range: {days}"
            ))
        })?,
        created_at: Timestamp(get(row, "created_at")?),
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenInfo, StateError> {
    Ok(TokenInfo {
        id: get(row, "id")?,
        role: role_of(row, "role")?,
        tenant: get::<Option<i64>>(row, "tenant_id")?.map(TenantId),
        user: get(row, "user_name")?,
        label: get(row, "label")?,
        created_at: Timestamp(get(row, "created_at")?),
        expires_at: get::<Option<i64>>(row, "expires_at")?.map(Timestamp),
    })
}

pub(super) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StateError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column)
        .map_err(|e| StateError::Backend(format!("reading column {column}: {e}")))
}

pub(super) fn role_of(row: &SqliteRow, column: &str) -> Result<Role, StateError> {
    let name: String = get(row, column)?;
    name.parse()
        .map_err(|_| StateError::Backend(format!("stored role {name:?} is unknown")))
}

pub(super) fn kind(e: &sqlx::Error) -> Option<ErrorKind> {
    match e {
        sqlx::Error::Database(d) => Some(d.kind()),
        _ => None,
    }
}

/// `NotFound` (with the message) when a statement touched no row.
pub(super) fn found(
    done: &sqlx::sqlite::SqliteQueryResult,
    missing: impl FnOnce() -> String,
) -> Result<(), StateError> {
    match done.rows_affected() {
        0 => Err(StateError::NotFound(missing())),
        _ => Ok(()),
    }
}

pub(super) fn db(e: sqlx::Error) -> StateError {
    StateError::Backend(e.to_string())
}

fn tenant_not_found(id: TenantId) -> StateError {
    StateError::NotFound(format!("tenant {id} not found"))
}

/// The error of a statement on a row of `tenant`: the tenant's foreign key
/// failing is "tenant not found", anything else a database error.
pub(super) fn tenant_must_exist(tenant: TenantId) -> impl FnOnce(sqlx::Error) -> StateError {
    move |e| match kind(&e) {
        Some(ErrorKind::ForeignKeyViolation) => tenant_not_found(tenant),
        _ => db(e),
    }
}

pub(super) fn user_not_found(id: i64) -> StateError {
    StateError::NotFound(format!("user {id} not found"))
}
