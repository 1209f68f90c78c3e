//! The people half of [`SqliteState`]: finding users by their normalised
//! name, changing, disabling and deleting them, and their login sessions.

use super::sqlite::{db, found, get, kind, role_of, user_not_found};
use super::{
    password, token, validate, NewSession, Role, SessionInfo, SqliteState, StateError, User,
};
use sqlx::error::ErrorKind;
use sqlx::sqlite::SqliteRow;
use std::collections::HashMap;
use vigil_core::{names, TenantId, Timestamp};

/// How stale `last_used_at` may get before a request writes it again: a
/// write per request would make every API call a database write.
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

const USER_COLUMNS: &str = "id, name, role, password_hash, created_at, disabled";

impl SqliteState {
    /// Gives every user without one its `name_key`. A name that collides
    /// with another's key (two users of an older Vigil that differ only in
    /// case), or that the rules now refuse, keeps none: both rows stay, a
    /// warning names them, and such a user is found by the exact name only.
    pub(super) async fn fill_name_keys(&self) -> Result<(), StateError> {
        let rows = sqlx::query("SELECT id, name FROM users WHERE name_key IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        for row in &rows {
            let id: i64 = get(row, "id")?;
            let name: String = get(row, "name")?;
            let Some(key) = names::key(&name) else {
                tracing::warn!(user = ?name, id, "this user name breaks the name rules; it is found by its exact spelling only: rename the user");
                continue;
            };
            let set = sqlx::query("UPDATE users SET name_key = $1 WHERE id = $2")
                .bind(&key)
                .bind(id)
                .execute(&self.pool)
                .await;
            match set {
                Ok(_) => {}
                Err(e) if kind(&e) == Some(ErrorKind::UniqueViolation) => {
                    tracing::warn!(user = ?name, id, key = %key, "another user has the same name ignoring case; both are kept, this one is found by its exact spelling only: rename or delete one");
                }
                Err(e) => return Err(db(e)),
            }
        }
        Ok(())
    }

    /// The row of the user `name` names: by key, or a legacy row without a
    /// key by its exact name; the exact spelling wins when both match.
    pub(super) async fn user_row_by_name(
        &self,
        name: &str,
    ) -> Result<Option<SqliteRow>, StateError> {
        if name.len() > names::MAX_INPUT_BYTES {
            return Ok(None);
        }
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE name_key = $1 OR (name_key IS NULL AND name = $2)
             ORDER BY name = $2 DESC LIMIT 1"
        ))
        .bind(names::key(name))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    pub(super) async fn user_by_id(&self, id: i64) -> Result<Option<User>, StateError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(row) => Ok(Some(self.user_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    /// Records that a user's token was used, at most once a minute, off the
    /// request's path (a failure only loses the time of last use).
    pub(super) fn touch(&self, token_id: i64, used_at: i64, now: i64) {
        if now.saturating_sub(used_at) < TOUCH_EVERY_MICROS {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let done = sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token_id)
                .execute(&pool)
                .await;
            if let Err(e) = done {
                tracing::debug!(token_id, error = %e, "cannot record when a session was last used");
            }
        });
    }

    pub(super) async fn change_password(
        &self,
        id: i64,
        password: &str,
        keep: Option<i64>,
    ) -> Result<(), StateError> {
        let user = self
            .user_by_id(id)
            .await?
            .ok_or_else(|| user_not_found(id))?;
        validate::password(password, &[&user.name])?;
        let phc = password::hash(password).await?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(&phc)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        found(&done, || format!("user {id} not found"))?;
        let end = match keep {
            Some(keep) => {
                sqlx::query("DELETE FROM tokens WHERE user_id = $1 AND session = 1 AND id <> $2")
                    .bind(id)
                    .bind(keep)
            }
            None => sqlx::query("DELETE FROM tokens WHERE user_id = $1 AND session = 1").bind(id),
        };
        end.execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(super) async fn change_disabled(
        &self,
        id: i64,
        disabled: bool,
    ) -> Result<User, StateError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        found(&done, || format!("user {id} not found"))?;
        if disabled {
            sqlx::query("DELETE FROM tokens WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        self.user_by_id(id).await?.ok_or_else(|| user_not_found(id))
    }

    /// Tokens and tenant links go with the user (ON DELETE CASCADE).
    pub(super) async fn remove_user(&self, id: i64) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        found(&done, || format!("user {id} not found"))
    }

    pub(super) async fn insert_session(
        &self,
        new: NewSession,
    ) -> Result<(SessionInfo, String), StateError> {
        let user = self
            .user_by_id(new.user_id)
            .await?
            .ok_or_else(|| user_not_found(new.user_id))?;
        if user.disabled {
            return Err(StateError::Invalid(format!(
                "user {:?} is disabled",
                user.name
            )));
        }
        if let Some(source) = &new.source {
            if source.len() > 200 || source.chars().any(char::is_control) {
                return Err(StateError::Invalid(
                    "a session's source must be a short line".into(),
                ));
            }
        }
        let idle = new
            .idle_timeout
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let secret = token::generate();
        let created_at = Timestamp::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (token_hash, role, tenant_id, user_id, label, created_at,
                                 expires_at, session, idle_micros, source)
             VALUES ($1, $2, NULL, $3, 'login', $4, $5, 1, $6, $7) RETURNING id",
        )
        .bind(token::hash(&secret))
        .bind(user.role.as_str())
        .bind(user.id)
        .bind(created_at.micros())
        .bind(new.expires_at.micros())
        .bind(idle)
        .bind(new.source.as_deref())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match kind(&e) {
            Some(ErrorKind::ForeignKeyViolation) => user_not_found(new.user_id),
            _ => db(e),
        })?;
        let info = SessionInfo {
            id,
            user_id: user.id,
            user: user.name,
            role: user.role,
            tenants: user.tenants,
            login: true,
            created_at,
            expires_at: Some(new.expires_at),
            last_used_at: None,
            source: new.source,
        };
        Ok((info, secret))
    }

    /// Live tokens bound to users (expired and idle ones are left out).
    pub(super) async fn select_sessions(&self) -> Result<Vec<SessionInfo>, StateError> {
        let now = Timestamp::now().micros();
        let rows = sqlx::query(
            "SELECT t.id, t.user_id, u.name, u.role, t.session, t.created_at, t.expires_at,
                    t.last_used_at, t.source
             FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE (t.expires_at IS NULL OR t.expires_at > $1)
               AND (t.idle_micros IS NULL
                    OR COALESCE(t.last_used_at, t.created_at) + t.idle_micros > $1)
             ORDER BY t.id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let links: Vec<(i64, i64)> =
            sqlx::query_as("SELECT user_id, tenant_id FROM user_tenants ORDER BY tenant_id")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let mut tenants: HashMap<i64, Vec<TenantId>> = HashMap::new();
        for (user, tenant) in links {
            tenants.entry(user).or_default().push(TenantId(tenant));
        }
        rows.iter()
            .map(|row| {
                let user_id: i64 = get(row, "user_id")?;
                let role: Role = role_of(row, "role")?;
                Ok(SessionInfo {
                    id: get(row, "id")?,
                    user_id,
                    user: get(row, "name")?,
                    role,
                    tenants: tenants.get(&user_id).cloned().unwrap_or_default(),
                    login: get::<i64>(row, "session")? != 0,
                    created_at: Timestamp(get(row, "created_at")?),
                    expires_at: get::<Option<i64>>(row, "expires_at")?.map(Timestamp),
                    last_used_at: get::<Option<i64>>(row, "last_used_at")?.map(Timestamp),
                    source: get(row, "source")?,
                })
            })
            .collect()
    }
}
