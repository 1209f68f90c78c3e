//! [`DetectionStore`] on the embedded SQLite file.

use super::detection::{
    Alert, AlertFilter, AlertStatus, DetectionStore, Entities, LoginNovelty, LoginSeen, NewAlert,
    ResolvedAlert, StoredRule,
};
use super::sqlite::{db, found, get};
use super::{SqliteState, StateError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};
use vigil_core::{TenantId, Timestamp};

const ALERT_COLUMNS: &str = "id, tenant_id, team, rule_id, rule_title, severity, tags, host, \
     user_name, source_ip, resource, event_id, last_event_id, description, first_seen, last_seen, \
     count, status, resolution";

#[async_trait::async_trait]
impl DetectionStore for SqliteState {
    async fn record_alerts(&self, hits: &[NewAlert]) -> Result<Vec<(Alert, bool)>, StateError> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(hits.len());
        for hit in hits {
            let key = hit.dedup_key();
            let updated = sqlx::query(&format!(
                "UPDATE alerts SET count = count + 1,
                     last_seen = MAX(last_seen, $4),
                     last_event_id = COALESCE($5, last_event_id),
                     updated_at = $4,
                     status = CASE status WHEN 'suppressed' THEN 'open' ELSE status END,
                     resolution = CASE status WHEN 'suppressed' THEN NULL ELSE resolution END,
                     description = CASE status WHEN 'suppressed' THEN $6 ELSE description END
                 WHERE tenant_id = $1 AND rule_id = $2 AND dedup_key = $3
                   AND status IN ('open', 'acknowledged', 'suppressed')
                 RETURNING {ALERT_COLUMNS}"
            ))
            .bind(hit.tenant.0)
            .bind(&hit.rule_id)
            .bind(&key)
            .bind(hit.time.micros())
            .bind(&hit.event_id)
            .bind(&hit.description)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(row) = updated {
                out.push((alert_from_row(&row)?, false));
                continue;
            }
            let tags = serde_json::to_string(&hit.tags).unwrap_or_else(|_| "[]".into());
            let row = sqlx::query(&format!(
                "INSERT INTO alerts (tenant_id, team, rule_id, rule_title, severity, tags, host,
                     user_name, source_ip, dedup_key, event_id, last_event_id, description,
                     first_seen, last_seen, count, status, updated_at, resource)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $13, 1, 'open', $13, $14)
                 RETURNING {ALERT_COLUMNS}"
            ))
            .bind(hit.tenant.0)
            .bind(hit.team.as_str())
            .bind(&hit.rule_id)
            .bind(&hit.rule_title)
            .bind(hit.severity.as_str())
            .bind(tags)
            .bind(&hit.entities.host)
            .bind(&hit.entities.user)
            .bind(&hit.entities.source_ip)
            .bind(&key)
            .bind(&hit.event_id)
            .bind(&hit.description)
            .bind(hit.time.micros())
            .bind(&hit.entities.resource)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match super::sqlite::kind(&e) {
                Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                    StateError::NotFound(format!("tenant {} not found", hit.tenant))
                }
                _ => db(e),
            })?;
            out.push((alert_from_row(&row)?, true));
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn list_alerts(
        &self,
        tenant: TenantId,
        filter: &AlertFilter,
    ) -> Result<Vec<Alert>, StateError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant_id = "
        ));
        q.push_bind(tenant.0);
        if let Some(from) = filter.from {
            q.push(" AND last_seen >= ").push_bind(from.micros());
        }
        if let Some(to) = filter.to {
            q.push(" AND first_seen < ").push_bind(to.micros());
        }
        push_any(
            &mut q,
            "severity",
            filter.severities.iter().map(|s| s.as_str()),
        );
        push_any(&mut q, "status", filter.statuses.iter().map(|s| s.as_str()));
        if let Some(team) = filter.team {
            q.push(" AND team = ").push_bind(team.as_str());
        }
        if let Some(rule) = &filter.rule {
            q.push(" AND (rule_id = ")
                .push_bind(rule.clone())
                .push(" OR rule_title = ")
                .push_bind(rule.clone())
                .push(")");
        }
        for (column, value) in [
            ("host", &filter.host),
            ("user_name", &filter.user),
            ("source_ip", &filter.source_ip),
        ] {
            if let Some(value) = value {
                q.push(format!(" AND {column} = ")).push_bind(value.clone());
            }
        }
        q.push(" ORDER BY last_seen DESC, id DESC LIMIT ")
            .push_bind(i64::try_from(filter.limit).unwrap_or(i64::MAX));
        let rows = q.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn alert(&self, tenant: TenantId, id: i64) -> Result<Option<Alert>, StateError> {
        sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(alert_from_row)
        .transpose()
    }

    async fn set_alert_status(
        &self,
        tenant: TenantId,
        id: i64,
        status: AlertStatus,
    ) -> Result<Alert, StateError> {
        let row = sqlx::query(&format!(
            "UPDATE alerts SET status = $3, updated_at = $4
             WHERE tenant_id = $1 AND id = $2 RETURNING {ALERT_COLUMNS}"
        ))
        .bind(tenant.0)
        .bind(id)
        .bind(status.as_str())
        .bind(Timestamp::now().micros())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| match super::sqlite::kind(&e) {
            // Reopening an alert while a newer one of the same rule and
            // entities is open would make two open alerts for one problem.
            Some(sqlx::error::ErrorKind::UniqueViolation) => StateError::Conflict(format!(
                "alert {id} cannot be reopened: a newer alert of the same rule and entities is open"
            )),
            _ => db(e),
        })?;
        match row {
            Some(row) => alert_from_row(&row),
            None => Err(StateError::NotFound(format!("alert {id} not found"))),
        }
    }

    async fn resolve_alerts(&self, resolved: &[ResolvedAlert]) -> Result<Vec<Alert>, StateError> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::new();
        for r in resolved {
            let row = sqlx::query(&format!(
                "UPDATE alerts SET status = 'resolved', resolution = $4,
                     last_seen = MAX(last_seen, $5), updated_at = $5
                 WHERE tenant_id = $1 AND rule_id = $2 AND dedup_key = $3
                   AND status IN ('open', 'acknowledged', 'suppressed')
                 RETURNING {ALERT_COLUMNS}"
            ))
            .bind(r.tenant.0)
            .bind(&r.rule_id)
            .bind(r.entities.dedup_key())
            .bind(&r.reason)
            .bind(r.time.micros())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(row) = row {
                out.push(alert_from_row(&row)?);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn suppress_alerts(&self, held: &[(NewAlert, String)]) -> Result<Vec<Alert>, StateError> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::new();
        for (hit, reason) in held {
            let existing = sqlx::query(&format!(
                "UPDATE alerts SET resolution = $4, last_seen = MAX(last_seen, $5), updated_at = $5
                 WHERE tenant_id = $1 AND rule_id = $2 AND dedup_key = $3 AND status = 'suppressed'
                 RETURNING {ALERT_COLUMNS}"
            ))
            .bind(hit.tenant.0)
            .bind(&hit.rule_id)
            .bind(hit.dedup_key())
            .bind(reason)
            .bind(hit.time.micros())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(row) = existing {
                out.push(alert_from_row(&row)?);
                continue;
            }
            let tags = serde_json::to_string(&hit.tags).unwrap_or_else(|_| "[]".into());
            let row = sqlx::query(&format!(
                "INSERT INTO alerts (tenant_id, team, rule_id, rule_title, severity, tags, host,
                     user_name, source_ip, dedup_key, event_id, last_event_id, description,
                     first_seen, last_seen, count, status, updated_at, resource, resolution)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $13, 1,
                     'suppressed', $13, $14, $15)
                 ON CONFLICT DO NOTHING
                 RETURNING {ALERT_COLUMNS}"
            ))
            .bind(hit.tenant.0)
            .bind(hit.team.as_str())
            .bind(&hit.rule_id)
            .bind(&hit.rule_title)
            .bind(hit.severity.as_str())
            .bind(tags)
            .bind(&hit.entities.host)
            .bind(&hit.entities.user)
            .bind(&hit.entities.source_ip)
            .bind(hit.dedup_key())
            .bind(&hit.event_id)
            .bind(&hit.description)
            .bind(hit.time.micros())
            .bind(&hit.entities.resource)
            .bind(reason)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(row) = row {
                out.push(alert_from_row(&row)?);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn put_rule(&self, rule: &StoredRule) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO rules (tenant_id, rule_id, title, yaml, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, rule_id) DO UPDATE
             SET title = excluded.title, yaml = excluded.yaml, created_at = excluded.created_at",
        )
        .bind(rule.tenant.0)
        .bind(&rule.rule_id)
        .bind(&rule.title)
        .bind(&rule.yaml)
        .bind(rule.created_at.micros())
        .execute(&self.pool)
        .await
        .map_err(|e| match super::sqlite::kind(&e) {
            Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                StateError::NotFound(format!("tenant {} not found", rule.tenant))
            }
            _ => db(e),
        })?;
        Ok(())
    }

    async fn delete_rule(&self, tenant: TenantId, rule_id: &str) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM rules WHERE tenant_id = $1 AND rule_id = $2")
            .bind(tenant.0)
            .bind(rule_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        found(&done, || {
            format!("no uploaded rule {rule_id:?} in this tenant")
        })?;
        Ok(())
    }

    async fn all_rules(&self) -> Result<Vec<StoredRule>, StateError> {
        let rows = sqlx::query(
            "SELECT tenant_id, rule_id, title, yaml, created_at FROM rules ORDER BY tenant_id, rule_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(StoredRule {
                    tenant: TenantId(get(row, "tenant_id")?),
                    rule_id: get(row, "rule_id")?,
                    title: get(row, "title")?,
                    yaml: get(row, "yaml")?,
                    created_at: Timestamp(get(row, "created_at")?),
                })
            })
            .collect()
    }

    async fn set_rule_enabled(
        &self,
        tenant: TenantId,
        rule_id: &str,
        enabled: bool,
    ) -> Result<(), StateError> {
        let sql = if enabled {
            "DELETE FROM disabled_rules WHERE tenant_id = $1 AND rule_id = $2"
        } else {
            "INSERT INTO disabled_rules (tenant_id, rule_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        };
        sqlx::query(sql)
            .bind(tenant.0)
            .bind(rule_id)
            .execute(&self.pool)
            .await
            .map_err(|e| match super::sqlite::kind(&e) {
                Some(sqlx::error::ErrorKind::ForeignKeyViolation) => {
                    StateError::NotFound(format!("tenant {tenant} not found"))
                }
                _ => db(e),
            })?;
        Ok(())
    }

    async fn disabled_rules(&self) -> Result<Vec<(TenantId, String)>, StateError> {
        let rows = sqlx::query("SELECT tenant_id, rule_id FROM disabled_rules")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| Ok((TenantId(get(row, "tenant_id")?), get(row, "rule_id")?)))
            .collect()
    }

    async fn observe_logins(&self, logins: &[LoginSeen]) -> Result<Vec<LoginNovelty>, StateError> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(logins.len());
        for login in logins {
            let first: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(first_seen) FROM login_sources WHERE tenant_id = $1 AND user_name = $2",
            )
            .bind(login.tenant.0)
            .bind(&login.user)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let known: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM login_sources
                 WHERE tenant_id = $1 AND user_name = $2 AND source = $3",
            )
            .bind(login.tenant.0)
            .bind(&login.user)
            .bind(&login.source)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            sqlx::query(
                "INSERT INTO login_sources (tenant_id, user_name, source, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (tenant_id, user_name, source) DO UPDATE
                 SET last_seen = MAX(last_seen, excluded.last_seen),
                     first_seen = MIN(first_seen, excluded.first_seen)",
            )
            .bind(login.tenant.0)
            .bind(&login.user)
            .bind(&login.source)
            .bind(login.time.micros())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            out.push(LoginNovelty {
                new_source: known.is_none(),
                user_first_seen: first.map(Timestamp),
            });
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }
}

