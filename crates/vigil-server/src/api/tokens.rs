//! `/api/v1/tokens`: API tokens, scoped to one tenant and a role.

use super::JsonBody;
use super::TenantParam;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vigil_core::Timestamp;
use vigil_store::state::{NewToken, Role, TokenInfo};

/// Longest `expires_in_days` accepted: a century, as for retention.
const MAX_EXPIRES_IN_DAYS: u32 = 36_500;

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    tenant: String,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    label: Option<String>,
    /// Days until the token stops authenticating; it lasts until revoked
    /// when absent.
    expires_in_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret: shown this once, stored only as a hash.
    token: String,
    id: i64,
    tenant: String,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    id: i64,
    #[schema(schema_with = crate::api::openapi::foreign::role)]
    role: Role,
    label: Option<String>,
    created_at: String,
    /// Only for a token that expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        TokenView {
            id: t.id,
            role: t.role,
            label: t.label,
            created_at: t.created_at.to_rfc3339(),
            expires_at: t.expires_at.map(Timestamp::to_rfc3339),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, description = "Created: the secret is shown this once", body = CreatedToken)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    if !body.role.is_token_role() {
        return Err(ApiError::bad_request(format!(
            "role {:?} is a user role; a token's role is ingest, read or admin",
            body.role.as_str()
        )));
    }
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days @ 1..=MAX_EXPIRES_IN_DAYS) => Some(Timestamp(
            Timestamp::now().micros() + i64::from(days) * MICROS_PER_DAY,
        )),
        Some(days) => {
            return Err(ApiError::bad_request(format!(
                "expires_in_days must be 1 to {MAX_EXPIRES_IN_DAYS}, got {days}"
            )))
        }
    };
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
            expires_at,
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
            expires_at: info.expires_at.map(Timestamp::to_rfc3339),
        }),
    ))
}

/// A tenant's API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TenantParam),
    responses((status = 200, description = "The tokens", body = Vec<TokenView>)))]
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

/// Revokes a token of the tenant at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "The token's id"), TenantParam),
    responses((status = 204, description = "Revoked")))]
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
