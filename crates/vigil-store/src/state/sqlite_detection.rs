//! [`DetectionStore`] on the embedded SQLite file.

use super::detection::{
    Alert, AlertCursor, AlertFilter, AlertPage, AlertStatus, DetectionStore, Entities, Evidence,
    LoginNovelty, LoginSeen, NewAlert, ResolvedAlert, StoredRule, ALERT_WINDOW_RANGE,
    DEFAULT_ALERT_WINDOW,
};
use super::sqlite::{db, found, get};
use super::{SqliteState, StateError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;
use vigil_core::identity::user_identity;
use vigil_core::{TenantId, Timestamp};

const ALERT_COLUMNS: &str = "id, tenant_id, team, rule_id, rule_title, severity, tags, host, \
     user_name, source_ip, resource, event_id, last_event_id, description, first_seen, last_seen, \
     count, status, resolution, previous_id, detected_at, last_detected_at, evidence_first, \
     evidence_latest, evidence_count";

/// The statuses of an alert that still absorbs hits.
const LIVE: &str = "('open', 'acknowledged', 'suppressed')";

/// Where a hit goes.
enum Placement {
    /// Counts into this alert.
    Into(Alert),
    /// Opens a new alert: open, or resolved with this reason (late).
    New {
        previous: Option<i64>,
        expire: Option<Alert>,
        late: Option<String>,
    },
}

#[async_trait::async_trait]
impl DetectionStore for SqliteState {
    async fn record_alerts(&self, hits: &[NewAlert]) -> Result<Vec<(Alert, bool)>, StateError> {
        let mut tx = self.begin_write().await?;
        let mut windows: HashMap<TenantId, i64> = HashMap::new();
        let mut out = Vec::with_capacity(hits.len());
        let now = Timestamp::now().micros();
        for hit in hits {
            let window = match hit.window {
                Some(w) => w,
                None => match windows.get(&hit.tenant) {
                    Some(w) => *w,
                    None => {
                        let w = tenant_window(&mut tx, hit.tenant)
                            .await?
                            .unwrap_or(DEFAULT_ALERT_WINDOW);
                        windows.insert(hit.tenant, w);
                        w
                    }
                },
            };
            let placed = match place(&mut tx, hit, window).await? {
                Placement::Into(alert) => (absorb(&mut tx, hit, alert, now).await?, false),
                Placement::New {
                    previous,
                    expire,
                    late,
                } => {
                    if let Some(old) = expire {
                        expire_alert(&mut tx, &old, window, now).await?;
                    }
                    let new = NewRow {
                        status: match late {
                            Some(_) => AlertStatus::Resolved,
                            None => AlertStatus::Open,
                        },
                        resolution: late.as_deref(),
                        previous,
                        now,
                    };
                    let alert = insert(&mut tx, hit, &new).await?.ok_or_else(|| {
                        StateError::Backend("an alert of this key opened meanwhile".into())
                    })?;
                    (alert, true)
                }
            };
            out.push(placed);
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn list_alerts(
        &self,
        tenants: &[TenantId],
        filter: &AlertFilter,
    ) -> Result<AlertPage, StateError> {
        if tenants.is_empty() {
            return Ok(AlertPage {
                alerts: Vec::new(),
                total: 0,
                next: None,
            });
        }
        let mut count: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM alerts");
        push_filter(&mut count, tenants, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;

        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {ALERT_COLUMNS} FROM alerts"));
        push_filter(&mut q, tenants, filter);
        if let Some(after) = filter.after {
            q.push(" AND (detected_at < ")
                .push_bind(after.detected_at)
                .push(" OR (detected_at = ")
                .push_bind(after.detected_at)
                .push(" AND id < ")
                .push_bind(after.id)
                .push("))");
        }
        let limit = filter.limit.max(1);
        // One more than the page: whether there is a next page.
        q.push(" ORDER BY detected_at DESC, id DESC LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1);
        let rows = q.build().fetch_all(&self.pool).await.map_err(db)?;
        let mut alerts = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = alerts.len() > limit;
        alerts.truncate(limit);
        let next = more.then(|| alerts.last().map(AlertCursor::of)).flatten();
        Ok(AlertPage {
            alerts,
            total: u64::try_from(total).unwrap_or(0),
            next,
        })
    }

    async fn set_alert_window(
        &self,
        tenant: TenantId,
        window: Option<i64>,
    ) -> Result<(), StateError> {
        let query = match window {
            Some(w) if !ALERT_WINDOW_RANGE.contains(&w) => {
                return Err(StateError::Invalid(format!(
                    "alert window must be from {} to {} seconds",
                    ALERT_WINDOW_RANGE.start() / 1_000_000,
                    ALERT_WINDOW_RANGE.end() / 1_000_000
                )))
            }
            Some(w) => sqlx::query(
                "INSERT INTO alert_settings (tenant_id, window_micros) VALUES ($1, $2)
                 ON CONFLICT (tenant_id) DO UPDATE SET window_micros = excluded.window_micros",
            )
            .bind(tenant.0)
            .bind(w),
            None => sqlx::query("DELETE FROM alert_settings WHERE tenant_id = $1").bind(tenant.0),
        };
        query
            .execute(&self.pool)
            .await
            .map_err(super::sqlite::tenant_must_exist(tenant))?;
        Ok(())
    }

    async fn alert_window(&self, tenant: TenantId) -> Result<Option<i64>, StateError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        tenant_window(&mut conn, tenant).await
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
            let new = NewRow {
                status: AlertStatus::Suppressed,
                resolution: Some(reason),
                previous: None,
                now: Timestamp::now().micros(),
            };
            if let Some(alert) = insert(&mut tx, hit, &new).await? {
                out.push(alert);
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
        .map_err(super::sqlite::tenant_must_exist(rule.tenant))?;
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
            .map_err(super::sqlite::tenant_must_exist(tenant))?;
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

/// The tenant's own alert window, if it set one.
async fn tenant_window(
    conn: &mut SqliteConnection,
    tenant: TenantId,
) -> Result<Option<i64>, StateError> {
    sqlx::query_scalar("SELECT window_micros FROM alert_settings WHERE tenant_id = $1")
        .bind(tenant.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)
}

/// Decides where a hit goes (see [`DetectionStore::record_alerts`]).
async fn place(
    conn: &mut SqliteConnection,
    hit: &NewAlert,
    window: i64,
) -> Result<Placement, StateError> {
    let key = hit.dedup_key();
    let t = hit.time.micros();
    let open = one_alert(
        conn,
        &format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE tenant_id = $1 AND rule_id = $2 AND dedup_key = $3 AND status IN {LIVE}"
        ),
        hit,
        &key,
        None,
    )
    .await?;
    if let Some(open) = open.as_ref() {
        let start = open.first_seen.micros().saturating_sub(window);
        let end = open.last_seen.micros().saturating_add(window);
        if (start..=end).contains(&t) {
            return Ok(Placement::Into(open.clone()));
        }
        if t > end {
            return Ok(Placement::New {
                previous: Some(open.id),
                expire: Some(open.clone()),
                late: None,
            });
        }
    }
    // No open alert, or the hit is older than the open one's window: late
    // evidence of an ended alert whose span holds it?
    let past = one_alert(
        conn,
        &format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE tenant_id = $1 AND rule_id = $2 AND dedup_key = $3 AND status NOT IN {LIVE}
               AND last_seen >= $4 AND first_seen - $5 <= $4
             ORDER BY last_seen DESC, id DESC LIMIT 1"
        ),
        hit,
        &key,
        Some((t, window)),
    )
    .await?;
    if let Some(past) = past {
        return Ok(Placement::Into(past));
    }
    if let Some(open) = open {
        return Ok(Placement::New {
            previous: None,
            expire: None,
            late: Some(format!(
                "late: its events are older than the window of open alert {}",
                open.id
            )),
        });
    }
    let previous: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(id) FROM alerts WHERE tenant_id = $1 AND rule_id = $2 AND dedup_key = $3",
    )
    .bind(hit.tenant.0)
    .bind(&hit.rule_id)
    .bind(&key)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    Ok(Placement::New {
        previous,
        expire: None,
        late: None,
    })
}

/// One alert of the hit's tenant, rule and key by `sql` ($1..$3, and the
/// time and window as $4, $5 when given).
async fn one_alert(
    conn: &mut SqliteConnection,
    sql: &str,
    hit: &NewAlert,
    key: &str,
    time_window: Option<(i64, i64)>,
) -> Result<Option<Alert>, StateError> {
    let mut q = sqlx::query(sql)
        .bind(hit.tenant.0)
        .bind(&hit.rule_id)
        .bind(key);
    if let Some((t, w)) = time_window {
        q = q.bind(t).bind(w);
    }
    q.fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .as_ref()
        .map(alert_from_row)
        .transpose()
}

/// The hit's evidence ids: its event, then the rest, each once.
fn evidence_ids(hit: &NewAlert) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::with_capacity(1 + hit.evidence.len());
    for id in hit.event_id.iter().chain(&hit.evidence) {
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    ids
}

fn json_list(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// Counts a hit into `alert`: count, times, evidence; a suppressed alert
/// opens (it still holds).
async fn absorb(
    conn: &mut SqliteConnection,
    hit: &NewAlert,
    alert: Alert,
    now: i64,
) -> Result<Alert, StateError> {
    let mut evidence = alert.evidence;
    evidence.add(evidence_ids(hit));
    let row = sqlx::query(&format!(
        "UPDATE alerts SET count = count + 1,
             first_seen = MIN(first_seen, $2),
             last_event_id = CASE WHEN $2 >= last_seen THEN COALESCE($3, last_event_id)
                                  ELSE last_event_id END,
             last_seen = MAX(last_seen, $2),
             updated_at = $4, last_detected_at = $4,
             evidence_first = $5, evidence_latest = $6, evidence_count = $7,
             status = CASE status WHEN 'suppressed' THEN 'open' ELSE status END,
             resolution = CASE status WHEN 'suppressed' THEN NULL ELSE resolution END,
             description = CASE status WHEN 'suppressed' THEN $8 ELSE description END
         WHERE id = $1
         RETURNING {ALERT_COLUMNS}"
    ))
    .bind(alert.id)
    .bind(hit.time.micros())
    .bind(&hit.event_id)
    .bind(now)
    .bind(json_list(&evidence.first))
    .bind(json_list(&evidence.latest))
    .bind(evidence.count)
    .bind(&hit.description)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    alert_from_row(&row)
}

/// Ends an open alert whose window passed, so that a new one can open.
async fn expire_alert(
    conn: &mut SqliteConnection,
    alert: &Alert,
    window: i64,
    now: i64,
) -> Result<(), StateError> {
    sqlx::query(
        "UPDATE alerts SET status = 'resolved', resolution = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(alert.id)
    .bind(format!(
        "expired: no hit within {} after its last event ({})",
        span_text(window),
        alert.last_seen.to_rfc3339()
    ))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// `86400000000` → `24h`: the largest unit that divides the span.
fn span_text(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    match seconds {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// What a new alert row starts as.
struct NewRow<'a> {
    status: AlertStatus,
    resolution: Option<&'a str>,
    previous: Option<i64>,
    now: i64,
}

/// Inserts an alert for `hit`; `None` when an alert of the key that still
/// absorbs hits exists (the partial unique index).
async fn insert(
    conn: &mut SqliteConnection,
    hit: &NewAlert,
    new: &NewRow<'_>,
) -> Result<Option<Alert>, StateError> {
    let mut evidence = Evidence::default();
    evidence.add(evidence_ids(hit));
    let tags = serde_json::to_string(&hit.tags).unwrap_or_else(|_| "[]".into());
    let row = sqlx::query(&format!(
        "INSERT INTO alerts (tenant_id, team, rule_id, rule_title, severity, tags, host,
             user_name, source_ip, dedup_key, event_id, last_event_id, description,
             first_seen, last_seen, count, status, updated_at, resource, resolution,
             previous_id, detected_at, last_detected_at, evidence_first, evidence_latest,
             evidence_count, user_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $13, 1, $14, $15,
             $16, $17, $18, $15, $15, $19, $20, $21, $22)
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
    .bind(new.status.as_str())
    .bind(new.now)
    .bind(&hit.entities.resource)
    .bind(new.resolution)
    .bind(new.previous)
    .bind(json_list(&evidence.first))
    .bind(json_list(&evidence.latest))
    .bind(evidence.count)
    .bind(hit.entities.user.as_deref().map(user_identity))
    .fetch_optional(&mut *conn)
    .await
    .map_err(super::sqlite::tenant_must_exist(hit.tenant))?;
    row.as_ref().map(alert_from_row).transpose()
}

/// `WHERE` the alert is one of `tenants` and matches `filter` (the cursor
/// apart).
fn push_filter(q: &mut QueryBuilder<'_, Sqlite>, tenants: &[TenantId], filter: &AlertFilter) {
    q.push(" WHERE tenant_id IN (");
    let mut list = q.separated(", ");
    for t in tenants {
        list.push_bind(t.0);
    }
    list.push_unseparated(")");
    for (condition, value) in [
        (" AND last_detected_at >= ", filter.from),
        (" AND detected_at < ", filter.to),
        (" AND last_seen >= ", filter.event_from),
        (" AND first_seen < ", filter.event_to),
    ] {
        if let Some(value) = value {
            q.push(condition).push_bind(value.micros());
        }
    }
    push_any(q, "severity", filter.severities.iter().map(|s| s.as_str()));
    push_any(q, "status", filter.statuses.iter().map(|s| s.as_str()));
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
    let user = filter.user.as_deref().map(user_identity);
    for (column, value) in [
        ("host", &filter.host),
        ("user_key", &user),
        ("source_ip", &filter.source_ip),
    ] {
        if let Some(value) = value {
            q.push(format!(" AND {column} = ")).push_bind(value.clone());
        }
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
    let ids = |column: &str| -> Result<Vec<String>, StateError> {
        let text: String = get(row, column)?;
        serde_json::from_str(&text).map_err(|_| parse(column, text.clone()))
    };
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
        previous_id: get(row, "previous_id")?,
        detected_at: Timestamp(get(row, "detected_at")?),
        last_detected_at: Timestamp(get(row, "last_detected_at")?),
        evidence: Evidence {
            first: ids("evidence_first")?,
            latest: ids("evidence_latest")?,
            count: get(row, "evidence_count")?,
        },
    })
}
