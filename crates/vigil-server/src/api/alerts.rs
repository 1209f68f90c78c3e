//! `/api/v1/alerts`: the incident queue, SOC and NOC alike, per tenant.

use super::events::parse_time;
use super::JsonBody;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use vigil_core::Timestamp;
use vigil_store::state::{Alert, AlertFilter, AlertStatus, Entities, Severity, StateError, Team};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

#[derive(Deserialize)]
pub struct ListParams {
    tenant: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Comma-separated: `high,critical`.
    severity: Option<String>,
    /// Comma-separated: `open,acknowledged`.
    status: Option<String>,
    team: Option<String>,
    /// A rule id or exact title.
    rule: Option<String>,
    host: Option<String>,
    user: Option<String>,
    source_ip: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
pub struct TenantParam {
    tenant: Option<String>,
}

#[derive(Serialize)]
pub struct AlertView {
    id: i64,
    tenant: String,
    team: Team,
    rule_id: String,
    rule_title: String,
    severity: Severity,
    status: AlertStatus,
    tags: Vec<String>,
    entities: Entities,
    event_id: Option<String>,
    last_event_id: Option<String>,
    description: String,
    first_seen: String,
    last_seen: String,
    count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<String>,
}

#[derive(Serialize)]
pub struct AlertList {
    total: usize,
    alerts: Vec<AlertView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertUpdate {
    status: String,
}

fn view(alert: Alert, tenant: &str) -> AlertView {
    AlertView {
        id: alert.id,
        tenant: tenant.to_string(),
        team: alert.team,
        rule_id: alert.rule_id,
        rule_title: alert.rule_title,
        severity: alert.severity,
        status: alert.status,
        tags: alert.tags,
        entities: alert.entities,
        event_id: alert.event_id,
        last_event_id: alert.last_event_id,
        description: alert.description,
        first_seen: alert.first_seen.to_rfc3339(),
        last_seen: alert.last_seen.to_rfc3339(),
        count: alert.count,
        resolution: alert.resolution,
    }
}

/// `a,b,c` into values parsed by `parse`.
fn list_of<T>(
    text: Option<&str>,
    parse: impl Fn(&str) -> Result<T, StateError>,
) -> Result<Vec<T>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(ApiError::from))
        .collect()
}

fn filter_of(params: &ListParams) -> Result<AlertFilter, ApiError> {
    let now = Timestamp::now();
    let time = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| parse_time(name, v, now))
            .transpose()
    };
    Ok(AlertFilter {
        from: time("from", &params.from)?,
        to: time("to", &params.to)?,
        severities: list_of(params.severity.as_deref(), |s| s.parse())?,
        statuses: list_of(params.status.as_deref(), |s| s.parse())?,
        team: params
            .team
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(ApiError::from)?,
        rule: params.rule.clone(),
        host: params.host.clone(),
        user: params.user.clone(),
        source_ip: params.source_ip.clone(),
        limit: params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    })
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<AlertList>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let filter = filter_of(&params)?;
    let alerts = app.detections.list_alerts(tenant.id, &filter).await?;
    Ok(Json(AlertList {
        total: alerts.len(),
        alerts: alerts
            .into_iter()
            .map(|a| view(a, tenant.name.as_str()))
            .collect(),
    }))
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
) -> Result<Json<AlertView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let alert = app
        .detections
        .alert(tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert {id} not found")))?;
    Ok(Json(view(alert, tenant.name.as_str())))
}

/// `PATCH /api/v1/alerts/{id}` with `{"status": "acknowledged"}`.
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<AlertUpdate>,
) -> Result<Json<AlertView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Triage)
        .await?;
    let status: AlertStatus = body.status.parse()?;
    let alert = app
        .detections
        .set_alert_status(tenant.id, id, status)
        .await?;
    Ok(Json(view(alert, tenant.name.as_str())))
}
