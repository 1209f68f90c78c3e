//! [`AuditStore`] on the embedded SQLite file: the `audit_log` table, which
//! triggers keep append-only.

use super::audit::{
    AuditEntry, AuditFilter, AuditPage, AuditScope, AuditStore, NewAuditEntry, MAX_AUDIT_PAGE,
};
use super::sqlite::{db, get};
use super::{SqliteState, StateError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};
use vigil_core::{TenantId, Timestamp};

const COLUMNS: &str =
    "id, at, actor, token_id, role, tenant_id, source, method, path, status, detail";

#[async_trait::async_trait]
impl AuditStore for SqliteState {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StateError> {
        let detail = entry.detail.as_ref().map(|d| d.to_string());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor, token_id, role, tenant_id, source, method, path, status, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(entry.at.micros())
        .bind(&entry.actor)
        .bind(entry.token_id)
        .bind(&entry.role)
        .bind(entry.tenant.map(|t| t.0))
        .bind(&entry.source)
        .bind(&entry.method)
        .bind(&entry.path)
        .bind(entry.status.map(i64::from))
        .bind(detail)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(AuditEntry { id, entry })
    }

    async fn list(&self, filter: &AuditFilter) -> Result<AuditPage, StateError> {
        if !(1..=MAX_AUDIT_PAGE).contains(&filter.limit) {
            return Err(StateError::Invalid(format!(
                "limit must be 1 to {MAX_AUDIT_PAGE}, got {}",
                filter.limit
            )));
        }
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM audit_log WHERE 1 = 1");
        push_filter(&mut count, filter, false);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        let mut select =
            QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1"));
        push_filter(&mut select, filter, true);
        select
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit) + 1);
        let rows = select.build().fetch_all(&self.pool).await.map_err(db)?;
        let mut entries = rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = entries.len() > filter.limit as usize;
        entries.truncate(filter.limit as usize);
        let next = if more {
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            total: u64::try_from(total).unwrap_or(0),
            next,
        })
    }
}

/// The `AND ...` of a filter; the cursor only for the page itself, so that
/// the total counts every page.
fn push_filter(query: &mut QueryBuilder<'_, Sqlite>, filter: &AuditFilter, cursor: bool) {
    if let AuditScope::Tenants(ids) = &filter.scope {
        // No tenant: nothing matches (and never the MSP's NULL rows).
        query.push(" AND tenant_id IN (");
        let mut list = query.separated(", ");
        list.push_bind(-1_i64);
        for id in ids {
            list.push_bind(id.0);
        }
        query.push(")");
    }
    if let Some(actor) = &filter.actor {
        query.push(" AND actor = ").push_bind(actor.clone());
    }
    if let Some(method) = &filter.method {
        query.push(" AND method = ").push_bind(method.clone());
    }
    if let Some(prefix) = &filter.path_prefix {
        // substr rather than LIKE: no wildcard in the prefix can widen it.
        query
            .push(" AND substr(path, 1, ")
            .push_bind(prefix.chars().count() as i64)
            .push(") = ")
            .push_bind(prefix.clone());
    }
    if let Some(from) = filter.from {
        query.push(" AND at >= ").push_bind(from.micros());
    }
    if let Some(to) = filter.to {
        query.push(" AND at < ").push_bind(to.micros());
    }
    if let (true, Some(before)) = (cursor, filter.before) {
        query.push(" AND id < ").push_bind(before);
    }
}

fn entry_from_row(row: &SqliteRow) -> Result<AuditEntry, StateError> {
    let detail: Option<String> = get(row, "detail")?;
    let detail = detail
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StateError::Backend(format!("stored audit detail is not JSON: {e}")))?;
    let status: Option<i64> = get(row, "status")?;
    Ok(AuditEntry {
        id: get(row, "id")?,
        entry: NewAuditEntry {
            at: Timestamp(get(row, "at")?),
            actor: get(row, "actor")?,
            token_id: get(row, "token_id")?,
            role: get(row, "role")?,
            tenant: get::<Option<i64>>(row, "tenant_id")?.map(TenantId),
            source: get(row, "source")?,
            method: get(row, "method")?,
            path: get(row, "path")?,
            status: status.and_then(|s| u16::try_from(s).ok()),
            detail,
        },
    })
}
