//! `/api/v1/alerts`: the incident queue, SOC and NOC alike, per tenant or
//! across the caller's tenants (`tenant=*`).
//!
//! The list is newest detection first, a page at a time: `limit`, and
//! `cursor` = the previous page's `next_cursor`; `total` counts every page.
//! `from`/`to` are detection time (a replay of 2019 logs detected today is
//! found under `from=now-24h`); `event_from`/`event_to` are event time.
//! One alert (`GET /api/v1/alerts/{id}`) comes with its evidence resolved
//! to the stored events.

use super::events::parse_time;
use super::JsonBody;
use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use vigil_core::{EventId, TenantId, Timestamp};
use vigil_store::state::{
    Alert, AlertCursor, AlertFilter, AlertStatus, Entities, Evidence, Severity, StateError, Team,
    TenantScope,
};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

/// `tenant=*`: every tenant the caller may see.
const ALL_TENANTS: &str = "*";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// A tenant's name, or `*` for all of the caller's.
    #[param(example = "acme")]
    tenant: Option<String>,
    /// Detection time: RFC 3339, epoch seconds, `now-1d`...
    from: Option<String>,
    to: Option<String>,
    /// Event time.
    event_from: Option<String>,
    event_to: Option<String>,
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
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertView {
    id: i64,
    tenant: String,
    #[schema(schema_with = crate::api::openapi::foreign::team)]
    team: Team,
    rule_id: String,
    rule_title: String,
    #[schema(schema_with = crate::api::openapi::foreign::severity)]
    severity: Severity,
    #[schema(schema_with = crate::api::openapi::foreign::alert_status)]
    status: AlertStatus,
    tags: Vec<String>,
    #[schema(schema_with = crate::api::openapi::foreign::entities)]
    entities: Entities,
    event_id: Option<String>,
    last_event_id: Option<String>,
    description: String,
    /// Event time of its first and latest evidence.
    first_seen: String,
    last_seen: String,
    /// When it was detected (opened), and when it was last hit.
    detected_at: String,
    last_detected_at: String,
    count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<String>,
    /// The alert of the same rule and entities before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_id: Option<i64>,
    /// The ids of the evidence events: the first ones and the latest.
    #[schema(value_type = Object)]
    evidence: Evidence,
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    total: u64,
    alerts: Vec<AlertView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// One evidence event as stored.
#[derive(Serialize, ToSchema)]
pub struct EvidenceEvent {
    id: String,
    time: String,
    #[schema(value_type = Object)]
    event: Box<RawValue>,
}

/// One alert with its evidence resolved to events.
#[derive(Serialize, ToSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    alert: AlertView,
    /// The evidence events still stored (first ones, then the latest), in
    /// the order of `evidence`; ids past retention are left out.
    events: Vec<EvidenceEvent>,
    /// Evidence ids no longer stored (retention) or unreadable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing_events: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertUpdate {
    /// `open`, `acknowledged` or `closed`...
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
        detected_at: alert.detected_at.to_rfc3339(),
        last_detected_at: alert.last_detected_at.to_rfc3339(),
        count: alert.count,
        resolution: alert.resolution,
        previous_id: alert.previous_id,
        evidence: alert.evidence,
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
        event_from: time("event_from", &params.event_from)?,
        event_to: time("event_to", &params.event_to)?,
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
        after: params
            .cursor
            .as_deref()
            .map(AlertCursor::decode)
            .transpose()?,
    })
}

/// The tenants a list covers, with their names: the one named, or with
/// `*` every tenant of the caller's scope.
async fn tenants_of(
    app: &AppState,
    caller: &Caller,
    named: Option<&str>,
) -> Result<HashMap<TenantId, String>, ApiError> {
    if named != Some(ALL_TENANTS) {
        let tenant = caller.tenant(app, named, Action::Read).await?;
        return Ok(HashMap::from([(tenant.id, tenant.name.to_string())]));
    }
    caller.require(Action::Read)?;
    let all = app.state.list_tenants().await?;
    Ok(all
        .into_iter()
        .filter(|t| match &caller.0.scope {
            TenantScope::All => true,
            TenantScope::Only(ids) => ids.contains(&t.id),
        })
        .map(|t| (t.id, t.name.to_string()))
        .collect())
}

/// The alerts of a tenant (or of all the caller's, `tenant=*`), newest
/// detection first, a page at a time.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(ListParams),
    responses((status = 200, description = "A page of alerts", body = AlertList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<AlertList>, ApiError> {
    let names = tenants_of(&app, &caller, params.tenant.as_deref()).await?;
    let filter = filter_of(&params)?;
    let mut tenants: Vec<TenantId> = names.keys().copied().collect();
    tenants.sort();
    let page = app.detections.list_alerts(&tenants, &filter).await?;
    let alerts = page
        .alerts
        .into_iter()
        .map(|a| {
            let name = names.get(&a.tenant).cloned().unwrap_or_default();
            view(a, &name)
        })
        .collect();
    Ok(Json(AlertList {
        total: page.total,
        alerts,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// One alert with its evidence resolved to the stored events.
#[utoipa::path(get, path = "/api/v1/alerts/{alert}", tag = "alerts", params(("alert" = i64, Path, description = "The alert's id"), TenantParam),
    responses((status = 200, description = "The alert", body = AlertDetail)))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
) -> Result<Json<AlertDetail>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let alert = app
        .detections
        .alert(tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert {id} not found")))?;
    let (events, missing_events) = evidence_events(&app, tenant.id, &alert.evidence).await?;
    Ok(Json(AlertDetail {
        alert: view(alert, tenant.name.as_str()),
        events,
        missing_events,
    }))
}

/// The alert's evidence ids read from the event store (the tenant's own
/// only), and the ids that are not there.
async fn evidence_events(
    app: &AppState,
    tenant: TenantId,
    evidence: &Evidence,
) -> Result<(Vec<EvidenceEvent>, Vec<String>), ApiError> {
    let ids: Vec<EventId> = evidence.ids().filter_map(|id| id.parse().ok()).collect();
    let found = app
        .events
        .get(tenant, &ids)
        .await
        .map_err(|e| ApiError::internal(format!("reading the evidence events failed: {e}")))?;
    let got: std::collections::HashSet<EventId> = found.iter().map(|e| e.id).collect();
    let missing = evidence
        .ids()
        .filter(|id| id.parse::<EventId>().map_or(true, |e| !got.contains(&e)))
        .map(str::to_string)
        .collect();
    let events = found
        .into_iter()
        .filter_map(|e| {
            Some(EvidenceEvent {
                id: e.id.to_string(),
                time: e.time.to_rfc3339(),
                event: RawValue::from_string(e.raw).ok()?,
            })
        })
        .collect();
    Ok((events, missing))
}

#[utoipa::path(patch, path = "/api/v1/alerts/{alert}", tag = "alerts", params(("alert" = i64, Path, description = "The alert's id"), TenantParam),
    request_body = AlertUpdate,
    responses((status = 200, description = "The alert as changed", body = AlertView)))]
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
