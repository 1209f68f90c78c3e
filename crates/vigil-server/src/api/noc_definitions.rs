//! `/api/v1/maintenance-windows` and `/api/v1/noc-rules`: how a tenant
//! tunes its NOC (see `noc::definitions` for what the documents say).
//!
//! Both are kept by whoever keeps the inventory (NOC operators, tenant and
//! MSP admins) and read by anyone who may read the tenant. A change reaches
//! the tenant's engine at once: windows hold alerts back from the next
//! judgement on, and changed rules rebuild the engine, closing the alerts of
//! the rules that went or changed, with that reason.

use super::JsonBody;
use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::noc::definitions::{object, rule_from_json, window_from_json, RuleDocument};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use vigil_core::{TenantId, Timestamp};
use vigil_noc::Schedule;
use vigil_store::state::{Definition, DefinitionKind};

/// A window as shown: the document, whether it is open now, and a
/// one-off window's times as RFC 3339 too.
#[derive(Serialize, ToSchema)]
pub struct WindowView {
    /// The document as given: `id`, `scope`, `schedule`...
    #[serde(flatten)]
    #[schema(ignore)]
    window: Map<String, Value>,
    open_now: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    updated_at: String,
}

fn window_view(def: Definition) -> Result<WindowView, ApiError> {
    let updated_at = def.updated_at.to_rfc3339();
    let map = object(def.spec).map_err(ApiError::internal)?;
    let window = window_from_json(map.clone(), Timestamp::now()).map_err(ApiError::internal)?;
    let now_ms = Timestamp::now().micros() / 1000;
    let rfc3339 = |ms: i64| Timestamp(ms.saturating_mul(1000)).to_rfc3339();
    let (starts_at, ends_at) = match window.schedule {
        Schedule::Once { start_ms, end_ms } => (Some(rfc3339(start_ms)), Some(rfc3339(end_ms))),
        Schedule::Weekly { .. } => (None, None),
    };
    Ok(WindowView {
        window: map,
        open_now: window.is_open(now_ms),
        starts_at,
        ends_at,
        updated_at,
    })
}

/// A rule as the tenant's engine sees it.
#[derive(Serialize, ToSchema)]
pub struct RuleView {
    id: String,
    /// `built-in`, `tenant`, or `tenant, replacing the built-in`.
    origin: &'static str,
    enabled: bool,
    /// `null` for a built-in switched off.
    #[schema(value_type = Option<Object>)]
    rule: Option<vigil_noc::RuleSpec>,
}

fn rule_view(doc: RuleDocument) -> RuleView {
    RuleView {
        origin: if doc.replaces_builtin() {
            "tenant, replacing the built-in"
        } else {
            "tenant"
        },
        id: doc.id,
        enabled: doc.enabled,
        rule: doc.rule,
    }
}

async fn tenant_of(
    app: &AppState,
    caller: &Caller,
    params: &TenantParam,
    action: Action,
) -> Result<TenantId, ApiError> {
    Ok(caller
        .tenant(app, params.tenant.as_deref(), action)
        .await?
        .id)
}

/// The id in the body, or the path's when the body has none; they must
/// agree (renaming is delete and create).
fn with_id(mut doc: Map<String, Value>, id: &str) -> Result<Map<String, Value>, ApiError> {
    match doc.get("id") {
        None => {
            doc.insert("id".into(), id.into());
            Ok(doc)
        }
        Some(Value::String(given)) if given == id => Ok(doc),
        Some(given) => Err(ApiError::bad_request(format!(
            "the body's id {given} is not the path's {id:?}"
        ))),
    }
}

fn read_window(doc: Map<String, Value>) -> Result<(String, Value), ApiError> {
    let now = Timestamp::now();
    let window = window_from_json(doc, now).map_err(ApiError::bad_request)?;
    if let Schedule::Once { end_ms, .. } = window.schedule {
        if end_ms <= now.micros() / 1000 {
            return Err(ApiError::bad_request(format!(
                "maintenance window {:?} ends in the past",
                window.id
            )));
        }
    }
    let stored = serde_json::to_value(&window).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((window.id, stored))
}

#[utoipa::path(get, path = "/api/v1/maintenance-windows", tag = "noc", params(TenantParam),
    responses((status = 200, description = "The windows", body = Vec<WindowView>)))]
pub async fn list_windows(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
) -> Result<Json<Vec<WindowView>>, ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Read).await?;
    let defs = app
        .inventory
        .list_definitions(tenant, DefinitionKind::Window)
        .await?;
    Ok(Json(
        defs.into_iter()
            .map(window_view)
            .collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(get, path = "/api/v1/maintenance-windows/{window}", tag = "noc", params(("window" = String, Path, description = "The window's id"), TenantParam),
    responses((status = 200, description = "The window", body = WindowView)))]
pub async fn show_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<Json<WindowView>, ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Read).await?;
    let def = app
        .inventory
        .list_definitions(tenant, DefinitionKind::Window)
        .await?
        .into_iter()
        .find(|d| d.name == id)
        .ok_or_else(|| ApiError::not_found(format!("no maintenance window {id:?}")))?;
    Ok(Json(window_view(def)?))
}