/// `AND column IN (...)` when `values` is not empty.
fn push_any<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    column: &str,
    values: impl Iterator<Item = &'static str>,
) {
    let values: Vec<&str> = values.collect();
    if values.is_empty() {
        return;
    }
    q.push(format!(" AND {column} IN ("));
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    list.push_unseparated(")");
}

fn alert_from_row(row: &SqliteRow) -> Result<Alert, StateError> {
    let parse = |column: &str, text: String| {
        StateError::Backend(format!("stored {column} {text:?} is unknown"))
    };
    let team: String = get(row, "team")?;
    let severity: String = get(row, "severity")?;
    let status: String = get(row, "status")?;
    let tags: String = get(row, "tags")?;
    Ok(Alert {
        id: get(row, "id")?,
        tenant: TenantId(get(row, "tenant_id")?),
        team: team.parse().map_err(|_| parse("team", team.clone()))?,
        rule_id: get(row, "rule_id")?,
        rule_title: get(row, "rule_title")?,
        severity: severity
            .parse()
            .map_err(|_| parse("severity", severity.clone()))?,
        tags: serde_json::from_str(&tags).map_err(|_| parse("tags", tags.clone()))?,
        entities: Entities {
            host: get(row, "host")?,
            user: get(row, "user_name")?,
            source_ip: get(row, "source_ip")?,
            resource: get(row, "resource")?,
        },
        event_id: get(row, "event_id")?,
        last_event_id: get(row, "last_event_id")?,
        description: get(row, "description")?,
        first_seen: Timestamp(get(row, "first_seen")?),
        last_seen: Timestamp(get(row, "last_seen")?),
        count: get(row, "count")?,
        status: status
            .parse()
            .map_err(|_| parse("status", status.clone()))?,
        resolution: get(row, "resolution")?,
    })
}
