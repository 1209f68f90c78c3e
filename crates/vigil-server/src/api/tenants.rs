//! `/api/v1/tenants`: the client networks.

use super::JsonBody;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use vigil_core::TenantName;
use vigil_store::state::Tenant;

#[derive(Serialize)]
pub struct TenantView {
    pub id: i64,
    pub name: String,
    pub retention_days: u32,
    pub created_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        TenantView {
            id: t.id.0,
            name: t.name.to_string(),
            retention_days: t.retention_days,
            created_at: t.created_at.to_rfc3339(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    retention_days: Option<u32>,
}

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
    Ok(Json(tenant.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    retention_days: Option<u32>,
}

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
    let tenant = app
        .state
        .tenant(tenant.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tenant is named {name:?}")))?;
    Ok(Json(tenant.into()))
}