/// A maintenance window: alerts of its scope are held back while open.
#[utoipa::path(post, path = "/api/v1/maintenance-windows", tag = "noc", params(TenantParam),
    request_body(content = Object, description = "`id`, `scope` (`{\"all\": true}`, assets, tags), `schedule` (`once` with `start`/`end`, or `weekly`)"),
    responses((status = 201, description = "Created", body = WindowView)))]
pub async fn create_window(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<WindowView>), ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Inventory).await?;
    let (id, stored) = read_window(body)?;
    let def = app
        .inventory
        .create_definition(tenant, DefinitionKind::Window, &id, &stored)
        .await?;
    app.noc.inventory_changed();
    Ok((StatusCode::CREATED, Json(window_view(def)?)))
}

#[utoipa::path(put, path = "/api/v1/maintenance-windows/{window}", tag = "noc", params(("window" = String, Path, description = "The window's id"), TenantParam),
    request_body(content = Object, description = "The whole window; its `id`, if given, is the path's"),
    responses((status = 200, description = "The window as replaced", body = WindowView)))]
pub async fn replace_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<WindowView>, ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Inventory).await?;
    let (_, stored) = read_window(with_id(body, &id)?)?;
    let def = app
        .inventory
        .replace_definition(tenant, DefinitionKind::Window, &id, &stored)
        .await?;
    app.noc.inventory_changed();
    Ok(Json(window_view(def)?))
}

#[utoipa::path(delete, path = "/api/v1/maintenance-windows/{window}", tag = "noc", params(("window" = String, Path, description = "The window's id"), TenantParam),
    responses((status = 204, description = "Deleted")))]
pub async fn remove_window(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    remove(&app, &caller, &params, DefinitionKind::Window, &id).await
}

async fn remove(
    app: &AppState,
    caller: &Caller,
    params: &TenantParam,
    kind: DefinitionKind,
    id: &str,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(app, caller, params, Action::Inventory).await?;
    app.inventory.delete_definition(tenant, kind, id).await?;
    app.noc.inventory_changed();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/noc-rules", tag = "noc", params(TenantParam),
    responses((status = 200, description = "The rules", body = Vec<RuleView>)))]
/// Every rule of the tenant's engine and every switched-off one: the
/// built-ins the tenant did not touch, then the tenant's documents.
pub async fn list_rules(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Read).await?;
    let documents = rule_documents(&app, tenant).await?;
    let mut views: Vec<RuleView> = vigil_noc::builtin_rules()
        .into_iter()
        .filter(|r| documents.iter().all(|d| d.id != r.id))
        .map(|rule| RuleView {
            id: rule.id.clone(),
            origin: "built-in",
            enabled: true,
            rule: Some(rule),
        })
        .collect();
    views.extend(documents.into_iter().map(rule_view));
    Ok(Json(views))
}

async fn rule_documents(app: &AppState, tenant: TenantId) -> Result<Vec<RuleDocument>, ApiError> {
    let defs = app
        .inventory
        .list_definitions(tenant, DefinitionKind::Rule)
        .await?;
    defs.into_iter()
        .map(|d| {
            object(d.spec)
                .and_then(rule_from_json)
                .map_err(ApiError::internal)
        })
        .collect()
}

fn read_rule(doc: Map<String, Value>) -> Result<RuleDocument, ApiError> {
    rule_from_json(doc).map_err(ApiError::bad_request)
}

/// A NOC rule of the tenant's own, or a built-in replaced or switched off.
#[utoipa::path(post, path = "/api/v1/noc-rules", tag = "noc", params(TenantParam),
    request_body(content = Object, description = "`id`, `enabled`, and the rule (`severity`, `title`, `condition`...)"),
    responses((status = 201, description = "Created", body = RuleView)))]
pub async fn create_rule(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Inventory).await?;
    let doc = read_rule(body)?;
    app.inventory
        .create_definition(tenant, DefinitionKind::Rule, &doc.id, &doc.to_json())
        .await?;
    app.noc.inventory_changed();
    Ok((StatusCode::CREATED, Json(rule_view(doc))))
}

#[utoipa::path(put, path = "/api/v1/noc-rules/{noc_rule}", tag = "noc", params(("noc_rule" = String, Path, description = "The rule's id"), TenantParam),
    request_body(content = Object, description = "The whole rule document; its `id`, if given, is the path's"),
    responses((status = 200, description = "The rule as replaced", body = RuleView)))]
pub async fn replace_rule(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<RuleView>, ApiError> {
    let tenant = tenant_of(&app, &caller, &params, Action::Inventory).await?;
    let doc = read_rule(with_id(body, &id)?)?;
    app.inventory
        .replace_definition(tenant, DefinitionKind::Rule, &id, &doc.to_json())
        .await?;
    app.noc.inventory_changed();
    Ok(Json(rule_view(doc)))
}

#[utoipa::path(delete, path = "/api/v1/noc-rules/{noc_rule}", tag = "noc", params(("noc_rule" = String, Path, description = "The rule's id"), TenantParam),
    responses((status = 204, description = "Deleted")))]
/// Deletes the tenant's document: its own rule goes, a replaced or
/// switched-off built-in comes back as shipped.
pub async fn remove_rule(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    remove(&app, &caller, &params, DefinitionKind::Rule, &id).await
}
