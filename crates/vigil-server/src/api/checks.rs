//! `/api/v1/checks`: what the NOC checks on each asset, how often.
//!
//! A check is a JSON object: `asset`, `kind` (icmp, tcp, http, dns, snmp,
//! prometheus), `target`, `interval` (`30s`), optional `timeout`,
//! `retries`, `enabled`, and the kind's own settings, kept as given.
//!
//! Each check is shown with its `status`: the last run's state (`up` or
//! `down`), the reason when down, when it ran and how long it took, the
//! failures in a row and since when the state holds; `null` until the
//! first run, and for a disabled check.
//!
//! Secrets (SNMP `community`, `auth_password`, `priv_password`) are
//! write-only: every answer, to every role, shows `"set"` for them; an
//! update that leaves one out or sends `"set"` keeps the stored value.

use super::JsonBody;
use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::inventory::check_record;
use crate::noc::status::CheckStatus;
use crate::noc::Noc;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use vigil_store::secrets::{keep_unchanged_secrets, redact_fields, CHECK_SECRET_FIELDS, SHOWN};
use vigil_store::state::Check;

#[derive(Serialize, ToSchema)]
pub struct CheckView {
    id: i64,
    asset: String,
    kind: String,
    target: String,
    interval_seconds: f64,
    enabled: bool,
    /// The check as given, secrets shown as `"set"`.
    #[schema(value_type = Object)]
    spec: Value,
    created_at: String,
    /// The last run; `null` before the first and for a disabled check.
    #[schema(value_type = Option<crate::noc::status::CheckStatus>)]
    status: Option<CheckStatus>,
}

/// The body of `POST /api/v1/checks`, for the OpenAPI document only.
#[allow(dead_code)]
pub struct CheckInput;

impl utoipa::PartialSchema for CheckInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::openapi::foreign::check_input()
    }
}

impl ToSchema for CheckInput {}

impl CheckView {
    /// The check with its status, looked up under the check's own tenant.
    fn new(c: Check, noc: &Noc) -> Self {
        let mut spec = c.record.spec;
        redact_fields(&mut spec, CHECK_SECRET_FIELDS);
        CheckView {
            status: noc.check_status(c.tenant, c.id),
            id: c.id,
            asset: c.record.asset,
            kind: c.record.kind,
            target: c.record.target,
            interval_seconds: c.record.interval_ms as f64 / 1000.0,
            enabled: c.record.enabled,
            spec,
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/checks", tag = "checks", params(TenantParam),
    request_body(content = CheckInput, description = "`asset`, `kind`, `target`, `interval` (`30s`), optional `timeout`, `retries`, `enabled`, and the kind's own settings"),
    responses((status = 201, description = "Created", body = CheckView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<CheckView>), ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    for field in CHECK_SECRET_FIELDS {
        if body.get(*field).and_then(Value::as_str) == Some(SHOWN) {
            return Err(ApiError::bad_request(format!(
                "{field}: give the value; \"{SHOWN}\" only stands for one already stored"
            )));
        }
    }
    let record = check_record(body).map_err(ApiError::bad_request)?;
    judge_literals(&app, tenant.id, &record)?;
    let check = app.inventory.create_check(tenant.id, &record).await?;
    app.noc.inventory_changed();
    Ok((StatusCode::CREATED, Json(CheckView::new(check, &app.noc))))
}

#[utoipa::path(get, path = "/api/v1/checks", tag = "checks", params(TenantParam),
    responses((status = 200, description = "The checks with their status", body = Vec<CheckView>)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
) -> Result<Json<Vec<CheckView>>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let checks = app.inventory.list_checks(Some(tenant.id)).await?;
    let views = checks.into_iter().map(|c| CheckView::new(c, &app.noc));
    Ok(Json(views.collect()))
}

#[utoipa::path(get, path = "/api/v1/checks/{check}", tag = "checks", params(("check" = i64, Path, description = "The check's id"), TenantParam),
    responses((status = 200, description = "The check with its status", body = CheckView)))]
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
    Ok(Json(CheckView::new(check, &app.noc)))
}

#[utoipa::path(patch, path = "/api/v1/checks/{check}", tag = "checks", params(("check" = i64, Path, description = "The check's id"), TenantParam),
    request_body(content = Object, description = "The keys to replace"),
    responses((status = 200, description = "The check as changed", body = CheckView)))]
/// A partial update: the keys given replace the check's.
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
    JsonBody(mut patch): JsonBody<Map<String, Value>>,
) -> Result<Json<CheckView>, ApiError> {
    keep_unchanged_secrets(&mut patch, CHECK_SECRET_FIELDS);
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
    judge_literals(&app, tenant.id, &record)?;
    let check = app.inventory.update_check(tenant.id, id, &record).await?;
    if !check.record.enabled {
        app.noc.forget_status(check.id);
    }
    app.noc.inventory_changed();
    Ok(Json(CheckView::new(check, &app.noc)))
}

/// A target written as an address in a network the tenant's checks may
/// not reach is refused at once (a name is judged at every run).
fn judge_literals(
    app: &AppState,
    tenant: vigil_core::TenantId,
    record: &vigil_store::state::CheckRecord,
) -> Result<(), ApiError> {
    let Value::Object(spec) = &record.spec else {
        return Ok(());
    };
    let policy = app.noc.policy(tenant);
    // The setting that names the refused peer.
    let field = match record.kind.as_str() {
        "http" => "url",
        "dns" => "server",
        _ => "target",
    };
    crate::noc::guard::judge_literals(&record.kind, spec, &policy).map_err(|e| {
        // A denial reads "target 192.0.2.1 is in ...": named already.
        match e.starts_with(field) {
            true => ApiError::bad_request(e),
            false => ApiError::bad_request(format!("{field}: {e}")),
        }
    })
}

#[utoipa::path(delete, path = "/api/v1/checks/{check}", tag = "checks", params(("check" = i64, Path, description = "The check's id"), TenantParam),
    responses((status = 204, description = "Deleted")))]
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
    // Only after the store found the check under the caller's tenant.
    app.noc.forget_status(id);
    app.noc.inventory_changed();
    Ok(StatusCode::NO_CONTENT)
}
