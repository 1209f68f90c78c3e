//! `/api/v1/assets`: a tenant's hosts, devices and services, each with the
//! asset in front of it (its parent).

use super::JsonBody;
use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::inventory::AssetInput;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vigil_store::state::{Asset, Criticality};

#[derive(Serialize, ToSchema)]
pub struct AssetView {
    id: i64,
    name: String,
    address: String,
    kind: String,
    tags: Vec<String>,
    #[schema(schema_with = crate::api::openapi::foreign::criticality)]
    criticality: Criticality,
    parent: Option<String>,
    created_at: String,
}

impl From<Asset> for AssetView {
    fn from(a: Asset) -> Self {
        AssetView {
            id: a.id,
            name: a.spec.name,
            address: a.spec.address,
            kind: a.spec.kind,
            tags: a.spec.tags,
            criticality: a.spec.criticality,
            parent: a.spec.parent,
            created_at: a.created_at.to_rfc3339(),
        }
    }
}

/// A partial update: the fields given replace the asset's.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetPatch {
    name: Option<String>,
    address: Option<String>,
    kind: Option<String>,
    tags: Option<Vec<String>>,
    criticality: Option<String>,
    /// `null` removes the parent.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    parent: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[utoipa::path(post, path = "/api/v1/assets", tag = "assets", params(TenantParam),
    request_body = AssetInput,
    responses((status = 201, description = "Created", body = AssetView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
    JsonBody(body): JsonBody<AssetInput>,
) -> Result<(StatusCode, Json<AssetView>), ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    let spec = body.to_spec().map_err(ApiError::bad_request)?;
    let asset = app.inventory.create_asset(tenant.id, &spec).await?;
    app.noc.inventory_changed();
    Ok((StatusCode::CREATED, Json(asset.into())))
}

#[utoipa::path(get, path = "/api/v1/assets", tag = "assets", params(TenantParam),
    responses((status = 200, description = "The assets", body = Vec<AssetView>)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
) -> Result<Json<Vec<AssetView>>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let assets = app.inventory.list_assets(tenant.id).await?;
    Ok(Json(assets.into_iter().map(AssetView::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/assets/{asset}", tag = "assets", params(("asset" = String, Path, description = "The asset's name"), TenantParam),
    responses((status = 200, description = "The asset", body = AssetView)))]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<Json<AssetView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Read)
        .await?;
    let asset = app
        .inventory
        .asset(tenant.id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {name:?}")))?;
    Ok(Json(asset.into()))
}

#[utoipa::path(patch, path = "/api/v1/assets/{asset}", tag = "assets", params(("asset" = String, Path, description = "The asset's name"), TenantParam),
    request_body = AssetPatch,
    responses((status = 200, description = "The asset as changed", body = AssetView)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Query<TenantParam>,
    JsonBody(patch): JsonBody<AssetPatch>,
) -> Result<Json<AssetView>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    let current = app
        .inventory
        .asset(tenant.id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset {name:?}")))?
        .spec;
    let mut spec = current.clone();
    spec.name = patch.name.unwrap_or(current.name);
    spec.address = patch.address.unwrap_or(current.address);
    spec.kind = patch.kind.unwrap_or(current.kind);
    spec.tags = patch.tags.unwrap_or(current.tags);
    if let Some(c) = patch.criticality {
        spec.criticality = Criticality::parse(&c)?;
    }
    if let Some(parent) = patch.parent {
        spec.parent = parent;
    }
    let asset = app.inventory.update_asset(tenant.id, &name, &spec).await?;
    app.noc.inventory_changed();
    Ok(Json(asset.into()))
}

#[utoipa::path(delete, path = "/api/v1/assets/{asset}", tag = "assets", params(("asset" = String, Path, description = "The asset's name"), TenantParam),
    responses((status = 204, description = "Deleted")))]
pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::Inventory)
        .await?;
    app.inventory.delete_asset(tenant.id, &name).await?;
    app.noc.inventory_changed();
    Ok(StatusCode::NO_CONTENT)
}
