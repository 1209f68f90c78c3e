//! `/api/v1/tenants`: the client networks.

use super::JsonBody;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vigil_core::TenantName;
use vigil_store::state::Tenant;

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    pub id: i64,
    pub name: String,
    pub retention_days: u32,
    pub created_at: String,
    /// The tenant's alert window (`2h`), when it set one (see
    /// [`UpdateTenant`]); shown on one tenant, not in the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_window: Option<String>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        TenantView {
            id: t.id.0,
            name: t.name.to_string(),
            retention_days: t.retention_days,
            created_at: t.created_at.to_rfc3339(),
            alert_window: None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    retention_days: Option<u32>,
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, description = "Created", body = TenantView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    caller.require(Action::AdministerMsp)?;
    let name = TenantName::new(&body.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let days = body
        .retention_days
        .unwrap_or(app.config.retention.default_days);
    let tenant = app.state.create_tenant(&name, days).await?;
    tracing::info!(tenant = %tenant.name, "tenant created");
    Ok((StatusCode::CREATED, Json(tenant.into())))
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants",
    responses((status = 200, description = "The tenants", body = Vec<TenantView>)))]
/// The tenants the caller may see.
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TenantView>>, ApiError> {
    let tenants = app.state.list_tenants().await?;
    Ok(Json(
        tenants
            .into_iter()
            .filter(|t| caller.can_see(t.id))
            .map(TenantView::from)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{name}", tag = "tenants", params(("name" = String, Path, description = "The tenant's name")),
    responses((status = 200, description = "The tenant", body = TenantView)))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = caller.tenant(&app, Some(&name), Action::Read).await;
    // An ingest-only token may still look at its own tenant's record.
    let tenant = match tenant {
        Err(e) if e.status == StatusCode::FORBIDDEN => caller
            .tenant(&app, Some(&name), Action::Ingest)
            .await
            .map_err(|_| e)?,
        other => other?,
    };
    with_alert_window(&app, tenant).await
}

/// The view of one tenant, with its alert window.
async fn with_alert_window(app: &AppState, tenant: Tenant) -> Result<Json<TenantView>, ApiError> {
    let window = app.detections.alert_window(tenant.id).await?;
    let mut view = TenantView::from(tenant);
    view.alert_window = window.map(|w| format!("{}s", w / 1_000_000));
    Ok(Json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    retention_days: Option<u32>,
    /// How long an open alert absorbs hits of the same rule and entities
    /// after its last one: `30m`, `24h`, `7d` (1m to 366d), or `default`
    /// (24 h). A rule's own `vigil: alert_window:` comes first.
    alert_window: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/tenants/{name}", tag = "tenants", params(("name" = String, Path, description = "The tenant's name")),
    request_body = UpdateTenant,
    responses((status = 200, description = "The tenant as changed", body = TenantView)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = caller
        .tenant(&app, Some(&name), Action::AdministerTenant)
        .await?;
    if let Some(days) = body.retention_days {
        if days == 0 {
            return Err(ApiError::bad_request("retention_days must be at least 1"));
        }
        app.state.set_retention(tenant.id, days).await?;
    }
    if let Some(text) = body.alert_window.as_deref() {
        let window = match text {
            "default" => None,
            text => Some(
                vigil_sigma::correlation::parse_timespan(text)
                    .map_err(|e| ApiError::bad_request(format!("alert_window: {e}")))?,
            ),
        };
        app.detections.set_alert_window(tenant.id, window).await?;
    }
    let tenant = app
        .state
        .tenant(tenant.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tenant is named {name:?}")))?;
    with_alert_window(&app, tenant).await
}
