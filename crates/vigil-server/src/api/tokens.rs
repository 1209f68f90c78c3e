//! `/api/v1/tokens`: API tokens, scoped to one tenant and a role.

use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use vigil_store::state::{NewToken, Role, TokenInfo};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    tenant: String,
    role: Role,
    label: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedToken {
    /// The secret: shown this once, stored only as a hash.
    token: String,
    id: i64,
    tenant: String,
    role: Role,
}

#[derive(Serialize)]
pub struct TokenView {
    id: i64,
    role: Role,
    label: Option<String>,
    created_at: String,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        TokenView {
            id: t.id,
            role: t.role,
            label: t.label,
            created_at: t.created_at.to_rfc3339(),
        }
    }
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    if !body.role.is_token_role() {
        return Err(ApiError::bad_request(format!(
            "role {:?} is a user role; a token's role is ingest, read or admin",
            body.role.as_str()
        )));
    }
    let tenant = caller
        .tenant(&app, Some(&body.tenant), Action::AdministerTenant)
        .await?;
    let (info, token) = app
        .state
        .create_token(NewToken {
            role: body.role,
            tenant: Some(tenant.id),
            user_id: None,
            label: body.label,
        })
        .await?;
    tracing::info!(tenant = %tenant.name, role = body.role.as_str(), id = info.id, "token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            id: info.id,
            tenant: tenant.name.to_string(),
            role: info.role,
        }),
    ))
}

#[derive(Deserialize)]
pub struct TenantParam {
    tenant: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<TenantParam>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::AdministerTenant)
        .await?;
    let tokens = app.state.list_tokens(Some(tenant.id)).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller
        .tenant(&app, params.tenant.as_deref(), Action::AdministerTenant)
        .await?;
    let owned = app.state.list_tokens(Some(tenant.id)).await?;
    if !owned.iter().any(|t| t.id == id) {
        return Err(ApiError::not_found(format!(
            "tenant {} has no token {id}",
            tenant.name
        )));
    }
    app.state.revoke_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
