//! `/api/v1/checks`: what the NOC checks on each asset, how often.
//!
//! A check is a JSON object: `asset`, `kind` (icmp, tcp, http, dns, snmp,
//! prometheus), `target`, `interval` (`30s`), optional `timeout`,
//! `retries`, `enabled`, and the kind's own settings, kept as given.

use super::JsonBody;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::inventory::check_record;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vigil_store::state::Check;

#[derive(Deserialize)]
pub struct TenantParam {
    tenant: Option<String>,
}

#[derive(Serialize)]
pub struct CheckView {
    id: i64,
    asset: String,
    kind: String,
    target: String,
    interval_seconds: f64,
    enabled: bool,
    spec: Value,
    created_at: String,
}

impl From<Check> for CheckView {
    fn from(c: Check) -> Self {
        CheckView {
            id: c.id,
            asset: c.record.asset,
            kind: c.record.kind,
            target: c.record.target,
            interval_seconds: c.record.interval_ms as f64 / 1000.0,
            enabled: c.record.enabled,
            spec: c.record.spec,
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<CheckView>), ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    let record = check_record(body).map_err(ApiError::bad_request)?;
    let check = app.inventory.create_check(tenant.id, &record).await?;
    app.noc.inventory_changed();
    Ok((StatusCode::CREATED, Json(check.into())))
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
) -> Result<Json<Vec<CheckView>>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let checks = app.inventory.list_checks(Some(tenant.id)).await?;
    Ok(Json(checks.into_iter().map(CheckView::from).collect()))
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
) -> Result<Json<CheckView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let check = app
        .inventory
        .check(tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no check {id}")))?;
    Ok(Json(check.into()))
}

/// A partial update: the keys given replace the check's.
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
    JsonBody(patch): JsonBody<Map<String, Value>>,
) -> Result<Json<CheckView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    let current = app
        .inventory
        .check(tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no check {id}")))?;
    let mut spec = match current.record.spec {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    spec.insert("asset".into(), current.record.asset.into());
    spec.extend(patch);
    let record = check_record(spec).map_err(ApiError::bad_request)?;
    let check = app.inventory.update_check(tenant.id, id, &record).await?;
    app.noc.inventory_changed();
    Ok(Json(check.into()))
}

pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    app.inventory.delete_check(tenant.id, id).await?;
    app.noc.inventory_changed();
    Ok(StatusCode::NO_CONTENT)
}
